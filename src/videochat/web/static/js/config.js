// What the server tells the page rather than the page copying it (web/pages.py, PageConfig): the
// limits of its settings and the error codes the page acts on (model/errors.py), read once from
// the JSON every template embeds. Modules without DOM (protocol.js, peers.js, validate.js) are
// handed the parts they need; only the page modules import this one.

import { byId } from "./dom.js";

/**
 * The server's limits: lengths in code points (room, nickname, message, password), the largest
 * member cap an owner may set, the call's size and each browser's upload budget in a call, the
 * largest file in the chat in bytes (0: the server takes no files), and on the SFU the most people
 * whose camera video a page receives (--last-n; 0: everyone's).
 * @typedef {{room: number, nickname: number, message: number, password: number, members: number,
 *     callSize: number, uploadBudgetKbps: number, fileBytes: number, lastN: number}} Limits
 */
/**
 * Error codes the page acts on: `password`, the room asks for its password (again); `entry`, the
 * room itself refuses us (those, and a full room or a ban).
 * @typedef {{password: string[], entry: string[]}} ErrorGroups
 */
/**
 * @typedef {{limits: Limits, errors: ErrorGroups, reactions: string[], room?: string}} PageConfig
 *     room: on a room's page, its name; reactions: the emoji a call participant may send
 */

/** @type {PageConfig} */
export const config = JSON.parse(byId("page-config").textContent ?? "");

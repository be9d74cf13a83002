// Raised hands (docs/protocol.md, `raise_hand`): the call bar's button (and the H key), a hand on
// the tiles and in the people list with its place in the queue, and for the room's owner a button
// that lowers it. The state is the connection's (protocol.js, "hands"); this module only shows it.

import { listenToShortcuts } from "./controls.js";
import { el } from "./dom.js";
import { errorText, t } from "./i18n.js";
import { SELF } from "./tiles.js";

/** @typedef {import("./protocol.js").Hand} Hand */

export class HandsView {
    /** @type {Hand[]} the first raised first */
    #hands = [];

    /**
     * @param {import("./protocol.js").ChatConnection} connection
     * @param {{button: HTMLButtonElement, members: import("./members.js").MemberList,
     *     grid: import("./tiles.js").CallGrid, chat: import("./chat.js").ChatLog,
     *     isOwner: () => boolean, inCall: () => boolean, room: () => string}} parts
     */
    constructor(connection, parts) {
        this.connection = connection;
        this.parts = parts;
        parts.members.addPart((member) => this.#memberPart(member.id));
        parts.button.addEventListener("click", () => this.toggle());
        listenToShortcuts({ h: () => parts.inCall() && this.toggle() });
        connection.on("hands", ({ hands, changed, by }) => {
            const you = connection.you?.id;
            if (changed && changed === you && by && by.id !== you) {
                parts.chat.addNotice(t("notice_hand_lowered", { name: by.nickname }), "info");
            }
            this.#hands = hands;
            this.#render();
        });
    }

    /** Raises our hand, or lowers it. */
    async toggle() {
        const raised = this.#place(this.connection.you?.id ?? "") > 0;
        try {
            await this.connection.raiseHand(!raised);
        } catch (error) {
            this.parts.chat.addNotice(errorText(error), "error");
        }
    }

    /** @param {string} id @returns {number} 1 for the first raised hand, 0 for a hand down */
    #place(id) {
        return this.#hands.findIndex((hand) => hand.id === id) + 1;
    }

    #render() {
        const { button, grid, members } = this.parts;
        const you = this.connection.you?.id ?? "";
        const raised = this.#place(you) > 0;
        button.setAttribute("aria-pressed", String(raised));
        button.textContent = t(raised ? "lower_hand" : "raise_hand");
        button.title = t("with_shortcut", { action: button.textContent, key: "H" });
        grid.setHands(new Map(this.#hands.map(({ id }, index) => [id === you ? SELF : id, index + 1])));
        members.refresh();
    }

    /**
     * Our part of a member's item in the people list: the hand and its place in the queue; for the
     * owner, a button that lowers it.
     * @param {string} id
     */
    #memberPart(id) {
        const place = this.#place(id);
        if (!place) return { data: { hand: "" } };
        const member = this.parts.members.get(id);
        const label = t("hand_raised_place", { count: place });
        const nodes = [el("span", { className: "member-hand", text: `✋ ${place}`, attrs: { role: "img", "aria-label": label, title: label } })];
        if (this.parts.isOwner()) {
            const lower = el("button", {
                className: "button small member-lower-hand",
                text: t("lower_hand"),
                attrs: { type: "button", "aria-label": t("lower_hand_of", { name: member?.nickname ?? "" }) },
            });
            lower.addEventListener("click", async () => {
                try {
                    await this.connection.lowerHand(this.parts.room(), id);
                } catch (error) {
                    this.parts.chat.addNotice(errorText(error), "error");
                }
            });
            nodes.push(lower);
        }
        return { nodes, data: { hand: String(place) } };
    }
}

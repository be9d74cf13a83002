// Who is in the room: the member list (#members) and the count in the title. (The call's tiles are
// tiles.js: not everyone in the room is in the call.) This module alone draws the list; another
// that shows something on each member (moderation.js: the owner's badge and actions) adds a part.

import { avatar, el, namesakeTag, userText } from "./dom.js";
import { Emitter } from "./events.js";
import { memberCount, t } from "./i18n.js";
import { namesakeTags } from "./names.js";

/** @typedef {import("./protocol.js").Member} Member */
/**
 * What another module shows on a member's item, asked for every member at every redraw: `nodes` go
 * at the end of the item, `data` become its data-* attributes.
 * @typedef {(member: Member) => {nodes?: Node[], data?: Record<string, string>}} ItemPart
 */
/**
 * What a MemberList tells (Emitter), by event name, with the `detail` each carries:
 * @typedef {object} MemberEvents
 * @property {Map<string, string>} tags after each change: the tags of members who share a name
 *     with another member (names.js), id -> tag
 */

/** @extends {Emitter<MemberEvents>} */
export class MemberList extends Emitter {
    /** @type {Map<string, Member>} id -> member, in order of arrival */
    #members = new Map();
    #you = "";
    /** @type {ItemPart[]} */
    #parts = [];
    /** Tags of members who share a name with another member (names.js): id -> tag. */
    tags = new Map();

    /**
     * @param {{list: HTMLElement, count: HTMLElement}} elements
     */
    constructor(elements) {
        super();
        this.elements = elements;
    }

    /**
     * Replaces everything with the members from an enter_room ack (and shows the count again).
     * @param {Member[]} members
     * @param {Member} you
     */
    reset(members, you) {
        this.#members = new Map(members.map((member) => [member.id, member]));
        this.#you = you.id;
        this.elements.count.hidden = false;
        this.#render();
    }

    /** Out of the room (the door is shown): the count in the title would be stale. */
    hideCount() {
        this.elements.count.hidden = true;
    }

    /** @param {string} id */
    has(id) {
        return this.#members.has(id);
    }

    /** @param {string} id @returns {Member | undefined} */
    get(id) {
        return this.#members.get(id);
    }

    /** @param {Member} member */
    add(member) {
        this.#members.set(member.id, member);
        this.#render();
    }

    /** @param {Member} member */
    remove(member) {
        this.#members.delete(member.id);
        this.#render();
    }

    /** @param {Member} member the member with its new nickname */
    rename(member) {
        if (!this.#members.has(member.id)) return;
        this.#members.set(member.id, member);
        this.#render();
    }

    /** Shows another module's part on every member, from now on. @param {ItemPart} part */
    addPart(part) {
        this.#parts.push(part);
        this.#render();
    }

    /** Draws the list again: what a part shows has changed. */
    refresh() {
        this.#render();
    }

    #render() {
        const { list, count } = this.elements;
        const members = [...this.#members.values()];
        this.tags = namesakeTags(members);
        list.replaceChildren(...members.map((member) => this.#item(member)));
        count.textContent = memberCount(members.length);
        count.dataset.count = String(members.length);
        this.dispatch("tags", this.tags);
    }

    /** @param {Member} member */
    #item(member) {
        const you = member.id === this.#you;
        const children = [avatar(member.nickname), userText("span", "member-name", member.nickname),
            ...namesakeTag(this.tags.get(member.id), member.nickname)];
        if (you) children.push(el("span", { className: "you-marker", text: t("you_marker") }));
        const item = el("li", {
            className: you ? "member you" : "member",
            attrs: { "data-id": member.id, "data-nickname": member.nickname },
        }, children);
        for (const part of this.#parts) {
            const { nodes = [], data = {} } = part(member);
            Object.assign(item.dataset, data);
            item.append(...nodes);
        }
        return item;
    }
}

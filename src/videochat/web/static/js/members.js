// Who is in the room: the member list (#members) and the count in the title. (The call's tiles are
// tiles.js: not everyone in the room is in the call.)

import { avatar, el, namesakeTag, userText } from "./dom.js";
import { memberCount, t } from "./i18n.js";
import { namesakeTags } from "./names.js";

export class MemberList {
    /** @type {Map<string, import("./protocol.js").Member>} id -> member, in order of arrival */
    #members = new Map();
    #you = "";
    /** Tags of members who share a name with another member (names.js): id -> tag. */
    tags = new Map();
    /** Called after each change with the tags. @type {((tags: Map<string, string>) => void) | null} */
    ontags = null;

    /**
     * @param {{list: HTMLElement, count: HTMLElement}} elements
     */
    constructor(elements) {
        this.elements = elements;
    }

    /**
     * Replaces everything with the members from an enter_room ack.
     * @param {import("./protocol.js").Member[]} members
     * @param {import("./protocol.js").Member} you
     */
    reset(members, you) {
        this.#members = new Map(members.map((member) => [member.id, member]));
        this.#you = you.id;
        this.#render();
    }

    /** @param {string} id */
    has(id) {
        return this.#members.has(id);
    }

    /** @param {import("./protocol.js").Member} member */
    add(member) {
        this.#members.set(member.id, member);
        this.#render();
    }

    /** @param {import("./protocol.js").Member} member */
    remove(member) {
        this.#members.delete(member.id);
        this.#render();
    }

    /** @param {import("./protocol.js").Member} member the member with its new nickname */
    rename(member) {
        if (!this.#members.has(member.id)) return;
        this.#members.set(member.id, member);
        this.#render();
    }

    #render() {
        const { list, count } = this.elements;
        const members = [...this.#members.values()];
        this.tags = namesakeTags(members);
        list.replaceChildren(...members.map((member) => this.#item(member)));
        count.textContent = memberCount(members.length);
        count.dataset.count = String(members.length);
        this.ontags?.(this.tags);
    }

    #item(member) {
        const you = member.id === this.#you;
        const children = [avatar(member.nickname), userText("span", "member-name", member.nickname),
            ...namesakeTag(this.tags.get(member.id), member.nickname)];
        if (you) children.push(el("span", { className: "you-marker", text: t("you_marker") }));
        return el("li", {
            className: you ? "member you" : "member",
            attrs: { "data-id": member.id, "data-nickname": member.nickname },
        }, children);
    }
}

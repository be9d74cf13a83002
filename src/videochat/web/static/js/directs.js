// Direct messages (docs/protocol.md, `direct_message`): a "Message privately" button on each other
// person in the people list, and above the message box whom the next message goes to, with a way
// back to everyone (the × button, or Escape in the box). Sending and showing are the room page's
// (room.js) and the chat log's (chat.js); this module owns whom we write to.

import { el, userText } from "./dom.js";
import { Emitter } from "./events.js";
import { t } from "./i18n.js";

/** @typedef {import("./protocol.js").Member} Member */
/**
 * What a DirectMessages tells (Emitter):
 * @typedef {object} DirectEvents
 * @property {Member | null} target whom the next message goes to changed (null: everyone)
 */

/** @extends {Emitter<DirectEvents>} */
export class DirectMessages extends Emitter {
    /** @type {Member | null} */
    #target = null;

    /**
     * @param {{members: import("./members.js").MemberList, bar: HTMLElement, input: HTMLInputElement,
     *     you: () => string}} parts bar: the line above the message box that names the reader
     */
    constructor(parts) {
        super();
        this.parts = parts;
        this.placeholder = parts.input.placeholder;
        parts.members.addPart((member) => this.#memberPart(member));
        parts.input.addEventListener("keydown", (event) => {
            if (event.key === "Escape" && this.#target) {
                event.preventDefault();
                this.choose(null);
            }
        });
        this.#render();
    }

    /** Whom the next message goes to (null: everyone). */
    get target() {
        return this.#target;
    }

    /**
     * Writes to `member` from now on (null: to everyone again), and puts the cursor in the box.
     * @param {Member | null} member
     */
    choose(member) {
        this.#target = member;
        this.#render();
        this.parts.input.focus();
        this.dispatch("target", member);
    }

    /**
     * The people list changed: a reader who left (or was renamed) is followed.
     * @param {(id: string) => Member | undefined} lookup
     * @returns {Member | null} the reader who left, if one did
     */
    follow(lookup) {
        if (!this.#target) return null;
        const now = lookup(this.#target.id);
        if (now) {
            if (now.nickname !== this.#target.nickname) {
                this.#target = now;
                this.#render();
            }
            return null;
        }
        const gone = this.#target;
        this.choose(null);
        return gone;
    }

    /** @param {Member} member */
    #memberPart(member) {
        if (!member.id || member.id === this.parts.you()) return {};
        const button = el("button", {
            className: "icon-button direct-button",
            text: "✉",
            attrs: { type: "button", "aria-label": t("direct_to", { name: member.nickname }),
                title: t("direct_to", { name: member.nickname }), "aria-pressed": String(this.#target?.id === member.id) },
        });
        button.addEventListener("click", () => this.choose(this.#target?.id === member.id ? null : member));
        return { nodes: [button], data: { direct: String(this.#target?.id === member.id) } };
    }

    #render() {
        const { bar, input, members } = this.parts;
        const target = this.#target;
        bar.hidden = !target;
        input.placeholder = target ? t("direct_placeholder", { name: target.nickname }) : this.placeholder;
        input.closest("form")?.classList.toggle("direct", Boolean(target));
        if (target) {
            const back = el("button", {
                className: "icon-button direct-cancel",
                text: "×",
                attrs: { type: "button", "aria-label": t("direct_cancel"), title: t("direct_cancel") },
            });
            back.addEventListener("click", () => this.choose(null));
            bar.replaceChildren(
                el("span", { className: "direct-label", text: t("direct_label") }),
                userText("span", "direct-name", target.nickname),
                back,
            );
        }
        members.refresh();
    }
}

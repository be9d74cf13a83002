// The room owner's side of the waiting room (docs/protocol.md, "The waiting room"): who asks to
// join (#waiting-section), each with Admit and Decline, and Admit all; a knock sound and a line in
// the chat for each newcomer at the door. The newcomer's side is the door's (moderation.js).

import { el, showError, userText } from "./dom.js";
import { errorText, t } from "./i18n.js";

/** @typedef {import("./protocol.js").Knock} Knock */

export class WaitingList {
    /** @type {Knock[]} */
    #waiting = [];

    /**
     * @param {import("./protocol.js").ChatConnection} connection
     * @param {{section: HTMLElement, list: HTMLElement, admitAll: HTMLButtonElement,
     *     chat: import("./chat.js").ChatLog, sounds: import("./sounds.js").Sounds, room: () => string}} parts
     */
    constructor(connection, parts) {
        this.connection = connection;
        this.parts = parts;
        connection.on("knock", ({ room, waiting }) => {
            if (room !== parts.room()) return;
            const known = new Set(this.#waiting.map(({ id }) => id));
            const newcomers = waiting.filter(({ id }) => !known.has(id));
            for (const { nickname } of newcomers) parts.chat.addNotice(t("notice_knock", { name: nickname }), "knock");
            if (newcomers.length) parts.sounds.play("knock", false); // the owner hears it, looking or not
            this.#waiting = waiting;
            this.#render();
        });
        // no longer the owner (or out of the room): the list is not ours to answer
        connection.on("roomupdate", (update) => {
            if (update?.room === parts.room() && update.owner !== connection.you?.id) this.#clear();
        });
        parts.admitAll.addEventListener("click", () => this.#answer("*", true));
    }

    #clear() {
        this.#waiting = [];
        this.#render();
    }

    /**
     * @param {string} id a member id, or "*" for everyone waiting
     * @param {boolean} admit
     */
    async #answer(id, admit) {
        try {
            await this.connection.answerKnock(this.parts.room(), id, admit);
        } catch (error) {
            showError(errorText(error));
        }
    }

    #render() {
        const { section, list, admitAll } = this.parts;
        section.hidden = this.#waiting.length === 0;
        admitAll.hidden = this.#waiting.length < 2;
        list.replaceChildren(...this.#waiting.map(({ id, nickname }) => {
            const admit = el("button", { className: "button primary small", text: t("waiting_admit"),
                attrs: { type: "button", "aria-label": t("waiting_admit_name", { name: nickname }) } });
            const decline = el("button", { className: "button small", text: t("waiting_decline"),
                attrs: { type: "button", "aria-label": t("waiting_decline_name", { name: nickname }) } });
            admit.addEventListener("click", () => this.#answer(id, true));
            decline.addEventListener("click", () => this.#answer(id, false));
            return el("li", { className: "waiting-item", attrs: { "data-id": id } }, [
                userText("span", "waiting-name", nickname), admit, decline,
            ]);
        }));
    }
}

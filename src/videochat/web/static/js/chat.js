// The chat log (#messages): messages and notices, in time order, each message shown once.

import { el, formatTime, namesakeTag, userText } from "./dom.js";
import { fileCard } from "./files.js";
import { t } from "./i18n.js";
import { splitLinks } from "./links.js";

export class ChatLog {
    /** @type {Map<string, HTMLElement>} message id -> its element */
    #shown = new Map();
    /** @type {Map<string, string>} tags of namesakes present now (names.js): author id -> tag */
    #tags = new Map();

    /**
     * @param {HTMLElement} list the #messages list
     * @param {HTMLElement} empty shown while there is nothing in the list
     */
    constructor(list, empty) {
        this.list = list;
        this.empty = empty;
        /**
         * What a direct message's Reply button does (directs.js writes back to its author); none
         * while unset.
         * @type {((author: import("./protocol.js").Member) => void) | null}
         */
        this.onReply = null;
    }

    /**
     * Adds a message unless it is already shown (a reconnect sends the history again).
     * @param {import("./protocol.js").Message} message
     * @param {boolean} mine
     */
    addMessage(message, mine) {
        if (this.#shown.has(message.id)) return;
        const time = new Date(message.time);
        const item = el("li", {
            className: `message${mine ? " mine" : ""}${message.to ? " direct" : ""}${message.file ? " file-message" : ""}`,
            attrs: { "data-id": message.id, "data-time": String(message.time), "data-author": message.author.nickname,
                "data-author-id": message.author.id },
        }, [
            el("div", { className: "message-meta" }, [
                userText("span", "message-author", message.author.nickname),
                ...namesakeTag(this.#tags.get(message.author.id), message.author.nickname),
                el("time", { className: "message-time", text: formatTime(message.time), attrs: { datetime: time.toISOString() } }),
            ]),
            ...(message.to ? [this.#directLine(message, mine)] : []),
            message.file ? fileCard(message.file) : linkedText(message.text),
        ]);
        this.#shown.set(message.id, item);
        this.#insert(item, message.time);
    }

    /**
     * The line that marks a direct message as the two people's alone: whom it went to, and a way
     * to write back.
     * @param {import("./protocol.js").Message} message
     * @param {boolean} mine
     */
    #directLine(message, mine) {
        const line = el("div", { className: "message-direct" }, [
            mine
                ? el("span", { text: t("direct_sent_to", { name: message.to?.nickname ?? "" }) })
                : el("span", { text: t("direct_received") }),
        ]);
        if (!mine && this.onReply) {
            const reply = this.onReply;
            const button = el("button", {
                className: "link-button direct-reply",
                text: t("direct_reply"),
                attrs: { type: "button" },
            });
            button.addEventListener("click", () => reply(message.author));
            line.append(button);
        }
        return line;
    }

    /**
     * Namesakes present now (names.js): their messages show their tag, those shown already too. A
     * message keeps its tag after the namesake left: what an impostor said stays told apart.
     * @param {Map<string, string>} tags author id -> tag
     */
    tag(tags) {
        this.#tags = tags;
        for (const item of this.#shown.values()) {
            const tag = tags.get(item.dataset.authorId ?? "");
            const author = item.querySelector(".message-author");
            if (tag && author && !item.querySelector(".name-tag")) author.after(...namesakeTag(tag, author.textContent ?? ""));
        }
    }

    /**
     * Merges a room's history (oldest first): what is missing goes in at its place in time.
     * @param {import("./protocol.js").Message[]} history
     * @param {(message: import("./protocol.js").Message) => boolean} isMine
     */
    addHistory(history, isMine) {
        for (const message of history) this.addMessage(message, isMine(message));
    }

    /**
     * A line about the room itself: someone joined, left, changed name.
     * @param {string} text
     * @param {string} kind joined, left, renamed, info
     */
    addNotice(text, kind = "info") {
        const now = Date.now();
        const item = el("li", { className: `notice notice-${kind}`, attrs: { "data-time": String(now), "data-kind": kind } }, [
            el("span", { className: "notice-text", text }),
            el("time", { className: "message-time", text: formatTime(now), attrs: { datetime: new Date(now).toISOString() } }),
        ]);
        this.#insert(item, now);
    }

    /**
     * Inserts by time, keeping the view at the bottom if it was there. Notices use this browser's
     * clock and messages the server's; both are close enough to place a notice among messages.
     */
    #insert(item, time) {
        const atBottom = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 40;
        /** @type {Element | null} */
        let next = null;
        for (let node = this.list.lastElementChild; node; node = node.previousElementSibling) {
            if (Number(node.getAttribute("data-time")) <= time) break;
            next = node;
        }
        this.list.insertBefore(item, next);
        this.empty.hidden = true;
        if (atBottom || item.classList.contains("mine")) this.list.scrollTop = this.list.scrollHeight;
    }
}

/**
 * A message's text, its web addresses clickable (opened in a new tab, telling the site nothing of
 * where it came from); the rest plain text, never HTML.
 * @param {string} text
 */
function linkedText(text) {
    const paragraph = userText("p", "message-text", "");
    for (const part of splitLinks(text)) {
        paragraph.append(
            part.href
                ? el("a", { text: part.text, attrs: { href: part.href, target: "_blank", rel: "noopener noreferrer nofollow" } })
                : part.text,
        );
    }
    return paragraph;
}

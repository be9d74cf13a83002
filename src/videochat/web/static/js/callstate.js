// The call at a glance in the people list: for each person, in the call or not, and for those in
// our call what their tile shows too: muted, camera off, sharing the screen, speaking now, and how
// good their connection is (quality.js). Hands are hands.js's. This module owns one part of each
// member's item (members.js) and keeps it up to date as the tiles change (tiles.js "changed").

import { el } from "./dom.js";
import { t } from "./i18n.js";
import { SELF } from "./tiles.js";

export class CallStateView {
    /**
     * @param {import("./protocol.js").ChatConnection} connection
     * @param {{members: import("./members.js").MemberList, grid: import("./tiles.js").CallGrid}} parts
     */
    constructor(connection, parts) {
        this.connection = connection;
        this.parts = parts;
        parts.members.addPart((member) => ({ nodes: [this.#fill(el("span", { className: "member-call" }), member.id)] }));
        parts.grid.on("changed", ({ id }) => {
            const memberId = id === SELF ? connection.you?.id ?? "" : id;
            const item = [...parts.members.elements.list.children].find((li) => /** @type {HTMLElement} */ (li).dataset.id === memberId);
            const part = /** @type {HTMLElement | null | undefined} */ (item?.querySelector(".member-call"));
            if (part) this.#fill(part, memberId);
        });
        connection.on("callers", () => parts.members.refresh());
    }

    /**
     * Shows what we know of one member's part in the call.
     * @param {HTMLElement} part
     * @param {string} id
     */
    #fill(part, id) {
        const you = this.connection.you?.id;
        const state = this.parts.grid.stateOf(id === you ? SELF : id);
        const inCall = Boolean(state) || this.connection.callers.some((caller) => caller.id === id);
        const media = state?.media;
        const icons = [];
        /** @param {string} kind @param {string} text @param {string} label */
        const icon = (kind, text, label) => icons.push(el("span", { className: `call-icon call-${kind}`, text,
            attrs: { role: "img", "aria-label": label, title: label } }));
        if (inCall) icon("in", "📞", t("state_in_call"));
        if (media && !media.audio) icon("muted", "🔇", t("muted_indicator"));
        if (media && !media.video && !media.screen) icon("camera-off", "📷", t("camera_off_indicator"));
        if (media?.screen) icon("screen", "🖥️", t("screen_indicator"));
        if (state?.speaking) icon("speaking", "🔊", t("state_speaking"));
        if (media?.quality) {
            const label = t(`quality_${media.quality}`);
            icons.push(el("span", { className: "call-icon quality-bars", attrs: { role: "img", "aria-label": label, title: label,
                "data-quality": media.quality } }, [el("i"), el("i"), el("i")]));
        }
        part.replaceChildren(...icons);
        Object.assign(part.dataset, {
            inCall: String(inCall), audio: String(media?.audio ?? ""), video: String(media ? media.video || media.screen : ""),
            screen: String(media?.screen ?? ""), speaking: String(Boolean(state?.speaking)), quality: media?.quality ?? "",
        });
        return part;
    }
}

// Recording the call (docs/recording.md): everyone in the room sees that it is recorded (a badge by
// the room's name, a note before joining the call, a line in the chat); the owner starts and stops
// it from the room's settings; whoever recorded finds the recordings in "Your recordings": the
// file being made (a progress bar), then played in the page, downloaded or deleted.

import { el, formatTime, showError } from "./dom.js";
import { errorText, t } from "./i18n.js";

export class RecordingView {
    /** @type {import("./protocol.js").Recording | null} */
    #recording = null;

    /**
     * @param {import("./protocol.js").ChatConnection} connection
     * @param {object} parts
     * @param {HTMLElement} parts.badge shown while recorded
     * @param {HTMLElement} parts.prejoinNote shown before joining a recorded call
     * @param {HTMLButtonElement[]} parts.buttons the owner's, in the room's settings and the call bar
     *     (none: the server cannot record)
     * @param {import("./chat.js").ChatLog} parts.chat
     * @param {() => string} parts.room
     */
    constructor(connection, { badge, prejoinNote, buttons, chat, room }) {
        this.connection = connection;
        this.badge = badge;
        this.prejoinNote = prejoinNote;
        this.buttons = buttons;
        this.chat = chat;
        this.room = room;
        /** Whether we own the room: the call bar's button is the owner's alone. */
        this.owner = false;
        connection.on("recording", (info) => {
            this.#show(info.recording);
            if (info.recording) this.chat.addNotice(t("notice_recording_started", { name: info.recording.by.nickname }), "recording");
            else if (info.reason === "quota") this.chat.addNotice(t("notice_recording_quota"), "recording");
            else if (info.reason === "sfu_lost") this.chat.addNotice(t("notice_recording_sfu_lost"), "recording");
            else if (info.reason) this.chat.addNotice(t("notice_recording_ended"), "recording");
            else this.chat.addNotice(t("notice_recording_stopped", { name: info.by?.nickname ?? "" }), "recording");
        });
        for (const button of buttons) button.addEventListener("click", () => this.#toggle(button));
        connection.on("roomupdate", (update) => this.#ownerIs(update.owner));
    }

    /** @param {string | null | undefined} owner the room's owner's member id */
    #ownerIs(owner) {
        this.owner = Boolean(owner) && owner === this.connection.you?.id;
        for (const button of this.buttons) if (button.closest(".call-bar")) button.hidden = !this.owner;
    }

    /** Entered (or back after a reconnect): the room's recording as the ack says. @param {import("./protocol.js").EnterAck} ack */
    entered(ack) {
        const was = this.#recording?.id;
        this.#ownerIs(ack.settings?.owner);
        this.#show(ack.recording ?? null);
        if (ack.recording && ack.recording.id !== was) this.chat.addNotice(t("notice_recording_on"), "recording");
    }

    get recording() {
        return this.#recording;
    }

    /** @param {import("./protocol.js").Recording | null} recording */
    #show(recording) {
        this.#recording = recording;
        this.badge.hidden = !recording;
        const by = recording ? t("recording_by", { name: recording.by.nickname }) : "";
        this.badge.title = by;
        this.badge.setAttribute("aria-label", by);
        this.prejoinNote.hidden = !recording;
        for (const button of this.buttons) {
            button.textContent = t(recording ? "record_stop" : "record_start");
            button.setAttribute("aria-pressed", String(Boolean(recording)));
        }
    }

    /** @param {HTMLButtonElement} button */
    async #toggle(button) {
        if (button.disabled) return;
        button.disabled = true;
        try {
            if (this.#recording) await this.connection.stopRecording(this.room());
            else this.#show(await this.connection.startRecording(this.room()));
        } catch (error) {
            showError(errorText(error));
        } finally {
            button.disabled = false;
        }
    }
}

/** "Your recordings": this browser's recordings of the room, as their files are made. */
export class RecordingList {
    /** @type {Map<string, HTMLElement>} id -> its item */
    #items = new Map();

    /**
     * @param {import("./protocol.js").ChatConnection} connection
     * @param {{section: HTMLElement, list: HTMLElement}} parts
     */
    constructor(connection, { section, list }) {
        this.connection = connection;
        this.section = section;
        this.list = list;
        connection.on("recordingfile", (file) => this.#show(file));
    }

    /** In the room (again): what is kept. */
    async load() {
        try {
            const files = await this.connection.listRecordings();
            for (const item of this.#items.values()) item.remove();
            this.#items.clear();
            for (const file of [...files].reverse()) this.#show(file);
        } catch {
            // an older server, or offline: the list stays as it was
        }
    }

    /** @param {import("./protocol.js").RecordingFile} file */
    #show(file) {
        const old = this.#items.get(file.id);
        if (old?.dataset.state === "ready" && file.state === "ready") return; // as shown (its player may be playing)
        const item = this.#item(file);
        if (old) {
            old.replaceWith(item);
        } else {
            this.list.prepend(item);
        }
        this.#items.set(file.id, item);
        this.section.hidden = this.#items.size === 0;
    }

    /** @param {import("./protocol.js").RecordingFile} file */
    #item(file) {
        const when = formatTime(file.since);
        const title = t("recording_item", { first: when });
        const meta = file.duration !== null ? ` · ${t("recording_duration", { count: Math.round(file.duration) })}` : "";
        const parts = [el("p", { className: "recording-title", text: title + meta })];
        if (file.state === "processing" || file.state === "recording") {
            parts.push(el("p", { className: "recording-state", text: t("recording_processing") }));
            parts.push(el("progress", {
                className: "recording-progress",
                attrs: { max: "1", value: String(file.progress ?? 0), "data-testid": "recording-progress", "aria-label": t("recording_processing") },
            }));
        } else if (file.state === "failed") {
            parts.push(el("p", { className: "recording-error", text: file.error ?? "", attrs: { role: "alert" } }));
        }
        const actions = el("div", { className: "recording-actions" });
        if (file.state === "ready" && file.url) {
            const url = file.url;
            const player = el("div", { className: "recording-player" });
            const play = el("button", { className: "button small", text: t("recording_play"), attrs: { type: "button", "data-testid": "recording-play", "aria-expanded": "false" } });
            play.addEventListener("click", () => {
                const open = player.firstElementChild !== null;
                if (open) player.replaceChildren();
                else player.append(el("video", { className: "recording-video", attrs: { src: url, controls: "", preload: "metadata", "data-testid": "recording-video" } }));
                play.textContent = t(open ? "recording_play" : "recording_hide");
                play.setAttribute("aria-expanded", String(!open));
            });
            actions.append(play, el("a", { className: "button small", text: t("recording_download"), attrs: { href: url, download: "", "data-testid": "recording-download" } }));
            parts.push(player);
        }
        if (file.state === "failed") {
            const retry = /** @type {HTMLButtonElement} */ (el("button", { className: "button small", text: t("recording_retry"), attrs: { type: "button", "data-testid": "recording-retry" } }));
            retry.addEventListener("click", async () => {
                retry.disabled = true;
                try {
                    this.#show(await this.connection.retryRecording(file.id));
                } catch (error) {
                    retry.disabled = false;
                    showError(errorText(error));
                }
            });
            actions.append(retry);
        }
        if (file.state !== "recording") {
            const remove = /** @type {HTMLButtonElement} */ (el("button", { className: "button small danger", text: t("recording_delete"), attrs: { type: "button", "data-testid": "recording-delete" } }));
            remove.addEventListener("click", () => this.#delete(file.id, remove));
            actions.append(remove);
        }
        parts.push(actions);
        return el("li", { className: "recording-item", attrs: { "data-testid": "recording-item", "data-state": file.state, "data-id": file.id } }, parts);
    }

    /** @param {string} id @param {HTMLButtonElement} button */
    async #delete(id, button) {
        if (!window.confirm(t("recording_delete_confirm"))) return;
        button.disabled = true;
        try {
            await this.connection.deleteRecording(id);
            this.#items.get(id)?.remove();
            this.#items.delete(id);
            this.section.hidden = this.#items.size === 0;
        } catch (error) {
            button.disabled = false;
            showError(errorText(error));
        }
    }
}

// Recording the call (docs/recording.md): everyone in the room sees that it is recorded (a badge by
// the room's name, a note before joining the call, a line in the chat); the owner starts and stops
// it from the room's settings.

import { showError } from "./dom.js";
import { errorText, t } from "./i18n.js";

export class RecordingView {
    /** @type {import("./protocol.js").Recording | null} */
    #recording = null;

    /**
     * @param {import("./protocol.js").ChatConnection} connection
     * @param {object} parts
     * @param {HTMLElement} parts.badge shown while recorded
     * @param {HTMLElement} parts.prejoinNote shown before joining a recorded call
     * @param {HTMLButtonElement | null} parts.button the owner's (null: the server cannot record)
     * @param {import("./chat.js").ChatLog} parts.chat
     * @param {() => string} parts.room
     */
    constructor(connection, { badge, prejoinNote, button, chat, room }) {
        this.connection = connection;
        this.badge = badge;
        this.prejoinNote = prejoinNote;
        this.button = button;
        this.chat = chat;
        this.room = room;
        connection.on("recording", (info) => {
            this.#show(info.recording);
            if (info.recording) this.chat.addNotice(t("notice_recording_started", { name: info.recording.by.nickname }), "recording");
            else if (info.reason) this.chat.addNotice(t("notice_recording_ended"), "recording");
            else this.chat.addNotice(t("notice_recording_stopped", { name: info.by?.nickname ?? "" }), "recording");
        });
        button?.addEventListener("click", () => this.#toggle());
    }

    /** Entered (or back after a reconnect): the room's recording as the ack says. @param {import("./protocol.js").EnterAck} ack */
    entered(ack) {
        const was = this.#recording?.id;
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
        if (this.button) {
            this.button.textContent = t(recording ? "record_stop" : "record_start");
            this.button.setAttribute("aria-pressed", String(Boolean(recording)));
        }
    }

    async #toggle() {
        if (!this.button || this.button.disabled) return;
        this.button.disabled = true;
        try {
            if (this.#recording) await this.connection.stopRecording(this.room());
            else this.#show(await this.connection.startRecording(this.room()));
        } catch (error) {
            showError(errorText(error));
        } finally {
            this.button.disabled = false;
        }
    }
}

// Files in the chat: picked with the 📎 button, dropped on the chat or pasted into the message box.
// Each goes up with a progress bar and a Cancel, and shows in the chat for everyone once stored
// (docs/protocol.md, "Files in the chat": `upload_file` gives a ticket, an HTTP PUT the bytes).

import { el, formatSize, userText } from "./dom.js";
import { errorText, t } from "./i18n.js";

/** One file going up: its row in the list of uploads, and how to stop it. */
class UploadRow {
    /**
     * @param {HTMLElement} list
     * @param {string} name
     */
    constructor(list, name) {
        this.list = list;
        /** @type {() => void} */
        this.stop = () => this.remove();
        this.progress = /** @type {HTMLProgressElement} */ (el("progress", {
            className: "upload-progress",
            attrs: { max: "1", value: "0", "data-testid": "upload-progress", "aria-label": t("upload_progress", { name }) },
        }));
        this.error = el("span", { className: "upload-error", attrs: { role: "alert" } });
        this.error.hidden = true;
        this.button = el("button", {
            className: "icon-button upload-cancel",
            text: "×",
            attrs: { type: "button", "data-testid": "upload-cancel", "aria-label": t("upload_cancel", { name }) },
        });
        this.button.addEventListener("click", () => this.stop());
        this.item = el("li", { className: "upload", attrs: { "data-testid": "upload", "data-state": "sending" } }, [
            userText("span", "upload-name", name),
            this.progress,
            this.error,
            this.button,
        ]);
        list.append(this.item);
        list.hidden = false;
    }

    /** @param {number} share of the bytes sent, 0 to 1 */
    advance(share) {
        this.progress.value = share;
    }

    /** The upload failed: the row stays with the reason until dismissed. @param {string} reason */
    fail(reason) {
        this.item.dataset.state = "failed";
        this.progress.hidden = true;
        this.error.textContent = reason;
        this.error.hidden = false;
        this.button.dataset.testid = "upload-dismiss";
        this.button.setAttribute("aria-label", t("upload_dismiss"));
        this.stop = () => this.remove();
    }

    remove() {
        this.item.remove();
        this.list.hidden = this.list.childElementCount === 0;
    }
}

export class FileSender {
    /**
     * @param {import("./protocol.js").ChatConnection} connection
     * @param {object} parts
     * @param {HTMLButtonElement} parts.button the 📎 button
     * @param {HTMLInputElement} parts.input the hidden file picker
     * @param {HTMLElement} parts.list where uploads under way show
     * @param {HTMLElement} parts.dropZone the chat, where files may be dropped
     * @param {HTMLInputElement} parts.messageInput where an image may be pasted
     * @param {number} parts.maxBytes the server's largest file (0: no files)
     * @param {() => string} parts.room
     * @param {(message: import("./protocol.js").Message) => void} parts.sent our file is in the chat
     */
    constructor(connection, { button, input, list, dropZone, messageInput, maxBytes, room, sent }) {
        this.connection = connection;
        this.list = list;
        this.maxBytes = maxBytes;
        this.room = room;
        this.sent = sent;
        if (maxBytes <= 0) {
            button.hidden = true;
            return;
        }
        button.addEventListener("click", () => input.click());
        input.addEventListener("change", () => {
            this.send([...(input.files ?? [])]);
            input.value = "";
        });
        messageInput.addEventListener("paste", (event) => {
            const files = [...(event.clipboardData?.files ?? [])];
            if (files.length === 0) return;
            event.preventDefault();
            this.send(files);
        });
        this.#acceptDrops(dropZone);
    }

    /** @param {File[]} files */
    send(files) {
        for (const file of files) this.#upload(file);
    }

    /** @param {File} file */
    async #upload(file) {
        const row = new UploadRow(this.list, file.name || "file");
        if (file.size > this.maxBytes) {
            row.fail(t("file_too_large_here", { size: formatSize(this.maxBytes) }));
            return;
        }
        if (file.size === 0) {
            row.fail(t("file_empty"));
            return;
        }
        let cancelled = false;
        row.stop = () => {
            cancelled = true;
            row.remove();
        };
        /** @type {import("./protocol.js").Upload} */
        let upload;
        try {
            upload = await this.connection.requestUpload(file.name, file.size, this.room());
        } catch (error) {
            if (!cancelled) row.fail(errorText(error));
            return;
        }
        if (cancelled) return;
        const request = new XMLHttpRequest();
        row.stop = () => {
            request.abort(); // the server drops what came; nothing is kept
            row.remove();
        };
        request.upload.addEventListener("progress", (event) => {
            if (event.lengthComputable) row.advance(event.loaded / event.total);
        });
        request.addEventListener("load", () => {
            const answer = parseJson(request.responseText);
            if (request.status === 201 && answer?.ok) {
                row.remove();
                this.sent(answer.message);
            } else {
                row.fail(answer?.error ? errorText(answer.error) : t("upload_failed"));
            }
        });
        request.addEventListener("error", () => row.fail(t("upload_failed")));
        request.open("PUT", upload.url);
        request.setRequestHeader("X-Upload-Ticket", upload.ticket);
        request.send(file);
    }

    /** @param {HTMLElement} zone */
    #acceptDrops(zone) {
        let depth = 0; // dragenter/dragleave come for every child crossed
        const carriesFiles = (/** @type {DragEvent} */ event) => [...(event.dataTransfer?.types ?? [])].includes("Files");
        zone.addEventListener("dragenter", (event) => {
            if (!carriesFiles(event)) return;
            depth += 1;
            zone.classList.add("drop-active");
        });
        zone.addEventListener("dragleave", () => {
            depth = Math.max(0, depth - 1);
            if (depth === 0) zone.classList.remove("drop-active");
        });
        zone.addEventListener("dragover", (event) => {
            if (carriesFiles(event)) event.preventDefault(); // lets the drop happen
        });
        zone.addEventListener("drop", (event) => {
            depth = 0;
            zone.classList.remove("drop-active");
            const files = [...(event.dataTransfer?.files ?? [])];
            if (files.length === 0) return;
            event.preventDefault();
            this.send(files);
        });
    }
}

/**
 * A file in a chat message: its name and size, a thumbnail if it is an image; a link that saves it.
 * @param {import("./protocol.js").SharedFile} file
 */
export function fileCard(file) {
    const image = file.type.startsWith("image/");
    return el("a", {
        className: "file-link",
        attrs: { href: file.url, download: file.name, "data-testid": "file-link", title: t("file_download", { name: file.name }) },
    }, [
        ...(image ? [el("img", { className: "file-thumb", attrs: { src: file.url, alt: file.name, loading: "lazy", "data-testid": "file-thumb" } })] : []),
        el("span", { className: "file-meta" }, [
            userText("span", "file-name", file.name),
            el("span", { className: "file-size", text: formatSize(file.size) }),
        ]),
    ]);
}

/** @param {string} text */
function parseJson(text) {
    try {
        return JSON.parse(text);
    } catch {
        return null;
    }
}

// The view before joining the call: who is in it, a preview of our camera, the camera and microphone
// selects, start-muted / start-with-camera-off toggles and the Join button. Rendering and input only.

import { controlState, fillSelect, showToggles } from "./controls.js";
import { whenIdle } from "./dom.js";
import { t } from "./i18n.js";

export class PreJoin {
    onjoin = /** @type {(() => void) | null} */ (null);
    onmute = /** @type {(() => void) | null} */ (null);
    oncamera = /** @type {(() => void) | null} */ (null);
    /** @type {((kind: "audioinput" | "videoinput", deviceId: string) => void) | null} */
    onchoose = null;
    /** Join waits: the camera is starting, or the join is on its way. */
    #busy = false;
    /** The call is full: Join cannot be used. */
    #full = false;

    /**
     * @param {{panel: HTMLElement, video: HTMLVideoElement, placeholder: HTMLElement, mic: HTMLButtonElement,
     *          camera: HTMLButtonElement, cameraSelect: HTMLSelectElement, micSelect: HTMLSelectElement,
     *          join: HTMLButtonElement, note: HTMLElement, callers: HTMLElement}} elements
     */
    constructor(elements) {
        this.elements = elements;
        elements.join.addEventListener("click", () => this.onjoin?.());
        elements.mic.addEventListener("click", () => this.onmute?.());
        elements.camera.addEventListener("click", () => this.oncamera?.());
        elements.cameraSelect.addEventListener("change", () => this.onchoose?.("videoinput", elements.cameraSelect.value));
        elements.micSelect.addEventListener("change", () => this.onchoose?.("audioinput", elements.micSelect.value));
    }

    get visible() {
        return !this.elements.panel.hidden;
    }

    /**
     * Hidden, the preview lets go of the camera's stream once the page is idle: taking a playing
     * video apart waits for the browser's media threads (tens of milliseconds on a busy machine),
     * and the moment the call view appears is a join's busiest.
     * @param {boolean} visible
     */
    setVisible(visible) {
        this.elements.panel.hidden = !visible;
        if (!visible) {
            whenIdle(() => {
                if (this.elements.panel.hidden) this.elements.video.srcObject = null;
            });
        }
    }

    setBusy(busy) {
        this.#busy = busy;
        this.elements.join.disabled = busy || this.#full;
        this.elements.join.setAttribute("aria-busy", String(busy));
    }

    /**
     * Who is in the call already (their nicknames, in the order they joined); a full call cannot
     * be joined, and says so.
     * @param {string[]} names
     * @param {number} max the most the call takes (0: unknown)
     */
    showCallers(names, max) {
        this.#full = max > 0 && names.length >= max;
        const [first, second] = names;
        this.elements.callers.textContent = this.#full ? t("callers_full", { count: names.length })
            : names.length === 0 ? t("callers_none")
            : names.length === 1 ? t("callers_one", { first })
            : names.length === 2 ? t("callers_two", { first, second })
            : t("callers_more", { first, second, count: names.length - 2 });
        this.elements.callers.dataset.count = String(names.length);
        this.setBusy(this.#busy);
    }

    /** @param {import("./media.js").LocalMedia} media */
    show(media) {
        const { video, placeholder, note } = this.elements;
        showToggles(this.elements, controlState(media));
        const showsVideo = Boolean(media.camera);
        if (showsVideo && video.srcObject !== media.preview) {
            video.srcObject = media.preview;
            video.play().catch(() => {});
        }
        video.hidden = !showsVideo;
        placeholder.hidden = showsVideo;
        placeholder.textContent = media.cameraOff ? t("preview_camera_off") : t("preview_no_camera");
        // Who the others will see and hear: said in words, not only by the preview.
        const camera = Boolean(media.camera) || media.cameraOff;
        const key = media.audio && camera ? null
            : media.audio ? "join_audio_only"
            : camera ? "join_video_only"
            : "join_watch_only";
        note.textContent = key ? t(key) : "";
    }

    /**
     * @param {import("./media.js").DeviceLists} devices
     * @param {import("./media.js").LocalMedia} media
     */
    showDevices(devices, media) {
        fillSelect(this.elements.cameraSelect, devices.videoinput, media.chosen.videoinput, "camera_numbered", media.camera);
        fillSelect(this.elements.micSelect, devices.audioinput, media.chosen.audioinput, "microphone_numbered", media.audio);
    }
}

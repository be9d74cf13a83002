// The buttons and device selects, before the call (pre-join) and in it. Labels say what a button
// will do ("Mute" while the microphone is on); aria-pressed says the state. Rendering and input only.

import { el } from "./dom.js";
import { t } from "./i18n.js";

/** @typedef {{muted: boolean, cameraOff: boolean, sharing: boolean, hasAudio: boolean, hasCamera: boolean}} ControlState */

/**
 * Fills a device select, keeping the choice; a device without a label gets a numbered name.
 * @param {HTMLSelectElement} select
 * @param {MediaDeviceInfo[]} devices
 * @param {string} chosen deviceId, "" for the default
 * @param {string} fallbackKey the i18n key of a numbered name ("Camera {count}")
 * @param {MediaStreamTrack | null} [track] the track in use, whose device is the current choice
 */
export function fillSelect(select, devices, chosen, fallbackKey, track = null) {
    const inUse = chosen || track?.getSettings?.().deviceId || "";
    const options = devices.map((device, index) => el("option", {
        text: device.label || t(fallbackKey, { count: index + 1 }),
        attrs: { value: device.deviceId },
    }));
    if (!options.length) options.push(el("option", { text: t("no_devices"), attrs: { value: "" } }));
    select.replaceChildren(...options);
    select.disabled = devices.length === 0;
    if (inUse && devices.some((device) => device.deviceId === inUse)) select.value = inUse;
}

/** Sets a toggle button's label (what a click will do) and its pressed state. */
function setToggle(button, pressed, labelKey, shortcut = "") {
    const label = t(labelKey);
    const text = button.querySelector(".button-text") ?? button;
    text.textContent = label;
    button.setAttribute("aria-pressed", String(pressed));
    button.title = shortcut ? t("with_shortcut", { action: label, key: shortcut }) : label;
}

/** The mute and camera buttons of the pre-join view and of the call bar show the same things. */
export function showToggles({ mic, camera }, state) {
    setToggle(mic, state.muted, state.muted ? "unmute" : "mute", mic.getAttribute("aria-keyshortcuts") ?? "");
    mic.disabled = !state.hasAudio;
    setToggle(camera, state.cameraOff, state.cameraOff ? "camera_on" : "camera_off", camera.getAttribute("aria-keyshortcuts") ?? "");
    camera.disabled = !state.hasCamera;
}

/**
 * What the mute and camera buttons show. Without a microphone (or camera) the button offers to turn
 * it on, and stays usable while the browser lists one, so that a device plugged in later can be used.
 * @param {import("./media.js").LocalMedia} media
 * @returns {ControlState}
 */
export function controlState(media) {
    return {
        muted: media.muted || !media.audio,
        cameraOff: media.cameraOff || !media.camera,
        sharing: Boolean(media.screen),
        hasAudio: Boolean(media.audio) || media.devices.audioinput.length > 0,
        hasCamera: Boolean(media.camera) || media.devices.videoinput.length > 0,
    };
}

export class CallControls {
    onmute = /** @type {(() => void) | null} */ (null);
    oncamera = /** @type {(() => void) | null} */ (null);
    onshare = /** @type {(() => void) | null} */ (null);
    onleave = /** @type {(() => void) | null} */ (null);
    onreact = /** @type {((emoji: string) => void) | null} */ (null);
    /** @type {((kind: "audioinput" | "videoinput" | "audiooutput", deviceId: string) => void) | null} */
    onchoose = null;

    /**
     * @param {{mic: HTMLButtonElement, camera: HTMLButtonElement, share: HTMLButtonElement, leave: HTMLButtonElement,
     *          cameraSelect: HTMLSelectElement, micSelect: HTMLSelectElement, speakerSelect: HTMLSelectElement,
     *          speakerField: HTMLElement, reactions: HTMLElement}} elements
     * @param {boolean} canShare
     * @param {boolean} canChooseSpeaker
     */
    constructor(elements, canShare, canChooseSpeaker) {
        this.elements = elements;
        elements.mic.addEventListener("click", () => this.onmute?.());
        elements.camera.addEventListener("click", () => this.oncamera?.());
        elements.share.addEventListener("click", () => this.onshare?.());
        elements.leave.addEventListener("click", () => this.onleave?.());
        elements.share.hidden = !canShare;
        elements.speakerField.hidden = !canChooseSpeaker;
        // The menus (settings, reactions) close on Escape and on a click elsewhere, as menus do.
        for (const menu of /** @type {HTMLDetailsElement[]} */ ([elements.cameraSelect.closest("details"), elements.reactions.closest("details")])) {
            if (!menu) continue;
            menu.addEventListener("toggle", () => menu.open && keepOnScreen(/** @type {HTMLElement} */ (menu.querySelector(".call-menu-body"))));
            document.addEventListener("click", (event) => {
                if (menu.open && !menu.contains(/** @type {Node} */ (event.target))) menu.open = false;
            });
            menu.addEventListener("keydown", (event) => {
                if (event.key !== "Escape" || !menu.open) return;
                menu.open = false;
                menu.querySelector("summary")?.focus();
            });
        }
        // a reaction is sent, and its menu closes (focus back on its button)
        elements.reactions.addEventListener("click", (event) => {
            const button = /** @type {HTMLElement} */ (event.target).closest("[data-emoji]");
            if (!(button instanceof HTMLElement) || !button.dataset.emoji) return;
            const menu = elements.reactions.closest("details");
            if (menu) {
                menu.open = false;
                menu.querySelector("summary")?.focus();
            }
            this.onreact?.(button.dataset.emoji);
        });
        for (const [select, kind] of /** @type {const} */ ([[elements.cameraSelect, "videoinput"], [elements.micSelect, "audioinput"], [elements.speakerSelect, "audiooutput"]])) {
            select.addEventListener("change", () => this.onchoose?.(kind, select.value));
        }
    }

    /** @param {ControlState} state */
    show(state) {
        showToggles(this.elements, state);
        setToggle(this.elements.share, state.sharing, state.sharing ? "stop_sharing" : "share_screen");
    }

    /**
     * @param {import("./media.js").DeviceLists} devices
     * @param {import("./media.js").LocalMedia} media
     */
    showDevices(devices, media) {
        const { cameraSelect, micSelect, speakerSelect } = this.elements;
        fillSelect(cameraSelect, devices.videoinput, media.chosen.videoinput, "camera_numbered", media.camera);
        fillSelect(micSelect, devices.audioinput, media.chosen.audioinput, "microphone_numbered", media.audio);
        fillSelect(speakerSelect, devices.audiooutput, media.chosen.audiooutput, "speaker_numbered");
    }
}

/**
 * A menu that opens centred over its button stays on the screen: near an edge (a phone, a call bar
 * that wrapped) it moves sideways by what would be cut off.
 * @param {HTMLElement | null} body
 */
function keepOnScreen(body) {
    if (!body) return;
    body.style.translate = "";
    const margin = 8;
    const { left, right } = body.getBoundingClientRect();
    const shift = Math.max(0, margin - left) - Math.max(0, right - (document.documentElement.clientWidth - margin));
    if (shift) body.style.translate = `${shift}px 0`;
}

/**
 * Keyboard shortcuts for the call (M mutes or unmutes, V turns the camera off or on, H raises or
 * lowers the hand) — unless the person is typing (a chat message, a name).
 * @param {Record<string, () => void>} actions by key
 */
export function listenToShortcuts(actions) {
    document.addEventListener("keydown", (event) => {
        if (event.ctrlKey || event.metaKey || event.altKey || event.repeat || event.isComposing) return;
        const target = /** @type {HTMLElement | null} */ (event.target);
        if (target?.closest("input, textarea, select, [contenteditable]")) return;
        const action = actions[event.key.toLowerCase()];
        if (!action) return;
        event.preventDefault();
        action();
    });
}

/**
 * Push to talk: while the microphone is muted, holding the space bar talks; letting go mutes again.
 * Not while typing, nor while a button or link has the focus (the space bar presses those).
 * @param {() => boolean} muted whether the microphone is muted now (and push to talk may start)
 * @param {(talking: boolean) => void} talk unmute (true) or mute again (false)
 */
export function listenToPushToTalk(muted, talk) {
    let talking = false;
    const stop = () => {
        if (!talking) return;
        talking = false;
        talk(false);
    };
    document.addEventListener("keydown", (event) => {
        if (event.code !== "Space" || event.repeat || event.ctrlKey || event.metaKey || event.altKey) return;
        const target = /** @type {HTMLElement | null} */ (event.target);
        if (target?.closest("input, textarea, select, button, a, summary, [contenteditable]")) return;
        if (talking || !muted()) return;
        event.preventDefault();
        talking = true;
        talk(true);
    });
    document.addEventListener("keyup", (event) => event.code === "Space" && stop());
    window.addEventListener("blur", stop); // the key's release may never come to a page left meanwhile
}

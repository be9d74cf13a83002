// Our own camera, microphone and screen, and the devices to choose from. No DOM and no network: the
// call assigns callbacks and hands the tracks to the peer connections.

/** @typedef {{audioinput: MediaDeviceInfo[], videoinput: MediaDeviceInfo[], audiooutput: MediaDeviceInfo[]}} DeviceLists */
/** @typedef {"denied" | "no_device" | "in_use" | "failed"} MediaProblem */

/** The camera's frame rate in a call of three or more. */
const SMALL_FPS = 15;

/** Why getUserMedia failed, in the few words the page has messages for. @returns {MediaProblem} */
export function problemOf(error) {
    switch (error?.name) {
        case "NotAllowedError":
        case "SecurityError":
            return "denied";
        case "NotFoundError":
        case "OverconstrainedError":
            return "no_device";
        case "NotReadableError":
        case "AbortError":
            return "in_use";
        default:
            return "failed";
    }
}

const VIDEO_CONSTRAINTS = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30, max: 30 } };
/**
 * The camera in a call of three or more (a mesh encodes it once per peer, and each page decodes
 * and draws every other's): the size each peer's share of the upload budget can carry, at a frame
 * rate a grid of faces needs. A quarter of the pixels and half the frames of VIDEO_CONSTRAINTS, for
 * every encoder, decoder and drawn video of the call (docs/protocol.md, "Call set-up").
 */
const SMALL_VIDEO_CONSTRAINTS = { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: SMALL_FPS, max: SMALL_FPS } };
const AUDIO_CONSTRAINTS = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };

export class LocalMedia {
    /** A track changed (a new device, camera back on, screen share...): the senders need it. @type {((kind: "audio" | "video", track: MediaStreamTrack | null) => void) | null} */
    ontrack = null;
    /** The device lists changed. @type {((devices: DeviceLists) => void) | null} */
    ondevices = null;
    /** A device we were using went away (unplugged, or taken by the system). @type {((kind: "audio" | "video") => void) | null} */
    ondeviceended = null;
    /** The browser's own "stop sharing" ended the screen share. @type {(() => void) | null} */
    onscreenended = null;

    /** @type {MediaStreamTrack | null} */
    audio = null;
    /** @type {MediaStreamTrack | null} */
    camera = null;
    /** @type {MediaStreamTrack | null} */
    screen = null;
    /** Mic muted: the track stays (switching back is instant) but sends silence. */
    muted = false;
    /** Camera off: the camera is released (its light goes off) and nothing is sent. */
    cameraOff = false;
    /** @type {DeviceLists} */
    devices = { audioinput: [], videoinput: [], audiooutput: [] };
    /** The devices the person chose (deviceId), "" for the browser's default. */
    chosen = { audioinput: "", videoinput: "", audiooutput: "" };
    /** A stream holding what we show of ourselves (camera or screen), for our own tile. */
    preview = new MediaStream();
    /** The camera runs small (SMALL_VIDEO_CONSTRAINTS): we are in a call of three or more. */
    #small = false;

    constructor() {
        navigator.mediaDevices?.addEventListener("devicechange", () => this.#listAgain());
    }

    /** The track the others receive as our video: the screen while sharing, else the camera. */
    get videoTrack() {
        return this.screen ?? (this.cameraOff ? null : this.camera);
    }

    /** @returns {import("./protocol.js").MediaState} */
    get state() {
        return { audio: Boolean(this.audio) && !this.muted, video: Boolean(this.camera) && !this.cameraOff, screen: Boolean(this.screen) };
    }

    /**
     * Opens camera and microphone, falling back to what exists: both, else the microphone alone,
     * else the camera alone. Resolves with the problem that kept a device away (or null).
     * @param {{audio: boolean, video: boolean}} want
     * @returns {Promise<MediaProblem | null>}
     */
    async start(want = { audio: true, video: true }) {
        const problem = await this.#start(want);
        // A device chosen on an earlier visit may be gone: the defaults then, rather than nothing.
        if (problem === "no_device" && (this.chosen.audioinput || this.chosen.videoinput)) {
            this.stop();
            this.chosen.audioinput = this.chosen.videoinput = "";
            return this.#start(want);
        }
        return problem;
    }

    /** @returns {Promise<MediaProblem | null>} */
    async #start(want) {
        if (!navigator.mediaDevices?.getUserMedia) return "no_device";
        const attempts = [want, { audio: want.audio, video: false }, { audio: false, video: want.video }]
            .filter((kinds, index, all) => (kinds.audio || kinds.video)
                && all.findIndex((other) => other.audio === kinds.audio && other.video === kinds.video) === index);
        /** @type {MediaProblem | null} */
        let problem = null;
        for (const kinds of attempts) {
            try {
                const size = this.#videoConstraints();
                const stream = await navigator.mediaDevices.getUserMedia({
                    audio: kinds.audio && this.#constraints("audioinput", AUDIO_CONSTRAINTS),
                    video: kinds.video && this.#constraints("videoinput", size),
                });
                this.#use("audio", stream.getAudioTracks()[0] ?? null);
                this.#use("video", this.#fit(stream.getVideoTracks()[0] ?? null, size));
                await this.refreshDevices();
                return kinds.audio === want.audio && kinds.video === want.video ? null : "no_device";
            } catch (error) {
                problem = problemOf(error);
                if (problem === "denied") break; // asking again with less changes nothing
            }
        }
        await this.refreshDevices();
        return problem;
    }

    /**
     * Uses another camera or microphone. The new track replaces the old one in every sender, so the
     * others keep receiving without any renegotiation.
     * @param {"audioinput" | "videoinput"} kind
     * @param {string} deviceId
     * @returns {Promise<MediaProblem | null>}
     */
    async choose(kind, deviceId) {
        this.chosen[kind] = deviceId;
        // With the camera off, the choice waits for the camera to come back on.
        if (kind === "videoinput") return this.cameraOff ? null : this.#openCamera();
        return this.#openMicrophone();
    }

    /** Where the others' sound goes. Only remembered here; the tiles apply it with setSinkId. */
    chooseSpeaker(deviceId) {
        this.chosen.audiooutput = deviceId;
    }

    /** Whether this browser can choose the audio output. */
    static get canChooseSpeaker() {
        return typeof HTMLMediaElement !== "undefined" && "setSinkId" in HTMLMediaElement.prototype;
    }

    /** Mute or unmute: the track stays, disabled (it sends silence). */
    setMuted(muted) {
        this.muted = muted;
        if (this.audio) this.audio.enabled = !muted;
    }

    /**
     * Camera off stops the camera; on opens it again (the chosen one).
     * @returns {Promise<MediaProblem | null>}
     */
    async setCameraOff(off) {
        this.cameraOff = off;
        if (off) {
            this.camera?.stop();
            this.camera = null;
            this.#updatePreview();
            if (!this.screen) this.ontrack?.("video", null);
            return null;
        }
        return this.#openCamera();
    }

    /**
     * Shares a screen, a window or a tab in place of the camera.
     * @returns {Promise<MediaProblem | "cancelled" | null>}
     */
    async startScreen() {
        if (!navigator.mediaDevices?.getDisplayMedia) return "failed";
        let stream;
        try {
            stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15, max: 30 } }, audio: false });
        } catch (error) {
            // Closing the browser's picker is a NotAllowedError too: it is a choice, not a problem.
            return error?.name === "NotAllowedError" ? "cancelled" : problemOf(error);
        }
        const track = stream.getVideoTracks()[0];
        if (!track) return "failed";
        track.contentHint = "detail";
        // The browser's own "Stop sharing" button ends the track.
        track.addEventListener("ended", () => {
            if (this.screen !== track) return;
            this.stopScreen();
            this.onscreenended?.();
        });
        this.screen?.stop();
        this.screen = track;
        this.#updatePreview();
        this.ontrack?.("video", track);
        return null;
    }

    stopScreen() {
        if (!this.screen) return;
        const track = this.screen;
        this.screen = null;
        track.stop();
        this.#updatePreview();
        this.ontrack?.("video", this.videoTrack);
    }

    /**
     * The camera at its full size (alone, or a call of two) or small (a call of three or more). The
     * running track is adapted in place (applyConstraints: no new device, no renegotiation); a camera
     * opened later starts at the size in force. Resolves with whether the size changed.
     * @returns {Promise<boolean>}
     */
    async setSmall(small) {
        if (small === this.#small) return false;
        this.#small = small;
        await this.camera?.applyConstraints(this.#videoConstraints()).catch((error) => console.warn("camera size not changed", error));
        return true;
    }

    /** Stops every device (leaving the call or the page). */
    stop() {
        for (const track of [this.audio, this.camera, this.screen]) track?.stop();
        this.audio = this.camera = this.screen = null;
        this.#updatePreview();
    }

    /** @returns {Promise<DeviceLists>} */
    async refreshDevices() {
        if (!navigator.mediaDevices?.enumerateDevices) return this.devices;
        const all = await navigator.mediaDevices.enumerateDevices();
        /** @type {DeviceLists} */
        const devices = { audioinput: [], videoinput: [], audiooutput: [] };
        // Before permission the entries have no deviceId: they cannot be chosen, only counted.
        for (const device of all) if (device.kind in devices && device.deviceId) devices[device.kind].push(device);
        this.devices = devices;
        this.ondevices?.(devices);
        return devices;
    }

    /**
     * Lists the devices again (one was plugged in or out, or a chosen one is in use) without waiting
     * for the list: the browser may take its time, and the choice is in use (and remembered by the
     * caller) already. A list that fails leaves the one shown.
     */
    #listAgain() {
        this.refreshDevices().catch(() => {}); // the list stays as it was
    }

    #videoConstraints() {
        return this.#small ? SMALL_VIDEO_CONSTRAINTS : VIDEO_CONSTRAINTS;
    }

    /** A camera opened at one size while setSmall chose the other (it ran during getUserMedia) takes the size in force. */
    #fit(track, opened) {
        const size = this.#videoConstraints();
        if (track && opened !== size) track.applyConstraints(size).catch((error) => console.warn("camera size not changed", error));
        return track;
    }

    #constraints(kind, base) {
        const deviceId = this.chosen[kind];
        return deviceId ? { ...base, deviceId: { exact: deviceId } } : base;
    }

    async #openCamera() {
        try {
            const size = this.#videoConstraints();
            const stream = await navigator.mediaDevices.getUserMedia({ video: this.#constraints("videoinput", size) });
            this.#use("video", this.#fit(stream.getVideoTracks()[0] ?? null, size));
            this.#listAgain();
            return null;
        } catch (error) {
            return problemOf(error);
        }
    }

    async #openMicrophone() {
        try {
            const stream = await navigator.mediaDevices.getUserMedia({ audio: this.#constraints("audioinput", AUDIO_CONSTRAINTS) });
            this.#use("audio", stream.getAudioTracks()[0] ?? null);
            this.#listAgain();
            return null;
        } catch (error) {
            return problemOf(error);
        }
    }

    /** Takes a new track for a kind, stops the old one, and tells the senders. */
    #use(kind, track) {
        const old = kind === "audio" ? this.audio : this.camera;
        if (old === track) return;
        if (track) {
            track.addEventListener("ended", () => {
                // Our own stop() ends nothing (it fires no event); this is the device going away.
                if (track === this.audio || track === this.camera) {
                    if (kind === "audio") this.audio = null;
                    else this.camera = null;
                    this.#updatePreview();
                    this.ontrack?.(kind, kind === "audio" ? null : this.videoTrack);
                    this.ondeviceended?.(kind);
                }
            });
        }
        if (kind === "audio") {
            this.audio = track;
            if (track) track.enabled = !this.muted;
        } else {
            this.camera = track;
            if (track && this.cameraOff) this.cameraOff = false;
        }
        old?.stop();
        this.#updatePreview();
        if (kind === "audio") this.ontrack?.("audio", track);
        else if (!this.screen) this.ontrack?.("video", this.videoTrack);
    }

    /** The preview stream: our video (screen or camera) and our microphone, for our own tile and level meter. */
    #updatePreview() {
        const wanted = [this.screen ?? this.camera, this.audio].filter((track) => track !== null);
        for (const track of this.preview.getTracks()) if (!wanted.includes(track)) this.preview.removeTrack(track);
        for (const track of wanted) if (!this.preview.getTracks().includes(track)) this.preview.addTrack(track);
    }
}

/**
 * Who is speaking, for the ring on the tiles: levels read a few times a second from WebRTC's own
 * statistics (the energy of the sound received since the last read, levels.js; our sender's
 * level) rather than from Web Audio. An AudioContext runs an audio render thread (and an output stream in
 * the browser's audio service) for as long as it lives, in every page of the call: about a tenth
 * of a core for a call of three on the benchmark's machine (bench/HISTORY.md).
 */
export class AudioLevels {
    /** @type {((id: string, speaking: boolean) => void) | null} */
    onspeaking = null;
    /** @type {Map<string, {read: () => (number | null | Promise<number | null>), speaking: boolean, quietSince: number}>} */
    #meters = new Map();
    #timer = 0;
    #measuring = false;

    /**
     * Watches a level under an id ("" for ourselves): `read` gives it, 0 to 1 (null: unknown).
     * @param {string} id
     * @param {() => (number | null | Promise<number | null>)} read
     */
    watch(id, read) {
        const current = this.#meters.get(id);
        if (current) {
            current.read = read;
            return;
        }
        this.#meters.set(id, { read, speaking: false, quietSince: 0 });
        if (!this.#timer) this.#timer = window.setInterval(() => this.#measure(), 200);
    }

    unwatch(id) {
        const meter = this.#meters.get(id);
        if (!meter) return;
        this.#meters.delete(id);
        if (meter.speaking) this.onspeaking?.(id, false);
        if (!this.#meters.size) {
            window.clearInterval(this.#timer);
            this.#timer = 0;
        }
    }

    close() {
        for (const id of [...this.#meters.keys()]) this.unwatch(id);
    }

    async #measure() {
        if (this.#measuring) return; // a slow statistics read: the next tick waits for it
        this.#measuring = true;
        try {
            for (const [id, meter] of [...this.#meters]) {
                const level = await Promise.resolve(meter.read()).catch(() => null);
                if (this.#meters.get(id) !== meter) continue; // unwatched meanwhile
                const now = performance.now();
                const loud = (level ?? 0) > 0.02;
                // Speaking starts at once and ends after a short quiet, so the ring does not flicker.
                if (loud) meter.quietSince = 0;
                else if (!meter.quietSince) meter.quietSince = now;
                const speaking = loud || (meter.speaking && now - meter.quietSince < 600);
                if (speaking !== meter.speaking) {
                    meter.speaking = speaking;
                    this.onspeaking?.(id, speaking);
                }
            }
        } finally {
            this.#measuring = false;
        }
    }
}

// Our own camera, microphone and screen, and the devices to choose from. No DOM and no network: the
// call assigns callbacks and hands the tracks to the peer connections.

/** @typedef {{audioinput: MediaDeviceInfo[], videoinput: MediaDeviceInfo[], audiooutput: MediaDeviceInfo[]}} DeviceLists */
/** @typedef {"denied" | "no_device" | "in_use" | "failed"} MediaProblem */

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

    constructor() {
        navigator.mediaDevices?.addEventListener("devicechange", () => this.refreshDevices());
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
        let problem = null;
        for (const kinds of attempts) {
            try {
                const stream = await navigator.mediaDevices.getUserMedia({
                    audio: kinds.audio && this.#constraints("audioinput", AUDIO_CONSTRAINTS),
                    video: kinds.video && this.#constraints("videoinput", VIDEO_CONSTRAINTS),
                });
                this.#use("audio", stream.getAudioTracks()[0] ?? null);
                this.#use("video", stream.getVideoTracks()[0] ?? null);
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

    #constraints(kind, base) {
        const deviceId = this.chosen[kind];
        return deviceId ? { ...base, deviceId: { exact: deviceId } } : base;
    }

    async #openCamera() {
        try {
            const stream = await navigator.mediaDevices.getUserMedia({ video: this.#constraints("videoinput", VIDEO_CONSTRAINTS) });
            this.#use("video", stream.getVideoTracks()[0] ?? null);
            await this.refreshDevices();
            return null;
        } catch (error) {
            return problemOf(error);
        }
    }

    async #openMicrophone() {
        try {
            const stream = await navigator.mediaDevices.getUserMedia({ audio: this.#constraints("audioinput", AUDIO_CONSTRAINTS) });
            this.#use("audio", stream.getAudioTracks()[0] ?? null);
            await this.refreshDevices();
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
        const wanted = [this.screen ?? this.camera, this.audio].filter(Boolean);
        for (const track of this.preview.getTracks()) if (!wanted.includes(track)) this.preview.removeTrack(track);
        for (const track of wanted) if (!this.preview.getTracks().includes(track)) this.preview.addTrack(track);
    }
}

/**
 * How loud each stream is, for the "speaking" ring on the tiles (Web Audio analysers, polled a few
 * times a second rather than every frame: cheap enough for a call of six).
 */
export class AudioLevels {
    /** @type {((id: string, speaking: boolean) => void) | null} */
    onspeaking = null;
    /** @type {AudioContext | null} */
    #context = null;
    /** @type {Map<string, {analyser: AnalyserNode, source: MediaStreamAudioSourceNode, track: MediaStreamTrack, speaking: boolean, quietSince: number}>} */
    #meters = new Map();
    #timer = 0;
    #samples = new Float32Array(512);

    /** Must be called from a user gesture (a click on Join) for the context to run. */
    resume() {
        if (!this.#context) {
            try {
                this.#context = new AudioContext();
            } catch {
                return; // no Web Audio: no speaking ring, everything else works
            }
        }
        if (this.#context.state === "suspended") this.#context.resume().catch(() => {});
    }

    /**
     * Watches the audio track of a stream under an id ("" for ourselves); a new track replaces the old.
     * @param {string} id
     * @param {MediaStreamTrack | null} track
     */
    watch(id, track) {
        const current = this.#meters.get(id);
        if (current?.track === track) return;
        this.unwatch(id);
        if (!track || !this.#context) return;
        const source = this.#context.createMediaStreamSource(new MediaStream([track]));
        const analyser = this.#context.createAnalyser();
        analyser.fftSize = 512;
        source.connect(analyser);
        this.#meters.set(id, { analyser, source, track, speaking: false, quietSince: 0 });
        if (!this.#timer) this.#timer = window.setInterval(() => this.#measure(), 150);
    }

    unwatch(id) {
        const meter = this.#meters.get(id);
        if (!meter) return;
        meter.source.disconnect();
        this.#meters.delete(id);
        if (meter.speaking) this.onspeaking?.(id, false);
        if (!this.#meters.size) {
            window.clearInterval(this.#timer);
            this.#timer = 0;
        }
    }

    close() {
        for (const id of [...this.#meters.keys()]) this.unwatch(id);
        this.#context?.close().catch(() => {});
        this.#context = null;
    }

    #measure() {
        const now = performance.now();
        for (const [id, meter] of this.#meters) {
            meter.analyser.getFloatTimeDomainData(this.#samples);
            let sum = 0;
            for (const sample of this.#samples) sum += sample * sample;
            const loud = meter.track.enabled && Math.sqrt(sum / this.#samples.length) > 0.02;
            // Speaking starts at once and ends after a short quiet, so the ring does not flicker.
            if (loud) meter.quietSince = 0;
            else if (!meter.quietSince) meter.quietSince = now;
            const speaking = loud || (meter.speaking && now - meter.quietSince < 600);
            if (speaking !== meter.speaking) {
                meter.speaking = speaking;
                this.onspeaking?.(id, speaking);
            }
        }
    }
}

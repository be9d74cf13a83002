// The page's side of a call on the SFU (docs/protocol.md, "Calls through the SFU"): our camera and
// microphone go up once on a publishing connection (three simulcast layers), the screen on a second
// one while we share, and everybody else comes down on one receiving connection that the server
// renegotiates (sfu_offer). Every offer, answer and candidate goes through our Socket.IO connection:
// the browser never talks to Janus. No DOM here: call.js shows what this tells.

import { Emitter } from "./events.js";
import { levelBetween } from "./levels.js";

/** @typedef {import("./protocol.js").SfuStream} SfuStream */
/** @typedef {import("./levels.js").Energy} Energy */

/** A connection to the SFU not up by then counts as failed. */
// ICE that has not connected by then is taken for a firewall (ICE itself gives up after about 30 s);
// a slower start on a busy machine is not: ICE up and DTLS late is left to finish (or to the
// server's fresh subscription)
const CONNECT_MS = 20_000;
/** A video stream received not at all (--last-n): what `fit` remembers for it instead of a layer. */
const OFF = -1;
// A video received on a smaller layer whose bytes stopped growing this long is asked for in full,
// for FULL_FOR_MS: Janus moves a receiver up only towards the layer asked for, so when a sender
// stops its small layers (Chromium does on a starved machine) a small tile froze for good.
const STALL_MS = 2000;
const FULL_FOR_MS = 30_000;
const STALL_CHECK_MS = 1000;
/** Our camera's encodings by rid, as Janus numbers them (substream 0 the smallest). */
const LAYER_OF_RID = new Map([
    ["h", 2],
    ["m", 1],
    ["l", 0],
]);
/** @typedef {(event: string, request: object) => Promise<any>} SfuRequest */

/**
 * Simulcast: the full size, half and a quarter. Janus numbers the layers by size (substream 0 is
 * the smallest) whatever their order here; Chrome sends fewer of them for a small camera (two at
 * 640×360). The bitrates stay inside the upload budget (--upload-budget-kbps): a call on the SFU
 * uploads each layer once, whatever its size.
 * @param {number} budgetKbps
 * @returns {RTCRtpEncodingParameters[]}
 */
export function simulcastEncodings(budgetKbps) {
    const video = Math.max(300, budgetKbps - 100) * 1000; // audio's share off
    return [
        { rid: "h", maxBitrate: Math.round(video * 0.65), scaleResolutionDownBy: 1 },
        { rid: "m", maxBitrate: Math.round(video * 0.25), scaleResolutionDownBy: 2 },
        { rid: "l", maxBitrate: Math.round(video * 0.1), scaleResolutionDownBy: 4 },
    ];
}

/**
 * While we share a screen on the SFU, the upload budget is split: half for the screen, half for the
 * camera's layers, so that what we send stays inside --upload-budget-kbps.
 * @param {number} budgetKbps
 * @param {boolean} sharing
 * @returns {{camera: RTCRtpEncodingParameters[], screen: number}} the camera's layers, the screen's bit/s
 */
export function budgetShares(budgetKbps, sharing) {
    if (!sharing) return { camera: simulcastEncodings(budgetKbps), screen: 0 };
    const half = budgetKbps / 2;
    return { camera: simulcastEncodings(half), screen: Math.max(300, half - 50) * 1000 };
}

/**
 * Which of our camera's layers to send (dynacast): those up to the highest anyone receives, and
 * never fewer than the smallest the browser really encodes: Chromium encodes `h` and `m` of a
 * 640×360 camera, and Janus holds the receivers who asked for `l` on `m`, which must go on until
 * they move (Chromium would encode `l` if it were left on alone); none if nobody receives any.
 * @param {number} upTo the server's sfu_send: the highest layer anyone receives (0 the smallest,
 *     -1 none)
 * @param {number} smallest the smallest layer this browser has encoded frames of (2 if none yet)
 * @returns {Map<string, boolean>} rid -> active
 */
export function activeLayers(upTo, smallest) {
    const top = upTo < 0 ? -1 : Math.max(upTo, smallest);
    return new Map([...LAYER_OF_RID].map(([rid, layer]) => [rid, layer <= top]));
}

/**
 * The simulcast layer that fits a tile `height` CSS pixels high (device pixels count): 0 the
 * smallest, 2 the full size.
 * @param {number} height
 * @param {number} [pixelRatio]
 */
export function layerFor(height, pixelRatio = 1) {
    const pixels = height * pixelRatio;
    if (pixels >= 300) return 2;
    if (pixels >= 150) return 1;
    return 0;
}

// One statistics read of the receiving connection serves every person's level in a tick, and the
// stall watch within its second (getStats costs: a call of 50 reads levels five times a second)
const ENERGY_READ_MS = 100;

/**
 * Each received sound's totals, by mid. @param {RTCStatsReport | null} stats
 * @returns {Map<string, Energy>}
 */
function energyOf(stats) {
    /** @type {Map<string, Energy>} */
    const totals = new Map();
    stats?.forEach((report) => {
        if (report.type === "inbound-rtp" && report.kind === "audio" && report.mid != null) {
            totals.set(String(report.mid), { energy: report.totalAudioEnergy ?? 0, duration: report.totalSamplesDuration ?? 0 });
        }
    });
    return totals;
}

/**
 * The streams of a receiving connection, by who sends them: `${id}` for a camera, `${id}:screen` for
 * a screen. @param {SfuStream} stream
 */
export function streamKey(stream) {
    return stream.source === "screen" ? `${stream.id}:screen` : stream.id;
}

/**
 * What an SfuLink tells:
 * @typedef {object} SfuEvents
 * @property {{key: string, id: string, source: string, stream: MediaStream}} stream someone's
 *     camera (key: their id) or screen (key: id + ":screen") arrived or changed
 * @property {{key: string}} gone that stream ended (they stopped sharing, or left)
 * @property {{what: string}} failed a connection to the SFU failed: media cannot reach it
 * @property {{what: string}} connected every connection to the SFU is up (after a failure too)
 */

/** @extends {Emitter<SfuEvents>} */
export class SfuLink extends Emitter {
    /** @type {Map<string, RTCPeerConnection>} source -> publishing connection */
    #publishers = new Map();
    /** @type {RTCPeerConnection | null} */
    #subscriber = null;

    /** Our connections with the SFU (for their statistics: quality.js). */
    connections() {
        return [...this.#publishers.values(), ...(this.#subscriber ? [this.#subscriber] : [])];
    }
    /** @type {Map<string, SfuStream>} mid -> what it carries */
    #mids = new Map();
    /** @type {Map<string, MediaStream>} key -> stream */
    #streams = new Map();
    /** @type {Map<string, number>} mid -> layer asked for (OFF: none) */
    #layers = new Map();
    /** @type {{pc: RTCPeerConnection, at: number, stats: Promise<RTCStatsReport | null>, energy?: Map<string, Energy>} | null} the last read */
    #read = null;
    /** @type {object | null} the read the stall watch last looked at */
    #stallRead = null;
    /** @type {Map<string, Energy>} mid -> its sound energy when audioLevel last read it */
    #energy = new Map();
    /** @type {Map<string, {bytes: number, since: number}>} mid -> its video bytes, and since when that many */
    #progress = new Map();
    /** @type {Map<string, number>} mid -> until when it is received in full (its smaller layer stalled) */
    #full = new Map();
    /** @type {ReturnType<typeof setInterval> | undefined} */
    #stallTimer;
    /** The highest layer of our camera anyone receives (the server's sfu_send; all at first). */
    #sendUpTo = 2;
    /** The camera's layer changes, one at a time. */
    #sending = Promise.resolve();
    #closed = false;
    #failed = false;
    #queued = 0; // offers waiting for their turn
    /** The receiving connection's offers, one at a time. */
    #offers = Promise.resolve();

    /**
     * @param {SfuRequest} request an SFU event with its ack (ChatConnection.sfu)
     * @param {RTCConfiguration} config ICE servers and policy, as for the mesh
     * @param {number} budgetKbps
     */
    constructor(request, config, budgetKbps) {
        super();
        this.request = request;
        this.config = config;
        this.budgetKbps = budgetKbps;
    }

    /**
     * Sends `tracks` as our `source`: "camera" (audio and video, simulcast) or "screen".
     * @param {"camera" | "screen"} source
     * @param {{audio?: MediaStreamTrack | null, video?: MediaStreamTrack | null}} tracks
     */
    async publish(source, tracks) {
        this.#publishers.get(source)?.close();
        const pc = new RTCPeerConnection(this.config);
        this.#publishers.set(source, pc);
        this.#watch(pc, source);
        pc.onicecandidate = ({ candidate }) => {
            this.request("sfu_candidate", { target: source, candidate: candidate?.toJSON() ?? null }).catch(() => {});
        };
        if (source === "camera") {
            this.#sendUpTo = 2; // a new connection sends every layer until the server says otherwise
            pc.addTransceiver(tracks.audio ?? "audio", { direction: "sendonly" });
            const { camera } = budgetShares(this.budgetKbps, this.#publishers.has("screen"));
            pc.addTransceiver(tracks.video ?? "video", { direction: "sendonly", sendEncodings: camera });
        } else {
            const { screen } = budgetShares(this.budgetKbps, true);
            pc.addTransceiver(tracks.video ?? "video", { direction: "sendonly", sendEncodings: [{ maxBitrate: screen }] });
            await this.#fitCamera(true);
        }
        await pc.setLocalDescription();
        const ack = await this.request("sfu_publish", { source, offer: pc.localDescription?.toJSON() });
        if (this.#publishers.get(source) !== pc) return; // replaced or closed meanwhile
        await pc.setRemoteDescription(ack.answer);
    }

    /** Stops sending `source` (the screen share ended). @param {"camera" | "screen"} source */
    async unpublish(source) {
        const pc = this.#publishers.get(source);
        if (!pc) return;
        this.#publishers.delete(source);
        pc.close();
        if (source === "screen") await this.#fitCamera(false);
        await this.request("sfu_unpublish", { source }).catch(() => {});
    }

    /**
     * The camera's layers get their share of the budget: half of it while we share a screen.
     * @param {boolean} sharing
     */
    async #fitCamera(sharing) {
        const sender = this.#publishers.get("camera")?.getTransceivers().find((t) => t.receiver.track.kind === "video")?.sender;
        if (!sender) return;
        const parameters = sender.getParameters();
        const shares = new Map(budgetShares(this.budgetKbps, sharing).camera.map((e) => [e.rid, e.maxBitrate]));
        for (const encoding of parameters.encodings ?? []) {
            const bitrate = shares.get(encoding.rid);
            if (bitrate) encoding.maxBitrate = bitrate;
        }
        await sender.setParameters(parameters).catch(() => {});
    }

    /**
     * The server's sfu_send: nobody receives our camera's layers above `layer` now; the browser
     * stops encoding them (it starts again when told a higher one).
     * @param {number} layer
     */
    sendUpTo(layer) {
        if (![-1, 0, 1, 2].includes(layer)) return;
        this.#sendUpTo = layer;
        this.#sending = this.#sending.then(() => this.#applyLayers()).catch(() => {});
        return this.#sending;
    }

    /** @param {number} [retries] */
    async #applyLayers(retries = 10) {
        const pc = this.#publishers.get("camera");
        const sender = pc?.getTransceivers().find((t) => t.receiver.track.kind === "video")?.sender;
        if (!pc || !sender) return;
        let smallest = 2;
        let encoded = false;
        (await pc.getStats()).forEach((report) => {
            const layer = LAYER_OF_RID.get(report.rid);
            if (report.type === "outbound-rtp" && layer !== undefined && (report.framesEncoded ?? 0) > 0) {
                smallest = Math.min(smallest, layer);
                encoded = true;
            }
        });
        if (!encoded && this.#sendUpTo >= 0 && this.#sendUpTo < 2 && retries > 0 && !this.#closed) {
            // nothing encoded yet (a camera starting): which layers it sends is not known; later
            setTimeout(() => {
                this.#sending = this.#sending.then(() => this.#applyLayers(retries - 1)).catch(() => {});
            }, 1000);
        }
        const active = activeLayers(this.#sendUpTo, smallest);
        const parameters = sender.getParameters();
        let changed = false;
        for (const encoding of parameters.encodings ?? []) {
            const want = encoding.rid ? active.get(encoding.rid) : undefined;
            if (want !== undefined && encoding.active !== want) {
                encoding.active = want;
                changed = true;
            }
        }
        if (changed) await sender.setParameters(parameters);
    }

    /**
     * A track of ours changed (a new device, camera off/on): the camera's senders take it.
     * @param {"audio" | "video"} kind
     * @param {MediaStreamTrack | null} track
     */
    async setTrack(kind, track) {
        const pc = this.#publishers.get("camera");
        const sender = pc?.getTransceivers().find((t) => t.receiver.track.kind === kind)?.sender;
        if (sender) await sender.replaceTrack(track);
    }

    /** The server's sfu_offer: what we receive now. @param {{seq: number, offer: RTCSessionDescriptionInit, streams: SfuStream[], fresh?: boolean}} info */
    offered(info) {
        // the server sends the next offer only once this one is answered or given up (then it
        // subscribes us afresh): an offer with a later one queued behind it is stale, skipped
        this.#queued += 1;
        this.#offers = this.#offers.then(() => (--this.#queued === 0 ? this.#answer(info) : undefined)).catch(() => {});
        return this.#offers;
    }

    /** @param {{seq: number, offer: RTCSessionDescriptionInit, streams: SfuStream[], fresh?: boolean}} info */
    async #answer(info) {
        if (this.#closed) return;
        let pc = this.#subscriber;
        if (pc && info.fresh) {
            // the server subscribed us afresh (our answer came too late): a new connection; the
            // streams keep their MediaStreams, whose tracks the new one replaces
            pc.close();
            pc = this.#subscriber = null;
            this.#layers.clear();
            this.#progress.clear();
        }
        if (!pc) {
            pc = this.#subscriber = new RTCPeerConnection(this.config);
            this.#watch(pc, "subscriber");
            pc.onicecandidate = ({ candidate }) => {
                this.request("sfu_candidate", { target: "subscriber", candidate: candidate?.toJSON() ?? null }).catch(() => {});
            };
            pc.ontrack = ({ transceiver, track }) => this.#received(transceiver.mid, track);
        }
        this.#mids = new Map(info.streams.map((stream) => [stream.mid, stream]));
        await pc.setRemoteDescription(info.offer);
        await pc.setLocalDescription();
        await this.request("sfu_answer", { seq: info.seq, answer: pc.localDescription?.toJSON() });
        this.#regroup(pc);
    }

    /** @param {string | null} mid @param {MediaStreamTrack} track */
    #received(mid, track) {
        const stream = mid ? this.#mids.get(mid) : undefined;
        if (!stream) return;
        const key = streamKey(stream);
        let media = this.#streams.get(key);
        if (!media) {
            media = new MediaStream();
            this.#streams.set(key, media);
        }
        for (const old of media.getTracks()) if (old.kind === track.kind && old !== track) media.removeTrack(old);
        if (!media.getTracks().includes(track)) media.addTrack(track);
        this.dispatch("stream", { key, id: stream.id, source: stream.source, stream: media });
    }

    /** After a renegotiation: streams whose m-lines went are gone. @param {RTCPeerConnection} pc */
    #regroup(pc) {
        const live = new Set([...this.#mids.values()].map(streamKey));
        for (const key of [...this.#streams.keys()]) {
            if (!live.has(key)) {
                this.#streams.delete(key);
                this.dispatch("gone", { key });
            }
        }
        for (const transceiver of pc.getTransceivers()) {
            if (transceiver.mid && this.#mids.has(transceiver.mid) && transceiver.receiver.track) {
                this.#received(transceiver.mid, transceiver.receiver.track);
            }
        }
        for (const mid of [...this.#layers.keys()]) if (!this.#mids.has(mid)) this.#layers.delete(mid);
        for (const mid of [...this.#progress.keys()]) if (!this.#mids.has(mid)) this.#progress.delete(mid);
        for (const mid of [...this.#full.keys()]) if (!this.#mids.has(mid)) this.#full.delete(mid);
        for (const mid of [...this.#energy.keys()]) if (!this.#mids.has(mid)) this.#energy.delete(mid);
    }

    /**
     * The size each stream is shown at: the layer that fits it is asked for (changes only); the
     * camera video of someone `receives` says no to is not received at all (--last-n, lastn.js).
     * @param {Map<string, number>} heights key -> CSS pixels of its tile's height
     * @param {(id: string) => boolean} [receives] whether to receive this person's camera video
     */
    async fit(heights, receives = () => true) {
        const changes = [];
        for (const [mid, stream] of this.#mids) {
            if (stream.kind !== "video") continue;
            const height = heights.get(streamKey(stream));
            if (height === undefined) continue;
            const off = stream.source === "camera" && !receives(stream.id);
            let layer = off ? OFF : layerFor(height, globalThis.devicePixelRatio ?? 1);
            if (layer !== OFF && (this.#full.get(mid) ?? 0) > performance.now()) layer = 2;
            if (this.#layers.get(mid) !== layer) {
                this.#layers.set(mid, layer);
                this.#progress.delete(mid); // a stall is counted from this change on
                changes.push(off ? { mid, send: false } : { mid, substream: layer });
            }
        }
        if (changes.length) await this.request("sfu_layers", { layers: changes }).catch(() => {});
        this.#stallTimer ??= setInterval(() => this.#checkStalls(), STALL_CHECK_MS);
    }

    /**
     * The receiving connection's statistics, read again if the last read is older than `maxAge` ms.
     * @param {RTCPeerConnection} pc @param {number} maxAge
     */
    #readStats(pc, maxAge) {
        const now = performance.now();
        if (!this.#read || this.#read.pc !== pc || now - this.#read.at > maxAge) {
            // closed meanwhile: nothing is known
            this.#read = { pc, at: now, stats: pc.getStats().catch(() => null) };
        }
        return this.#read;
    }

    /** Videos asked for on a smaller layer that stopped coming are asked for in full (STALL_MS). */
    async #checkStalls() {
        const pc = this.#subscriber;
        if (!pc || this.#closed) return;
        // a read made for the levels in the last half second will do; never the same read twice
        const read = this.#readStats(pc, STALL_CHECK_MS / 2);
        if (read === this.#stallRead) return;
        this.#stallRead = read;
        const stats = await read.stats;
        if (!stats || pc !== this.#subscriber) return;
        const now = read.at;
        const changes = [];
        for (const report of stats.values()) {
            if (report.type !== "inbound-rtp" || report.kind !== "video" || report.mid == null) continue;
            const mid = String(report.mid);
            const bytes = report.bytesReceived ?? 0;
            const seen = this.#progress.get(mid);
            if (!seen || bytes > seen.bytes) {
                this.#progress.set(mid, { bytes, since: now });
                continue;
            }
            const layer = this.#layers.get(mid);
            if (layer === undefined || layer === OFF || layer >= 2 || now - seen.since < STALL_MS) continue;
            this.#full.set(mid, now + FULL_FOR_MS);
            this.#layers.set(mid, 2);
            this.#progress.set(mid, { bytes, since: now });
            changes.push({ mid, substream: 2 });
        }
        if (changes.length) await this.request("sfu_layers", { layers: changes }).catch(() => {});
    }

    /**
     * How loud someone's microphone was as we received it since the last call (0 to 1; null if we
     * receive none): the level over the whole interval, from the receiving connection's sound
     * energy (read once for everyone per tick), not the level of the last packet, which a short
     * sound between two reads never shows (a call of 50 people reads this five times a second).
     * @param {string} id
     * @returns {Promise<number | null>}
     */
    async audioLevel(id) {
        const mid = [...this.#mids.values()].find((s) => s.id === id && s.kind === "audio" && s.source === "camera")?.mid;
        const pc = this.#subscriber;
        if (!mid || !pc) return null;
        const read = this.#readStats(pc, ENERGY_READ_MS);
        const stats = await read.stats;
        read.energy ??= energyOf(stats);
        const reading = read.energy.get(mid);
        if (!reading) return 0;
        const last = this.#energy.get(mid);
        this.#energy.set(mid, reading);
        return last ? levelBetween(last, reading) : 0;
    }

    /**
     * A connection to the SFU that fails, or whose ICE has not connected CONNECT_MS after it was
     * made (a firewall that drops UDP silently: ICE would take half a minute to give up), is told
     * once, until one comes up (a slow one, or the server's fresh subscription).
     * @param {RTCPeerConnection} pc
     * @param {string} what
     */
    #watch(pc, what) {
        const report = () => {
            if (this.#closed || this.#failed || pc.connectionState === "closed") return;
            this.#failed = true;
            this.dispatch("failed", { what });
        };
        pc.addEventListener("connectionstatechange", () => {
            if (pc.connectionState === "failed") report();
            else if (pc.connectionState === "connected" && !this.#closed && this.#allUp()) {
                this.#failed = false; // a later failure is told again
                this.dispatch("connected", { what });
            }
        });
        setTimeout(() => ["new", "checking"].includes(pc.iceConnectionState) && report(), CONNECT_MS);
    }

    #allUp() {
        const open = [...this.#publishers.values(), this.#subscriber].filter((pc) => pc && pc.connectionState !== "closed");
        return open.every((pc) => pc?.connectionState === "connected");
    }

    close() {
        this.#closed = true;
        clearInterval(this.#stallTimer);
        for (const pc of this.#publishers.values()) pc.close();
        this.#publishers.clear();
        this.#subscriber?.close();
        this.#subscriber = null;
        this.#streams.clear();
        this.#mids.clear();
    }
}

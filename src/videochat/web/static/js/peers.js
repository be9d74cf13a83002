// The mesh: one RTCPeerConnection per other participant of the call, negotiated with the "perfect
// negotiation" pattern (docs/protocol.md, webrtc/samples), repaired by ICE restarts, re-created when
// it stays broken, and held to the upload budget. No DOM: the call follows its events.

import { Emitter } from "./events.js";
import { energyIn, levelBetween } from "./levels.js";

/** @typedef {"connecting" | "connected" | "retrying" | "failed"} LinkState */
/** @typedef {(event: "offer" | "answer" | "ice", payload: any, toId: string) => void} Signal */
/**
 * What a Mesh tells (Emitter), by event name, with the `detail` each carries:
 * @typedef {object} MeshEvents
 * @property {{id: string, stream: MediaStream}} stream a peer's stream appeared or got a new track
 * @property {{id: string, state: LinkState}} state the connection to a peer changed state
 */

/**
 * How long a connection may stay unconnected (a new one, or one broken and restarted) before it is
 * declared failed, closed and re-created.
 */
const RECREATE_AFTER_MS = 15000;
/** "disconnected" often heals by itself; after this long we restart ICE. */
const RESTART_DISCONNECTED_AFTER_MS = 4000;
/** Bits per second kept for each audio stream when sharing out the budget. */
const AUDIO_KBPS = 64;
const MIN_VIDEO_KBPS = 60;
/** Each peer's video share (kbit/s) from which the camera goes at its full size (720p). */
const FULL_SIZE_KBPS = 1500;
/**
 * A new connection sends the camera at most this tall at first. The encoder starts at a low bitrate
 * estimate, and a larger picture has its first frames dropped while it scales down (a 720p camera:
 * up to four, ~130 ms; 360 lines still lost frames in a join of four); a small first picture shows
 * at once (docs/protocol.md, "Call set-up").
 */
const START_HEIGHT = 180;
/** How long after connecting the camera goes up to its full size, once frames flow. */
const START_SIZE_FOR_MS = 1000;
/**
 * A spare connection (an offer made and its candidates gathered before anyone arrives) is replaced
 * after this long: its host candidates describe the network of then, its relay allocation ages.
 */
const SPARE_FOR_MS = 10 * 60 * 1000;
/** The spare is made this long after the call settled (every connection up): not during a join. */
const SPARE_AFTER_MS = 1500;
/**
 * A sender's limits that the browser refused (setParameters rejects parameters read before a
 * negotiation that came in between) are set again after this long, doubling up to the maximum.
 */
const LIMIT_RETRY_MS = 1000;
const LIMIT_RETRY_MAX_MS = 8000;
/**
 * Connections made in the pre-join view for the offers a join brings (one from each person in the
 * call): enough for a call of four, the size at which a join's work crowds a page most; in a bigger
 * call the others are made as their offers come.
 */
const ANSWERING_AHEAD = 3;
/** What every connection is made with; start() adds the ICE servers and policy of the join ack. */
const BASE_CONFIG = /** @type {RTCConfiguration} */ ({ bundlePolicy: "max-bundle" });

/**
 * The DTLS fingerprint of a description: a new one means the other side made a new connection.
 * @param {string | undefined} sdp
 */
export function fingerprintOf(sdp) {
    return /^a=fingerprint:(.+)$/m.exec(sdp ?? "")?.[1]?.trim() ?? "";
}

/**
 * Whether a candidate (its "candidate:..." text) can pair with nothing a call's peers offer: a
 * browser's TCP host candidates are "active" (port 9) and pair only with a passive one, which no
 * peer of a call has (browsers, aiortc); sent, they would cost each side a message and a candidate
 * to check for nothing. TURN over TCP is a relay candidate, not this.
 */
export function pairsWithNothing(candidate) {
    return / tcp .* tcptype active\b/i.test(candidate);
}

/**
 * A description without the candidates that can pair with nothing (as they are not trickled).
 * @param {string} sdp
 */
export function withoutUnpairable(sdp) {
    return sdp.split("\r\n").filter((line) => !(line.startsWith("a=candidate:") && pairsWithNothing(line))).join("\r\n");
}

/**
 * How much to scale a camera down so that it is at most `maxHeight` tall (1 for none, or for a
 * screen). From the track's size now: the camera's own size changes with the call's (media.js).
 * @param {Pick<MediaStreamTrack, "contentHint" | "getSettings"> | null} track
 * @param {number} maxHeight
 */
export function scaleFor(track, maxHeight) {
    if (!track || track.contentHint === "detail") return 1;
    const height = track.getSettings?.().height ?? 0;
    return height > maxHeight ? height / maxHeight : 1;
}

/**
 * Each video sender's share when the upload budget is shared among `peers` connections: the
 * budget over the peers less the audio, and a smaller picture when that share gets small. A mesh
 * encodes the camera once per peer: below FULL_SIZE_KBPS each encoder gets at most 360 lines (a
 * quarter of 720p's pixels, of the CPU), which also suits the bitrate (a 720p picture needs more
 * than that share to look better than 360p); below 150 kbit/s, 180 lines.
 * @param {number} budgetKbps
 * @param {number} peers
 * @returns {{bitrate: number, maxHeight: number}} bits per second; lines (Infinity: no limit)
 */
export function videoShare(budgetKbps, peers) {
    const videoKbps = Math.max(MIN_VIDEO_KBPS, budgetKbps / Math.max(1, peers) - AUDIO_KBPS);
    const maxHeight = videoKbps < 150 ? 180 : videoKbps < FULL_SIZE_KBPS ? 360 : Infinity;
    return { bitrate: videoKbps * 1000, maxHeight };
}

/**
 * Whether one more person could join the call: we, the peers we have connections to, those we
 * wait for, and one more within the call's size.
 * @param {number} peers
 * @param {number} expected
 * @param {number} maxCallSize
 */
export function roomForOneMore(peers, expected, maxCallSize) {
    return peers + expected + 2 <= maxCallSize;
}

/** @extends {Emitter<MeshEvents>} */
export class Mesh extends Emitter {
    /** Our id in the call (the socket id: a new one after a reconnect). */
    myId = "";
    /** @type {RTCConfiguration} */
    config = {};
    /** Our upload, kbit/s, shared among the peers (the server's setting; the join ack's). */
    budgetKbps;
    /** The call's size limit: no spare connection is kept for a newcomer who could not come. */
    maxCallSize;
    /** What we send: the same tracks go to every peer. */
    tracks = { audio: /** @type {MediaStreamTrack | null} */ (null), video: /** @type {MediaStreamTrack | null} */ (null) };

    /** @type {Map<string, PeerLink>} */
    #links = new Map();

    /** The connections with the call's peers (for their statistics: quality.js). */
    connections() {
        return [...this.#links.values()].filter((link) => !link.closed).map((link) => link.pc);
    }
    /**
     * The connection the next newcomer gets: made, offered and gathered while nobody waits, so that
     * a join costs the people in the call no offer to make (docs/protocol.md, "Call set-up").
     * @type {PeerLink | null}
     */
    #spare = null;
    #spareTimer = 0;
    /** The people in the call when we joined whose offers have not come yet. @type {Set<string>} */
    #expected = new Set();
    /**
     * Bare connections made before joining (prepareAnswering), for the offers the join brings: a
     * connection costs its page tens of milliseconds to make when the page is busy (docs/protocol.md,
     * "Call set-up"). @type {RTCPeerConnection[]}
     */
    #fresh = [];

    /**
     * @param {Signal} signal sends a signaling message to one peer
     * @param {{uploadBudgetKbps: number, callSize: number}} limits the server's (the page config),
     *     until a join ack says them again
     */
    constructor(signal, limits) {
        super();
        this.signal = signal;
        this.budgetKbps = limits.uploadBudgetKbps;
        this.maxCallSize = limits.callSize;
    }

    /**
     * Starts (or restarts, after a reconnect) with the settings from a join ack.
     * @param {import("./protocol.js").JoinAck} ack
     */
    start(ack) {
        this.closeAll();
        this.myId = ack.you.id;
        // No candidate pool (iceCandidatePoolSize): with one, about one answering connection in
        // twenty never gathered a candidate and waited for RECREATE_AFTER_MS (bench/HISTORY.md).
        this.config = { ...BASE_CONFIG, iceServers: ack.iceServers ?? [], iceTransportPolicy: ack.iceTransportPolicy ?? "all" };
        this.budgetKbps = ack.uploadBudgetKbps ?? this.budgetKbps;
        this.maxCallSize = ack.maxCallSize ?? this.maxCallSize;
        this.#expected = new Set((ack.peers ?? []).map((peer) => peer.id).filter((id) => id !== this.myId));
        this.#prepareSpare(); // alone in the call, ready for the next one; else once the call settles
    }

    /**
     * Fresh ICE servers (renewed TURN credentials) for every connection: used at their next ICE
     * restart (setConfiguration gathers nothing by itself) and by the connections made from now on.
     * @param {RTCIceServer[]} iceServers
     */
    setIceServers(iceServers) {
        this.config = { ...this.config, iceServers };
        const spare = this.#spare ? [this.#spare] : [];
        for (const link of [...this.#links.values(), ...spare]) {
            try {
                link.pc.setConfiguration(this.config);
            } catch (error) {
                console.warn("a connection took no new ICE servers", error);
            }
        }
    }

    /**
     * Makes, while nobody waits (the pre-join view), the connections that will answer the offers of
     * the people in the call: no descriptions, no candidates, no sockets until used.
     */
    prepareAnswering(count = ANSWERING_AHEAD) {
        if (typeof RTCPeerConnection !== "function") return; // a browser without WebRTC: nothing to make ahead
        while (this.#fresh.length < count) this.#fresh.push(new RTCPeerConnection(BASE_CONFIG));
    }

    /** A connection for an answering link: one made ahead, given the call's ICE settings, or a new one. */
    #answeringConnection() {
        const pc = this.#fresh.shift();
        if (pc) {
            try {
                pc.setConfiguration(this.config);
                return pc;
            } catch (error) {
                console.warn("a connection made ahead took no settings", error);
                pc.close();
            }
        }
        return new RTCPeerConnection(this.config);
    }

    /** A newcomer arrived: it gets the spare connection (its offer is on the way), or a new one. */
    connect(id) {
        if (id === this.myId) return;
        this.#links.get(id)?.close();
        const spare = this.#spare;
        this.#spare = null;
        if (spare && (spare.makingOffer || spare.pc.signalingState === "have-local-offer")) {
            spare.adopt(id); // its offer goes before anything else is done for the newcomer
            this.#register(id, spare);
        } else {
            spare?.close(); // its offer failed: a new connection tries again
            this.#create(id, true);
        }
    }

    /** @param {RTCSessionDescriptionInit} description */
    handleOffer(description, from) {
        let link = this.#links.get(from);
        // A new fingerprint: the other side closed its connection and made a new one; so do we.
        // One that was not up had failed: the other side's watch found it first (ours would have
        // soon, or never, if its new connections keep coming before ours runs out), so we say so.
        if (link && link.remoteFingerprint && fingerprintOf(description?.sdp) !== link.remoteFingerprint) {
            if (link.pc.connectionState !== "connected") this.dispatch("state", { id: from, state: "failed" });
            link.close();
            link = undefined;
        }
        (link ?? this.#create(from, false)).receive(() => description);
    }

    /** @param {RTCSessionDescriptionInit} description */
    handleAnswer(description, from) {
        this.#links.get(from)?.receive(() => description);
    }

    /** @param {RTCIceCandidateInit | null} candidate */
    handleIce(candidate, from) {
        if (candidate) this.#links.get(from)?.receive(() => candidate, true);
    }

    /** How loud a peer is (0 to 1) since the last read, from the energy of the sound received (levels.js). */
    audioLevel(id) {
        return this.#links.get(id)?.receivedAudioLevel() ?? null;
    }

    /** How loud our microphone is (0 to 1), from the statistics of a connection that sends it (null if none). */
    async ownAudioLevel() {
        for (const link of this.#links.values()) {
            const level = await link.sentAudioLevel();
            if (level !== null) return level;
        }
        return null;
    }

    /** The camera's size changed (media.js): every sender scales it again. */
    refresh() {
        this.#applyBudget();
    }

    /** The peer left the call: its connection goes. */
    remove(id) {
        this.#expected.delete(id);
        const link = this.#links.get(id);
        if (link) {
            link.close();
            this.#links.delete(id);
            this.#applyBudget();
        }
        this.#prepareSpare(); // there may be room again, or nobody left to wait for
    }

    closeAll() {
        for (const link of this.#links.values()) link.close();
        this.#links.clear();
        this.#dropSpare();
    }

    /**
     * Keeps a spare connection while the call has room for one more: made SPARE_AFTER_MS after
     * the call settled (every connection up; not during a join, which has the CPU first; and never
     * before the caller has set `tracks` after start), renewed after SPARE_FOR_MS. Called at start,
     * whenever a connection comes up, and when a peer leaves.
     */
    #prepareSpare() {
        window.clearTimeout(this.#spareTimer);
        this.#spareTimer = 0;
        if (!this.#roomForSpare()) return this.#dropSpare();
        const renew = this.#spare !== null;
        this.#spareTimer = window.setTimeout(() => {
            this.#spareTimer = 0;
            if (renew) this.#dropSpare();
            const settled = this.#expected.size === 0 && [...this.#links.values()].every((link) => link.pc.connectionState === "connected");
            if (!settled || !this.#roomForSpare()) return; // the next connection that comes up calls again
            this.#spare = new PeerLink(this, "", true);
            this.#prepareSpare(); // its renewal
        }, renew ? SPARE_FOR_MS : SPARE_AFTER_MS);
    }

    /** Whether one more person could join the call (we, our peers, those we wait for, and one). */
    #roomForSpare() {
        return Boolean(this.myId) && roomForOneMore(this.#links.size, this.#expected.size, this.maxCallSize);
    }

    #dropSpare() {
        window.clearTimeout(this.#spareTimer);
        this.#spareTimer = 0;
        this.#spare?.close();
        this.#spare = null;
    }

    /**
     * Sends another track (a new device, camera off = null, a screen) to everyone, without
     * renegotiating: RTCRtpSender.replaceTrack.
     * @param {"audio" | "video"} kind
     * @param {MediaStreamTrack | null} track
     */
    async setTrack(kind, track) {
        this.tracks[kind] = track;
        const links = [...this.#links.values(), ...(this.#spare ? [this.#spare] : [])];
        await Promise.all(links.map((link) => link.useTrack(kind, track)));
        if (kind === "video") this.#applyBudget();
    }

    #create(id, offerer) {
        return this.#register(id, new PeerLink(this, id, offerer, offerer ? undefined : this.#answeringConnection()));
    }

    /** @param {PeerLink} link */
    #register(id, link) {
        this.#expected.delete(id);
        this.#links.set(id, link);
        link.onstate = (state) => {
            this.dispatch("state", { id, state });
            if (state === "connected") {
                this.#applyBudget();
                this.#prepareSpare();
            }
            if (state === "failed" && this.#links.get(id) === link) this.#recreate(id, link);
        };
        link.onstream = (stream) => this.dispatch("stream", { id, stream });
        this.dispatch("state", { id, state: "connecting" });
        this.#applyBudget(); // the answering side's first picture needs its limit once its answer is set
        if (!this.#roomForSpare()) this.#dropSpare();
        return link;
    }

    /**
     * A connection that stayed failed: the impolite side makes a new one at once; the polite side
     * waits for its offer (which replaces the old connection, see handleOffer), and makes a new one
     * itself only if none came (a peer that does not re-create). Two new connections offering at
     * once are an ordinary glare.
     */
    #recreate(id, link) {
        const replace = () => {
            if (this.#links.get(id) !== link) return; // already replaced, or the peer left
            link.close();
            this.#create(id, true);
        };
        if (link.polite) window.setTimeout(replace, RECREATE_AFTER_MS);
        else replace();
    }

    /** Shares the upload budget among the peers (videoShare). */
    #applyBudget() {
        const { bitrate, maxHeight } = videoShare(this.budgetKbps, this.#links.size);
        for (const link of this.#links.values()) link.limitVideo(bitrate, maxHeight);
    }
}

/** One RTCPeerConnection and its negotiation state. */
class PeerLink {
    /** @type {((state: LinkState) => void) | null} */
    onstate = null;
    /** @type {((stream: MediaStream) => void) | null} */
    onstream = null;

    makingOffer = false;
    ignoreOffer = false;
    settingRemoteAnswerPending = false;
    closed = false;
    remoteFingerprint = "";
    stream = new MediaStream();
    /** @type {import("./levels.js").Energy | null} the received sound's totals at the last read */
    #heard = null;
    /** @type {{bitrate: number, maxHeight: number} | null} */
    #limit = null;
    /** The bitrate and scale the video sender was last given ("" for none). */
    #applied = "";
    #queue = Promise.resolve();
    #restartTimer = 0;
    #failTimer = 0;
    /** The camera's first frames go out at most START_HEIGHT tall; Infinity once lifted. */
    #startHeight = START_HEIGHT;
    #startTimer = 0;
    #limitTimer = 0;
    #limitRetryMs = LIMIT_RETRY_MS;
    /** What a spare connection had to send before it had a peer (its offer, its candidates). @type {[Parameters<Signal>[0], any][]} */
    #unsent = [];

    /**
     * @param {Mesh} mesh
     * @param {string} id the peer ("" for a spare connection, until adopt())
     * @param {boolean} offerer we start the negotiation (the others will answer)
     * @param {RTCPeerConnection} [pc] a connection made ahead (with mesh.config), else a new one
     */
    constructor(mesh, id, offerer, pc = new RTCPeerConnection(mesh.config)) {
        this.mesh = mesh;
        this.id = id;
        // The peer whose id sorts lower gives way when both offer at once.
        this.polite = mesh.myId < id;
        this.pc = pc;
        pc.addEventListener("negotiationneeded", () => this.#offer());
        pc.addEventListener("icecandidate", ({ candidate }) => {
            if (this.closed || (candidate && pairsWithNothing(candidate.candidate))) return;
            this.#send("ice", candidate ? candidate.toJSON() : null);
        });
        pc.addEventListener("track", ({ track }) => {
            if (!this.stream.getTracks().includes(track)) this.stream.addTrack(track);
            this.onstream?.(this.stream);
        });
        pc.addEventListener("connectionstatechange", () => this.#stateChanged());
        if (id) this.#watch(); // a connection that never gets there fails too (no relay, a lost offer...)
        if (offerer) {
            // One audio and one video transceiver, sending even when we have nothing yet: a track
            // that comes later (camera on, a screen) only replaces the sender's track.
            pc.addTransceiver(mesh.tracks.audio ?? "audio", { direction: "sendrecv" });
            pc.addTransceiver(mesh.tracks.video ?? "video", { direction: "sendrecv",
                sendEncodings: [{ scaleResolutionDownBy: scaleFor(mesh.tracks.video, START_HEIGHT) }] });
            // The offer goes now rather than a task later from negotiationneeded (which then finds
            // the state no longer stable and does not fire).
            this.#offer();
        }
    }

    /**
     * A spare connection gets its peer: what it prepared goes out now. Once its candidates are all
     * gathered, its offer as it now stands carries them: one message, and the newcomer takes them
     * with the description rather than in one addIceCandidate per candidate (each a wait for
     * WebRTC's threads, at the busiest moment of the newcomer's page).
     */
    adopt(id) {
        this.id = id;
        this.polite = this.mesh.myId < id;
        this.#watch();
        const unsent = this.#unsent.splice(0);
        const { localDescription, iceGatheringState, signalingState } = this.pc;
        // (An offer still being made goes as it comes, after what was kept.)
        if (iceGatheringState === "complete" && signalingState === "have-local-offer" && localDescription && !this.makingOffer) {
            this.mesh.signal("offer", { type: "offer", sdp: withoutUnpairable(localDescription.sdp) }, id);
            return;
        }
        for (const [event, payload] of unsent) this.mesh.signal(event, payload, id);
    }

    /** @param {"offer" | "answer" | "ice"} event */
    #send(event, payload) {
        if (this.id) this.mesh.signal(event, payload, this.id);
        else this.#unsent.push([event, payload]);
    }

    /**
     * Handles incoming signaling in arrival order (a candidate waits for the description before it).
     * @param {() => any} message
     */
    receive(message, isCandidate = false) {
        this.#queue = this.#queue.then(async () => {
            const payload = message();
            if (this.closed || !payload) return;
            try {
                if (isCandidate) await this.#candidate(payload);
                else await this.#description(payload);
            } catch (error) {
                console.warn(`peer ${this.id}: signaling failed`, error);
            }
        });
    }

    async useTrack(kind, track) {
        const transceiver = this.#transceiver(kind);
        if (!transceiver || this.closed) return;
        try {
            await transceiver.sender.replaceTrack(track);
        } catch (error) {
            console.warn(`peer ${this.id}: replaceTrack failed`, error);
        }
    }

    /**
     * Nothing to read before the connection is up, and each read waits for WebRTC's threads: a
     * connection being set up (a join, the busiest moment of a page) is not asked.
     * @returns {Promise<number | null>}
     */
    async receivedAudioLevel() {
        if (this.closed || this.pc.connectionState !== "connected") return null;
        const receiver = this.#transceiver("audio")?.receiver;
        if (!receiver) return null;
        const reading = energyIn(await receiver.getStats());
        if (!reading) return 0;
        const last = this.#heard;
        this.#heard = reading;
        return last ? levelBetween(last, reading) : 0;
    }

    /** @returns {Promise<number | null>} */
    async sentAudioLevel() {
        const sender = this.#transceiver("audio")?.sender;
        if (!sender?.track || this.closed || this.pc.connectionState !== "connected") return null;
        let level = null;
        (await sender.getStats()).forEach((report) => {
            if (report.type === "media-source" && report.kind === "audio" && typeof report.audioLevel === "number") level = report.audioLevel;
        });
        return level;
    }

    limitVideo(bitrate, maxHeight) {
        this.#limit = { bitrate, maxHeight };
        const sender = this.#transceiver("video")?.sender;
        if (!sender || this.closed) return;
        // A shared screen keeps its resolution (text must stay readable) and loses frames instead.
        const scale = scaleFor(sender.track, Math.min(maxHeight, this.#startHeight));
        const wanted = `${Math.round(bitrate)}/${scale}`;
        // The budget is shared out again at every join and connection: what a sender has already
        // costs no getParameters (a call that waits for WebRTC's busy threads while a join sets up).
        if (wanted === this.#applied) return;
        const parameters = sender.getParameters();
        if (!parameters.encodings?.length) return; // not negotiated yet: applied once connected
        for (const encoding of parameters.encodings) {
            encoding.maxBitrate = Math.round(bitrate);
            encoding.scaleResolutionDownBy = scale;
        }
        this.#applied = wanted;
        sender.setParameters(parameters).then(() => {
            this.#limitRetryMs = LIMIT_RETRY_MS;
        }, (error) => {
            this.#applied = "";
            console.warn(`peer ${this.id}: setParameters failed`, error);
            this.#retryLimit(); // no other change may come to set them again
        });
    }

    #retryLimit() {
        if (this.closed || this.#limitTimer) return;
        const delay = this.#limitRetryMs;
        this.#limitRetryMs = Math.min(2 * delay, LIMIT_RETRY_MAX_MS);
        this.#limitTimer = window.setTimeout(() => {
            this.#limitTimer = 0;
            if (this.#limit) this.limitVideo(this.#limit.bitrate, this.#limit.maxHeight);
        }, delay);
    }

    close() {
        if (this.closed) return;
        this.closed = true;
        window.clearTimeout(this.#restartTimer);
        window.clearTimeout(this.#failTimer);
        window.clearTimeout(this.#startTimer);
        window.clearTimeout(this.#limitTimer);
        for (const track of this.stream.getTracks()) this.stream.removeTrack(track);
        this.pc.close();
    }

    async #offer() {
        if (this.closed || this.makingOffer) return;
        try {
            this.makingOffer = true;
            await this.pc.setLocalDescription();
            if (this.pc.localDescription) this.#send("offer", this.pc.localDescription.toJSON());
        } catch (error) {
            console.warn(`peer ${this.id}: making an offer failed`, error);
        } finally {
            this.makingOffer = false;
        }
    }

    /** Perfect negotiation: the impolite side ignores a colliding offer, the polite side rolls back. */
    async #description(description) {
        const pc = this.pc;
        const readyForOffer = !this.makingOffer && (pc.signalingState === "stable" || this.settingRemoteAnswerPending);
        const collision = description.type === "offer" && !readyForOffer;
        this.ignoreOffer = !this.polite && collision;
        if (this.ignoreOffer) return;
        this.settingRemoteAnswerPending = description.type === "answer";
        try {
            await pc.setRemoteDescription(description);
        } finally {
            this.settingRemoteAnswerPending = false;
        }
        this.remoteFingerprint = fingerprintOf(description.sdp) || this.remoteFingerprint;
        if (description.type === "offer") {
            // The tracks and the answer are queued together on the connection's operations chain,
            // rather than one round trip through this thread per step before the answer goes.
            const sending = this.#sendOnOfferedTransceivers();
            sending.catch(() => {}); // awaited below, where a failure is reported (unless the answer failed first)
            await pc.setLocalDescription();
            if (pc.localDescription) this.#send("answer", pc.localDescription.toJSON());
            await sending;
        }
        if (pc.signalingState === "stable" && this.#limit) this.limitVideo(this.#limit.bitrate, this.#limit.maxHeight);
    }

    async #candidate(candidate) {
        try {
            await this.pc.addIceCandidate(candidate);
        } catch (error) {
            if (!this.ignoreOffer) throw error; // candidates of an offer we ignored are expected to fail
        }
    }

    /**
     * The answering side sends on the transceivers the offer made (one audio, one video). The
     * directions change at once (the answer needs them); resolves once the tracks are replaced.
     */
    #sendOnOfferedTransceivers() {
        const replaced = [];
        for (const kind of /** @type {const} */ (["audio", "video"])) {
            const transceiver = this.#transceiver(kind);
            if (!transceiver) continue;
            if (transceiver.direction !== "sendrecv") transceiver.direction = "sendrecv";
            const track = this.mesh.tracks[kind];
            if (transceiver.sender.track !== track) replaced.push(transceiver.sender.replaceTrack(track));
        }
        return Promise.all(replaced);
    }

    /** @param {"audio" | "video"} kind @returns {RTCRtpTransceiver | undefined} */
    #transceiver(kind) {
        // (`stopped`: the flag of browsers from before currentDirection could say so)
        return this.pc.getTransceivers().find((t) => !(/** @type {{stopped?: boolean}} */ (t)).stopped
            && t.receiver.track?.kind === kind && t.currentDirection !== "stopped");
    }

    #stateChanged() {
        if (this.closed) return;
        const state = this.pc.connectionState;
        window.clearTimeout(this.#restartTimer);
        if (state === "connected") {
            window.clearTimeout(this.#failTimer);
            this.#failTimer = 0;
            if (this.#startHeight < Infinity && !this.#startTimer) this.#startTimer = window.setTimeout(() => this.#liftStartScale(), START_SIZE_FOR_MS);
            this.onstate?.("connected");
        } else if (state === "disconnected") {
            this.#restartTimer = window.setTimeout(() => this.#restart(), RESTART_DISCONNECTED_AFTER_MS);
        } else if (state === "failed") {
            this.#restart();
        }
    }

    /** The camera goes up to its full size once the first frames went out (checked again later if none did). */
    async #liftStartScale() {
        const sender = this.#transceiver("video")?.sender;
        let sent = !sender?.track;
        if (sender?.track && !this.closed) {
            const stats = await this.pc.getStats(sender.track).catch(() => null);
            stats?.forEach((report) => { if (report.type === "outbound-rtp" && report.framesSent > 0) sent = true; });
        }
        if (this.closed) return;
        if (!sent) {
            this.#startTimer = window.setTimeout(() => this.#liftStartScale(), START_SIZE_FOR_MS / 2);
            return;
        }
        this.#startHeight = Infinity;
        if (this.#limit) this.limitVideo(this.#limit.bitrate, this.#limit.maxHeight);
    }

    /** ICE restart; if the connection is still not back after a while, it is declared failed. */
    #restart() {
        if (this.closed) return;
        this.onstate?.("retrying");
        this.pc.restartIce();
        this.#watch();
    }

    /** Declares the connection failed unless it is connected within RECREATE_AFTER_MS. */
    #watch() {
        if (this.#failTimer) return;
        this.#failTimer = window.setTimeout(() => {
            this.#failTimer = 0;
            if (!this.closed && this.pc.connectionState !== "connected") this.onstate?.("failed");
        }, RECREATE_AFTER_MS);
    }
}

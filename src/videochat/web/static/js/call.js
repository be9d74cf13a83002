// The video call of the room page: joins media (media.js), the mesh (peers.js) and the signaling
// (protocol.js) to the views (prejoin.js, tiles.js, controls.js). The only module that knows them all.

import { config } from "./config.js";
import { CallControls, controlState, listenToPushToTalk, listenToShortcuts } from "./controls.js";
import { byId, whenIdle } from "./dom.js";
import { Emitter } from "./events.js";
import { errorText, t } from "./i18n.js";
import { LastN } from "./lastn.js";
import { AudioLevels, LocalMedia } from "./media.js";
import { Mesh } from "./peers.js";
import { PreJoin } from "./prejoin.js";
import { QualityMeter } from "./quality.js";
import { SfuLink } from "./sfu.js";
import { loadDevices, saveDevices } from "./storage.js";
import { CallGrid, SELF } from "./tiles.js";

/** What the page says about a camera or microphone problem. */
const PROBLEM_TEXT = {
    denied: "media_denied",
    no_device: "media_no_device",
    in_use: "media_in_use",
    failed: "media_failed",
};

/** Speaking this long gets a person the big tile on the SFU, which stays theirs at least FEATURE_HOLD_MS. */
const FEATURE_AFTER_MS = 1200;
const FEATURE_HOLD_MS = 4000;
/** How often our connections' quality is looked at (quality.js: a change is told after two looks). */
const QUALITY_MS = 2000;

const input = (id) => /** @type {HTMLInputElement & HTMLSelectElement & HTMLButtonElement & HTMLVideoElement} */ (byId(id));

/**
 * What a Call tells (Emitter), by event name, with the `detail` each carries:
 * @typedef {object} CallEvents
 * @property {{id: string, nickname: string}} left someone left the call (maybe only the call)
 */

/** @extends {Emitter<CallEvents>} */
export class Call extends Emitter {
    #inCall = false;
    #prepared = false;
    /** Our own nickname, for our tile. */
    #name = "";
    /** When our TURN credentials are renewed (#renewIceServersIn). */
    #renewTimer = 0;
    /** @type {import("./protocol.js").CallMode} the call's mode, as the server says */
    #mode = "mesh";
    /** Our connections with the SFU while the call is on it. @type {SfuLink | null} */
    #sfu = null;
    /** The screen we publish to the SFU. @type {MediaStreamTrack | null} */
    #sharing = null;
    #uploadBudgetKbps = 0;
    /** Our connections' quality, looked at every QUALITY_MS while in the call (quality.js). */
    #quality = new QualityMeter();
    #qualityTimer = 0;
    /** Tiles' sizes, for the simulcast layer each needs. */
    #tileSizes = new ResizeObserver(() => this.#fitLayers());

    /**
     * @param {import("./protocol.js").ChatConnection} connection
     * @param {() => string} room the room we are in
     */
    constructor(connection, room) {
        super();
        this.connection = connection;
        this.room = room;
        this.media = new LocalMedia();
        this.media.chosen = loadDevices();
        this.levels = new AudioLevels();
        this.mesh = new Mesh((event, payload, toId) => connection.signal(event, payload, toId), config.limits);
        this.grid = new CallGrid(byId("tiles"));
        /** Whose camera video we receive on the SFU (--last-n). */
        this.lastN = new LastN(config.limits.lastN ?? 0);
        this.grid.on("pin", ({ id }) => this.#togglePin(id));
        if (this.media.chosen.audiooutput && LocalMedia.canChooseSpeaker) this.grid.setSink(this.media.chosen.audiooutput);
        this.view = byId("call");
        this.message = { box: byId("call-message"), text: byId("call-message-text") };
        this.prejoin = new PreJoin({
            panel: byId("prejoin"), video: input("preview-video"), placeholder: byId("preview-placeholder"),
            mic: input("prejoin-mic"), camera: input("prejoin-camera"), cameraSelect: input("prejoin-camera-select"),
            micSelect: input("prejoin-mic-select"), join: input("call-join"), note: byId("prejoin-note"),
            callers: byId("prejoin-callers"),
        });
        this.controls = new CallControls({
            mic: input("mute-button"), camera: input("camera-button"), share: input("share-button"),
            leave: input("leave-call"), cameraSelect: input("camera-select"), micSelect: input("mic-select"),
            speakerSelect: input("speaker-select"), speakerField: byId("speaker-field"), reactions: byId("reactions"),
        }, Boolean(navigator.mediaDevices?.getDisplayMedia), LocalMedia.canChooseSpeaker);
        byId("call-message-dismiss").addEventListener("click", () => this.#say(""));
        this.#wireMedia();
        this.#wireViews();
        this.#wireSignaling();
    }

    get inCall() {
        return this.#inCall;
    }

    /** Shows the pre-join view and opens camera and microphone for the preview (once). */
    async prepare(name) {
        this.#name = name;
        this.prejoin.setVisible(!this.#inCall);
        if (this.#prepared) return;
        this.#prepared = true;
        this.prejoin.setBusy(true);
        const problem = await this.media.start();
        this.prejoin.setBusy(false);
        this.#render();
        // The connections a join will answer with are made now, while the person looks at the
        // preview, rather than when the offers come and the page has the most to do.
        whenIdle(() => this.mesh.prepareAnswering());
        if (problem === "no_device" && (this.media.audio || this.media.camera)) {
            this.#say(t(this.media.audio ? "media_no_camera" : "media_no_microphone"), "warning");
        } else if (problem) {
            this.#say(t(PROBLEM_TEXT[problem]), "warning");
        }
    }

    /** Our nickname (or someone else's) changed. */
    rename(id, nickname) {
        if (id === this.connection.you?.id || id === SELF) {
            this.#name = nickname;
            if (this.grid.has(SELF)) this.grid.upsert(SELF, nickname, this.media.state, true);
        } else if (this.grid.has(id)) {
            this.grid.upsert(id, nickname);
        }
    }

    async join() {
        // The request goes first: everything else here can happen while it travels.
        const joining = this.connection.joinCall(this.room(), this.media.state);
        this.prejoin.setBusy(true);
        try {
            this.#enter(await joining);
            // A refusal is past news now; a camera or microphone problem still holds.
            if (this.message.box.dataset.kind === "error") this.#say("");
        } catch (error) {
            this.#say(errorText(error), "error");
        } finally {
            this.prejoin.setBusy(false);
        }
    }

    async leave() {
        this.#exit();
        try {
            await this.connection.leaveCall();
        } catch {
            // Not in the call any more (the server dropped us): that is what we wanted.
        }
        // The camera light goes off until the person asks for the preview again.
        this.media.stop();
        this.#prepared = false;
        await this.prepare(this.#name);
    }

    /** In the call from a join ack: on joining, and again after a reconnect (new ids, new connections). */
    #enter(ack) {
        this.#inCall = true;
        this.#name = ack.you.nickname;
        this.mesh.start(ack);
        this.#renewIceServersIn(ack.iceTtl);
        this.mesh.tracks = { audio: this.media.audio, video: this.media.videoTrack };
        this.prejoin.setVisible(false);
        this.view.hidden = false;
        this.grid.clear();
        this.grid.upsert(SELF, ack.you.nickname, this.media.state, true);
        this.grid.setStream(SELF, this.media.preview);
        this.levels.watch(SELF, () => (this.media.audio?.enabled ? this.mesh.ownAudioLevel() : 0));
        for (const peer of ack.peers ?? []) {
            if (peer.id !== ack.you.id) this.grid.upsert(peer.id, peer.nickname, peer.media);
        }
        this.#sizeChanged(); // before the offers come: the connections start at the call's size
        this.#render();
        this.#uploadBudgetKbps = ack.uploadBudgetKbps;
        this.#mode = "mesh";
        if (ack.mode === "sfu") this.#toSfu(false);
        this.#quality = new QualityMeter();
        clearInterval(this.#qualityTimer);
        this.#qualityTimer = window.setInterval(() => this.#lookAtQuality(), QUALITY_MS);
    }

    /** Grades our connections (mesh and SFU) and tells the others when the grade changes. */
    async #lookAtQuality() {
        const connections = [...this.mesh.connections(), ...(this.#sfu?.connections() ?? [])];
        const reports = await Promise.all(connections.map((pc) => pc.getStats().then((r) => [...r.values()], () => [])));
        if (!this.#inCall) return;
        const quality = this.#quality.look(reports);
        if (!quality) return;
        this.grid.setQuality(SELF, quality);
        this.connection.sendMediaState({ ...this.media.state, quality });
    }

    /**
     * The call is on the SFU (docs/sfu.md): publish there, receive everyone from there. The mesh
     * goes on until each person's media arrives through the SFU (make before break).
     * @param {boolean | string} announce say that the call is moving (true), or why (an i18n key)
     */
    #toSfu(announce) {
        this.#sfu?.close();
        this.#mode = "sfu";
        this.#sharing = null;
        this.#published = false;
        const link = (this.#sfu = new SfuLink((event, request) => this.connection.sfu(event, request), this.mesh.config, this.#uploadBudgetKbps));
        if (announce) this.#say(t(announce === true ? "sfu_moving" : announce), "info");
        link.on("stream", ({ key, id, source, stream }) => {
            if (this.#sfu !== link) return;
            if (source === "screen") {
                this.grid.upsert(key, t("screen_of", { name: this.grid.nameOf(id) }), { audio: false, video: true, screen: true });
                this.grid.setStream(key, stream);
                this.grid.setState(key, "connected");
            } else {
                // make before break: the tile changes to the SFU's stream once it has a picture,
                // then the mesh connection goes
                this.grid.replaceStream(id, stream).then(() => {
                    if (this.#sfu !== link || !this.grid.has(id)) return;
                    this.grid.setState(id, "connected");
                    this.levels.watch(id, () => link.audioLevel(id)); // the speaking ring, from the SFU's audio
                    this.mesh.remove(id); // its media comes through the SFU now
                    if (this.message.box.dataset.kind === "info") this.#say("");
                });
            }
            for (const item of this.grid.list.children) this.#tileSizes.observe(item);
            this.#fitLayers();
        });
        link.on("gone", ({ key }) => {
            if (key.endsWith(":screen")) this.grid.remove(key);
        });
        link.on("failed", () => this.#sfuUnreachable(link));
        link.on("connected", () => {
            if (this.#sfu === link && this.message.box.dataset.sfu) this.#say("");
        });
        this.#syncSfu();
    }

    /** Our media cannot reach the SFU: the server takes the call back to a mesh if it fits. @param {SfuLink} link */
    async #sfuUnreachable(link) {
        if (this.#sfu !== link) return;
        try {
            await this.connection.sfu("sfu_status", { ok: false });
        } catch (error) {
            // sfu_reachable: Janus saw our connection come up; a slow one is still connecting
            if (error?.code === "sfu_reachable") return;
            this.#say(error?.code === "sfu_failed" ? t("sfu_too_big") : errorText(error), "error");
            this.message.box.dataset.sfu = "failed"; // cleared when the SFU's connections come up
        }
    }

    /** The call is back to peer to peer: SFU connections go, a mesh is made again. @param {string} [reason] */
    #toMesh(reason) {
        this.grid.feature("");
        this.#sfu?.close();
        this.#sfu = null;
        this.#sharing = null;
        this.#mode = "mesh";
        if (reason) this.#say(t(reason === "sfu_unreachable" ? "sfu_unreachable" : "sfu_lost"), "warning");
        const you = this.connection.you?.id ?? "";
        for (const member of this.#othersInCall()) {
            if (this.grid.has(`${member.id}:screen`)) this.grid.remove(`${member.id}:screen`);
            if (you < member.id) this.mesh.connect(member.id); // of each pair, the lower id offers
        }
        this.#fitLayers(); // a mesh receives everyone's video
    }

    /** What we send to the SFU follows our media: camera and microphone, and the screen apart. */
    #syncSfu() {
        const link = this.#sfu;
        if (!link) return;
        const media = this.media;
        const camera = media.cameraOff ? null : media.camera;
        if (!this.#published) {
            this.#published = true;
            link.publish("camera", { audio: media.audio, video: camera }).catch((error) => this.#say(errorText(error), "warning"));
        } else {
            link.setTrack("audio", media.audio);
            link.setTrack("video", camera);
        }
        if (media.screen && this.#sharing !== media.screen) {
            this.#sharing = media.screen;
            link.publish("screen", { video: media.screen }).catch((error) => this.#say(errorText(error), "warning"));
        } else if (!media.screen && this.#sharing) {
            this.#sharing = null;
            link.unpublish("screen");
        }
    }

    #published = false;

    /** Each received video at the layer its tile needs. */
    #fitLayers() {
        const items = /** @type {HTMLElement[]} */ ([...this.grid.list.children]);
        const people = items.map((item) => item.dataset.peerId ?? "").filter((key) => key && key !== SELF && !key.endsWith(":screen"));
        // On the SFU, the camera video of --last-n people only (lastn.js); the mesh receives everyone.
        const received = this.#sfu ? this.lastN.choose(people) : new Set(people);
        for (const id of people) this.grid.setPaused(id, !received.has(id));
        if (!this.#sfu) return;
        /** @type {Map<string, number>} */
        const heights = new Map();
        for (const item of items) {
            const key = item.dataset.peerId;
            if (key) heights.set(key, item.clientHeight);
        }
        this.#sfu.fit(heights, (id) => received.has(id));
    }

    /** The pin of a tile pressed: pinned, it is received and featured; pressed again, not. @param {string} id */
    #togglePin(id) {
        const pinned = !this.lastN.isPinned(id);
        this.lastN.pin(id, pinned);
        this.grid.setPinned(id, pinned);
        for (const other of [...this.grid.list.children].map((item) => /** @type {HTMLElement} */ (item).dataset.peerId ?? "")) {
            if (pinned && other !== id && this.lastN.isPinned(other)) {
                this.lastN.pin(other, false); // one pinned at a time, as in Meet: the big tile is theirs
                this.grid.setPinned(other, false);
            }
        }
        this.grid.feature(pinned ? id : "");
        this.#fitLayers();
    }

    /**
     * Three or more in the call: the camera runs small (media.js, SMALL_VIDEO_CONSTRAINTS); the
     * senders scale it again once it has its new size. Before joining, the call we would make with
     * those in it counts: the preview's camera opens at that size, so Join changes nothing of it
     * while the connections are made (no resize under senders just made, no limits set again).
     */
    #sizeChanged() {
        const small = (this.#inCall ? this.grid.size : this.#othersInCall().length + 1) >= 3;
        this.media.setSmall(small).then((changed) => changed && this.mesh.refresh());
    }

    /** The others in the room's call (we are among its callers while we are in it). */
    #othersInCall() {
        return this.connection.callers.filter((member) => member.id !== this.connection.you?.id);
    }

    /**
     * TURN credentials expire after `ttl` seconds (--turn-ttl): half way, fresh ones are asked for
     * and given to the connections, for their later ICE restarts and for new connections. A relay
     * allocation already made goes on with the credential it was made with (docs/deploy.md).
     * @param {number | null | undefined} ttl
     */
    #renewIceServersIn(ttl) {
        clearTimeout(this.#renewTimer);
        if (!ttl) return;
        this.#renewTimer = window.setTimeout(async () => {
            try {
                const ack = await this.connection.renewIceServers();
                if (!this.#inCall) return;
                this.mesh.setIceServers(ack.iceServers);
                this.#renewIceServersIn(ack.iceTtl);
            } catch {
                // Out of the call, or offline: a re-join brings fresh credentials.
            }
        }, ttl * 500);
    }

    #exit() {
        this.#inCall = false;
        this.#sfu?.close();
        this.#sfu = null;
        this.#mode = "mesh";
        this.#tileSizes.disconnect();
        clearTimeout(this.#renewTimer);
        clearInterval(this.#qualityTimer);
        this.mesh.closeAll();
        this.grid.clear();
        this.levels.close();
        this.media.stopScreen();
        this.#sizeChanged();
        this.view.hidden = true;
        this.prejoin.setVisible(true);
    }

    #wireMedia() {
        const media = this.media;
        media.ontrack = (kind, track) => {
            this.mesh.setTrack(kind, track);
            this.#syncSfu();
            this.#mediaChanged();
        };
        media.ondevices = (devices) => {
            this.prejoin.showDevices(devices, media);
            this.controls.showDevices(devices, media);
        };
        media.ondeviceended = (kind) => {
            this.#say(t(kind === "audio" ? "microphone_unplugged" : "camera_unplugged"), "warning");
            this.#render();
        };
        media.onscreenended = () => this.#mediaChanged();
        /** @type {Map<string, number>} who speaks now, since when (ms) */
        const speakingSince = new Map();
        let featured = "";
        let featuredAt = 0;
        this.levels.onspeaking = (id, speaking) => {
            this.grid.setSpeaking(id || SELF, speaking);
            if (!id || id === SELF) return;
            if (!speaking) {
                speakingSince.delete(id);
                return;
            }
            const now = performance.now();
            speakingSince.set(id, now);
            // On the SFU, the person speaking gets the big tile (Google Meet's "auto" layout), once
            // they have spoken for a moment and the last change is a few seconds old: a tile that
            // jumped at every cough would change everyone's received layers all the time.
            window.setTimeout(() => {
                if (this.#mode !== "sfu" || speakingSince.get(id) !== now) return;
                if (this.lastN.spoke(id)) this.#fitLayers(); // a recent speaker: their video comes (--last-n)
                if (id === featured || [...this.grid.list.querySelectorAll("[data-pinned]")].length) return; // a pin holds the big tile
                if (performance.now() - featuredAt < FEATURE_HOLD_MS && featured) return;
                featured = id;
                featuredAt = performance.now();
                this.grid.feature(id);
            }, FEATURE_AFTER_MS);
        };
    }

    #wireViews() {
        const toggleMute = async () => {
            if (!this.media.audio) {
                // No microphone yet (none found, or unplugged): try again, one may be there now.
                const problem = await this.media.choose("audioinput", this.media.chosen.audioinput);
                if (problem) this.#say(t(PROBLEM_TEXT[problem]), "warning");
                if (this.media.audio) this.media.setMuted(false);
                return this.#mediaChanged();
            }
            this.media.setMuted(!this.media.muted);
            this.#mediaChanged();
        };
        const toggleCamera = async () => {
            if (!this.media.camera && !this.media.cameraOff) {
                // No camera yet (none found, or unplugged): try again, one may be there now.
                const problem = await this.media.setCameraOff(false);
                if (problem) this.#say(t(PROBLEM_TEXT[problem]), "warning");
                return this.#mediaChanged();
            }
            const problem = await this.media.setCameraOff(!this.media.cameraOff);
            if (problem) this.#say(t(PROBLEM_TEXT[problem]), "warning");
            this.#mediaChanged();
        };
        const choose = async (kind, deviceId) => {
            if (kind === "audiooutput") {
                this.media.chooseSpeaker(deviceId);
                this.grid.setSink(deviceId);
                saveDevices(this.media.chosen);
                return;
            }
            const problem = await this.media.choose(kind, deviceId);
            if (!problem) saveDevices(this.media.chosen);
            if (problem) this.#say(t(PROBLEM_TEXT[problem]), "warning");
            this.#render();
        };
        this.prejoin.onjoin = () => this.join();
        this.prejoin.onmute = toggleMute;
        this.prejoin.oncamera = toggleCamera;
        this.prejoin.onchoose = choose;
        this.controls.onmute = toggleMute;
        this.controls.oncamera = toggleCamera;
        this.controls.onchoose = choose;
        this.controls.onleave = () => this.leave();
        this.controls.onreact = async (emoji) => {
            try {
                await this.connection.sendReaction(emoji);
                this.grid.react(SELF, emoji);
            } catch (error) {
                this.#say(errorText(error), "warning");
            }
        };
        this.controls.onshare = async () => {
            if (this.media.screen) {
                this.media.stopScreen();
                return this.#mediaChanged();
            }
            const problem = await this.media.startScreen();
            if (problem && problem !== "cancelled") this.#say(t("share_failed"), "warning");
            this.#mediaChanged();
        };
        // The room's owner asked us to mute (moderation): we mute; only we can unmute ourselves.
        this.connection.on("muterequest", ({ room }) => {
            if (room === this.room() && this.media.audio && !this.media.muted) {
                this.media.setMuted(true);
                this.#mediaChanged();
            }
        });
        listenToShortcuts({
            m: () => (this.#inCall || this.prejoin.visible) && toggleMute(),
            v: () => (this.#inCall || this.prejoin.visible) && toggleCamera(),
        });
        listenToPushToTalk(
            () => this.#inCall && Boolean(this.media.audio) && this.media.muted,
            (talking) => {
                this.media.setMuted(!talking);
                this.#mediaChanged();
            },
        );
    }

    #wireSignaling() {
        const connection = this.connection;
        const mesh = this.mesh;
        connection.on("callers", ({ max }) => {
            this.prejoin.showCallers(this.#othersInCall().map((member) => member.nickname), max);
            if (!this.#inCall) this.#sizeChanged();
        });
        // The connection's work starts first; the tile is drawn while the browser does it (its
        // tracks arrive a task later, when the tile is there).
        connection.on("callwelcome", ({ peer }) => {
            if (!this.#inCall || peer.id === connection.you?.id) return;
            const known = this.grid.has(peer.id);
            if (this.#mode === "mesh") mesh.connect(peer.id); // the newcomer waits for our offer (on the SFU: its streams come from there)
            this.grid.upsert(peer.id, peer.nickname, peer.media);
            if (!known) this.#sizeChanged();
        });
        connection.on("offer", ({ description, sender: { from, member } }) => {
            if (!this.#inCall) return;
            mesh.handleOffer(description, from);
            if (!this.grid.has(from)) {
                this.grid.upsert(from, member?.nickname ?? "");
                this.#sizeChanged();
            }
        });
        connection.on("answer", ({ description, sender }) => this.#inCall && mesh.handleAnswer(description, sender.from));
        connection.on("ice", ({ candidate, sender }) => this.#inCall && mesh.handleIce(candidate, sender.from));
        connection.on("mediastate", ({ id, media }) => this.grid.setMedia(id, media));
        connection.on("reaction", ({ id, emoji }) => this.grid.react(id, emoji));
        connection.on("peerleft", ({ id, nickname }) => {
            mesh.remove(id);
            if (this.grid.has(`${id}:screen`)) this.grid.remove(`${id}:screen`);
            this.levels.unwatch(id);
            this.lastN.forget(id);
            this.grid.remove(id);
            this.#sizeChanged();
            this.#fitLayers();
            this.dispatch("left", { id, nickname });
        });
        connection.on("callrejoin", (ack) => this.#enter(ack));
        connection.on("callmode", ({ mode, reason, moved }) => {
            if (!this.#inCall) return;
            if (mode === "sfu") {
                if (reason) this.#say(t("sfu_too_big"), "error");
                else if (moved || this.#mode !== "sfu") this.#toSfu(moved ? "sfu_moved" : true);
            } else if (this.#mode === "sfu") {
                this.#toMesh(reason);
            }
        });
        connection.on("sfuoffer", (info) => {
            if (!this.#inCall) return;
            if (!this.#sfu) this.#toSfu(false);
            this.#sfu?.offered(info);
        });
        connection.on("sfusend", ({ source, layer }) => {
            if (this.#inCall && source === "camera") this.#sfu?.sendUpTo(layer);
        });
        connection.on("callrejoinfailed", (error) => {
            this.#exit();
            this.#say(errorText(error), "error");
        });
        mesh.on("stream", ({ id, stream }) => {
            this.grid.setStream(id, stream);
            this.levels.watch(id, () => mesh.audioLevel(id));
        });
        mesh.on("state", ({ id, state }) => {
            this.grid.setState(id, state);
            const name = this.grid.nameOf(id);
            if (state === "failed" || state === "retrying") {
                this.#say(t(state === "failed" ? "peer_failed_message" : "peer_retrying_message", { name }), "warning");
                this.message.box.dataset.peer = id; // cleared when this connection is back
            } else if (state === "connected" && this.message.box.dataset.peer === id) {
                this.#say("");
            }
        });
    }

    /** Our media changed: the others hear of it, and every view shows it. */
    #mediaChanged() {
        if (this.#inCall) this.connection.sendMediaState({ ...this.media.state, ...(this.#quality.quality && { quality: this.#quality.quality }) });
        this.#render();
    }

    #render() {
        const media = this.media;
        this.prejoin.show(media);
        this.controls.show(controlState(media));
        if (this.grid.has(SELF)) {
            this.grid.upsert(SELF, this.#name, media.state, true);
            this.grid.setStream(SELF, media.preview);
        }
    }

    /** One message about the call at a time, in the page (role=alert); "" clears it. */
    #say(text, kind = "info") {
        const { box } = this.message;
        this.message.text.textContent = text;
        box.dataset.kind = kind;
        box.hidden = !text;
        delete box.dataset.sfu;
        if (!text) delete box.dataset.peer;
    }
}

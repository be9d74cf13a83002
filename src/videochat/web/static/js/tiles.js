// The call's tiles (#tiles): one per participant, with video, name, muted / camera-off / screen
// indicators, the speaking ring and the state of the connection. Rendering only.

import { avatar, el, namesakeTag } from "./dom.js";
import { Emitter } from "./events.js";
import { t } from "./i18n.js";

/** The id of our own tile. */
export const SELF = "self";

/** The longest a tile waits for a new stream's first frame before it shows the stream anyway. */
const FIRST_FRAME_WAIT_MS = 4000;

/** How long a reaction shows over a tile (its animation in call.css lasts as long). */
const REACTION_MS = 4000;

/** @typedef {import("./protocol.js").MediaState} MediaState */
/**
 * What a tile shows of its participant: what they send, whether they speak now.
 * @typedef {{media: MediaState, speaking: boolean}} TileState
 */
/**
 * What a CallGrid tells (Emitter): a tile's state changed, or it came or went (others show the
 * same state elsewhere: the people list, callstate.js).
 * @typedef {object} GridEvents
 * @property {{id: string}} changed
 * @property {{id: string}} pin the pin button of a tile was pressed (call.js decides)
 */

/** @extends {Emitter<GridEvents>} */
export class CallGrid extends Emitter {
    /** @type {Map<string, {item: HTMLElement, video: HTMLVideoElement, audio: HTMLAudioElement | null, name: string, media: MediaState, state: string}>} */
    #tiles = new Map();
    #sinkId = "";
    /** @type {Map<string, number>} raised hands: tile id -> place in the line */
    #hands = new Map();
    /** @type {Map<string, string>} tags of namesakes (names.js): id -> tag */
    #tags = new Map();

    /** @param {HTMLElement} list the #tiles list */
    constructor(list) {
        super();
        this.list = list;
    }

    /** What the tile of `id` shows, if there is one. @param {string} id @returns {TileState | undefined} */
    stateOf(id) {
        const tile = this.#tiles.get(id);
        return tile && { media: { ...tile.media }, speaking: tile.item.hasAttribute("data-speaking") };
    }

    /** Adds a tile (or renames it). @param {string} id @param {string} name @param {MediaState} media */
    upsert(id, name, media = { audio: false, video: false, screen: false }, mine = false) {
        let tile = this.#tiles.get(id);
        if (!tile) {
            const video = /** @type {HTMLVideoElement} */ (el("video", { className: "tile-video", attrs: { playsinline: "", autoplay: "" } }));
            video.autoplay = true;
            video.playsInline = true;
            // The sound plays from an <audio> of its own: a <video> whose video track has no frame
            // (a camera off, a video not received for now: --last-n) plays no sound either, in
            // Chromium. Our own tile has none: our sound would echo.
            video.muted = true;
            const audio = mine ? null : /** @type {HTMLAudioElement} */ (el("audio", { className: "tile-audio", attrs: { autoplay: "", hidden: "" } }));
            if (audio) audio.autoplay = true;
            const item = el("li", { className: mine ? "call-tile mine" : "call-tile", attrs: { "data-peer-id": id } }, [
                video,
                ...(audio ? [audio] : []),
                el("div", { className: "tile-placeholder" }),
                el("p", { className: "tile-state", attrs: { "aria-live": "polite" } }),
                el("div", { className: "tile-label" }, [
                    el("span", { className: "tile-muted", text: "", attrs: { role: "img", "aria-label": t("muted_indicator"), title: t("muted_indicator") } }),
                    el("span", { className: "tile-name", attrs: { dir: "auto" } }),
                    el("span", { className: "tile-screen", text: t("screen_indicator") }),
                    el("span", { className: "tile-hand", text: "✋", attrs: { role: "img", "aria-label": t("hand_raised"), title: t("hand_raised") } }),
                    el("span", { className: "tile-quality quality-bars", attrs: { role: "img" } }, [el("i"), el("i"), el("i")]),
                ]),
            ]);
            if (!mine) {
                const pin = el("button", {
                    className: "icon-button tile-pin", text: "📌",
                    attrs: { type: "button", "data-testid": "tile-pin", "aria-pressed": "false" },
                });
                pin.addEventListener("click", () => this.dispatch("pin", { id }));
                item.append(pin);
            }
            tile = { item, video, audio, name, media, state: mine ? "connected" : "connecting" };
            this.#tiles.set(id, tile);
            if (mine) this.list.prepend(item);
            else this.list.append(item);
            if (audio && this.#sinkId) this.#applySink(audio);
        }
        tile.name = name;
        tile.media = { ...media };
        this.#showHand(id);
        this.#render(id);
        this.#layout();
        this.dispatch("changed", { id });
    }

    /** Namesakes among the participants get their tag (names.js). @param {Map<string, string>} tags */
    setTags(tags) {
        this.#tags = tags;
        for (const id of this.#tiles.keys()) this.#render(id);
    }

    /** @param {string} id @param {MediaStream} stream */
    setStream(id, stream) {
        const tile = this.#tiles.get(id);
        if (!tile) return;
        if (tile.video.srcObject !== stream) tile.video.srcObject = stream;
        // A track added to a playing stream needs no new play(); a first one does.
        tile.video.play().catch(() => {});
        if (tile.audio) {
            // a stream of the sound alone, made again whenever its tracks change: an element given
            // a stream before its sound track was added may never play that track
            const sound = stream.getAudioTracks();
            const playing = /** @type {MediaStream | null} */ (tile.audio.srcObject)?.getTracks() ?? [];
            if (sound.length !== playing.length || sound.some((track) => !playing.includes(track))) {
                tile.audio.srcObject = sound.length ? new MediaStream(sound) : null;
            }
            if (sound.length) tile.audio.play().catch(() => {});
        }
    }

    /**
     * Shows `stream` in the tile once it has a picture to show; until then the tile keeps what it
     * shows (a call moving to the SFU: the mesh's video goes on meanwhile, no frozen tile).
     * @param {string} id
     * @param {MediaStream} stream
     * @returns {Promise<void>} settled once the tile shows it
     */
    replaceStream(id, stream) {
        return new Promise((resolve) => {
            if (!stream.getVideoTracks().length) {
                this.setStream(id, stream);
                return resolve();
            }
            const probe = /** @type {HTMLVideoElement} */ (el("video"));
            probe.muted = true;
            probe.playsInline = true;
            probe.srcObject = stream;
            let done = false;
            const show = () => {
                if (done) return;
                done = true;
                probe.srcObject = null;
                this.setStream(id, stream);
                resolve();
            };
            // the first frame painted (where the browser tells), else the start of playing; and at
            // the latest after FIRST_FRAME_WAIT_MS: a video not received for now (--last-n) never
            // paints, and its sound must play (and be heard speaking) all the same
            const frames = /** @type {{requestVideoFrameCallback?: Function}} */ (/** @type {unknown} */ (probe));
            if (frames.requestVideoFrameCallback) probe.requestVideoFrameCallback(show);
            else probe.addEventListener("playing", show, { once: true });
            probe.play().catch(show);
            setTimeout(show, FIRST_FRAME_WAIT_MS);
        });
    }

    /** @param {string} id @param {MediaState} media */
    setMedia(id, media) {
        const tile = this.#tiles.get(id);
        if (!tile) return;
        tile.media = { audio: Boolean(media?.audio), video: Boolean(media?.video), screen: Boolean(media?.screen),
            quality: media?.quality ?? tile.media.quality };
        this.#render(id);
        this.dispatch("changed", { id });
    }

    /** How good a participant's connection is (quality.js). @param {string} id @param {import("./quality.js").Quality} quality */
    setQuality(id, quality) {
        const tile = this.#tiles.get(id);
        if (!tile || tile.media.quality === quality) return;
        tile.media = { ...tile.media, quality };
        this.#render(id);
        this.dispatch("changed", { id });
    }

    /** @param {string} id @param {string} state connecting, connected, retrying, failed */
    setState(id, state) {
        const tile = this.#tiles.get(id);
        if (!tile) return;
        tile.state = state;
        this.#render(id);
    }

    /**
     * A reaction floats over the tile for REACTION_MS (call.css), then goes; the name of who
     * reacted is read out to screen readers with it.
     * @param {string} id
     * @param {string} emoji
     */
    react(id, emoji) {
        const tile = this.#tiles.get(id);
        if (!tile) return;
        const text = t("reacted", { name: tile.name, first: emoji });
        const bubble = el("span", { className: "tile-reaction", text: emoji, attrs: { role: "status", "aria-label": text } });
        tile.item.append(bubble);
        setTimeout(() => bubble.remove(), REACTION_MS);
    }

    /**
     * The raised hands: each one's place in the line (1 for the first raised), by tile id. Kept,
     * so that a tile made later (someone whose hand was up before we joined) shows it too.
     * @param {Map<string, number>} places
     */
    setHands(places) {
        this.#hands = places;
        for (const id of this.#tiles.keys()) this.#showHand(id);
    }

    /** @param {string} id */
    #showHand(id) {
        const tile = this.#tiles.get(id);
        const place = this.#hands.get(id);
        if (!tile) return;
        if (place) tile.item.dataset.hand = String(place);
        else delete tile.item.dataset.hand;
    }

    /** A pinned tile (call.js: always received, featured). @param {string} id @param {boolean} pinned */
    setPinned(id, pinned) {
        const tile = this.#tiles.get(id);
        if (!tile) return;
        tile.item.toggleAttribute("data-pinned", pinned);
        this.#render(id);
    }

    /**
     * A tile whose video is not received for now (--last-n, lastn.js): it shows the name.
     * @param {string} id
     * @param {boolean} paused
     */
    setPaused(id, paused) {
        const tile = this.#tiles.get(id);
        if (!tile || (tile.item.dataset.paused === "true") === paused) return;
        tile.item.dataset.paused = String(paused);
        this.#render(id);
    }

    setSpeaking(id, speaking) {
        const item = this.#tiles.get(id)?.item;
        if (!item || item.hasAttribute("data-speaking") === speaking) return;
        item.toggleAttribute("data-speaking", speaking);
        this.dispatch("changed", { id });
    }

    /**
     * The tile of the person speaking now gets the big place (call.css: on the SFU, from five
     * tiles on); "" gives it to nobody. It keeps it until someone else speaks.
     * @param {string} id
     */
    feature(id) {
        for (const [key, tile] of this.#tiles) tile.item.toggleAttribute("data-featured", key === id);
    }

    /** How many tiles (ours included): the call's size as this page knows it. */
    get size() {
        return this.#tiles.size;
    }

    has(id) {
        return this.#tiles.has(id);
    }

    nameOf(id) {
        return this.#tiles.get(id)?.name ?? "";
    }

    remove(id) {
        const tile = this.#tiles.get(id);
        if (!tile) return;
        tile.video.srcObject = null;
        if (tile.audio) tile.audio.srcObject = null;
        tile.item.remove();
        this.#tiles.delete(id);
        this.#layout();
        this.dispatch("changed", { id });
    }

    clear() {
        for (const id of [...this.#tiles.keys()]) this.remove(id);
    }

    /** Sends the others' sound to a chosen output, where the browser can. */
    setSink(deviceId) {
        this.#sinkId = deviceId;
        for (const tile of this.#tiles.values()) if (tile.audio) this.#applySink(tile.audio);
    }

    /** @param {HTMLAudioElement} audio */
    #applySink(audio) {
        if (typeof audio.setSinkId === "function") audio.setSinkId(this.#sinkId).catch(() => {});
    }

    #render(id) {
        const tile = this.#tiles.get(id);
        if (!tile) return;
        const { item, media, name, state } = tile;
        const mine = id === SELF;
        item.dataset.audio = String(media.audio);
        item.dataset.video = String(media.video || media.screen);
        item.dataset.screen = String(media.screen);
        item.dataset.state = state;
        item.dataset.quality = media.quality ?? "";
        const part = (/** @type {string} */ selector) => /** @type {HTMLElement} */ (item.querySelector(selector));
        const quality = part(".tile-quality");
        quality.dataset.quality = media.quality ?? "";
        const qualityText = media.quality ? t(`quality_${media.quality}`) : "";
        quality.setAttribute("aria-label", qualityText);
        quality.title = qualityText;
        const shown = mine ? t("you_tile", { name }) : name;
        part(".tile-name").textContent = shown;
        const tag = mine ? undefined : this.#tags.get(id);
        if ((item.querySelector(".name-tag")?.textContent ?? undefined) !== tag) {
            item.querySelector(".name-tag")?.remove();
            part(".tile-name").after(...namesakeTag(tag, name));
        }
        const placeholder = part(".tile-placeholder");
        if (placeholder.dataset.name !== name) {
            placeholder.dataset.name = name;
            placeholder.replaceChildren(avatar(name, "avatar avatar-large"));
        }
        const stateText = { connecting: t("peer_connecting"), retrying: t("peer_retrying"), failed: t("peer_failed") }[state] ?? "";
        part(".tile-state").textContent = mine ? "" : stateText;
        const parts = tag ? [shown, tag] : [shown];
        if (!media.audio) parts.push(t("muted_indicator"));
        if (!media.video && !media.screen) parts.push(t("camera_off_indicator"));
        if (media.screen) parts.push(t("screen_indicator"));
        if (stateText && !mine) parts.push(stateText);
        if (qualityText) parts.push(qualityText);
        if (item.dataset.paused === "true") parts.push(t("video_paused"));
        const pin = item.querySelector(".tile-pin");
        if (pin) {
            const pinned = item.hasAttribute("data-pinned");
            pin.setAttribute("aria-pressed", String(pinned));
            pin.setAttribute("aria-label", t(pinned ? "unpin_tile" : "pin_tile", { name: shown }));
            pin.setAttribute("title", t(pinned ? "unpin_tile" : "pin_tile", { name: shown }));
        }
        item.setAttribute("aria-label", parts.join(", "));
    }

    /** The grid's shape follows the number of tiles (see room.css). */
    #layout() {
        const count = this.#tiles.size;
        this.list.dataset.count = String(Math.min(count, 9));
    }
}

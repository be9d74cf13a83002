// The call's tiles (#tiles): one per participant, with video, name, muted / camera-off / screen
// indicators, the speaking ring and the state of the connection. Rendering only.

import { avatar, el, namesakeTag } from "./dom.js";
import { t } from "./i18n.js";

/** The id of our own tile. */
export const SELF = "self";

/** @typedef {import("./protocol.js").MediaState} MediaState */

export class CallGrid {
    /** @type {Map<string, {item: HTMLElement, video: HTMLVideoElement, name: string, media: MediaState, state: string}>} */
    #tiles = new Map();
    #sinkId = "";
    /** @type {Map<string, string>} tags of namesakes (names.js): id -> tag */
    #tags = new Map();

    /** @param {HTMLElement} list the #tiles list */
    constructor(list) {
        this.list = list;
    }

    /** Adds a tile (or renames it). @param {string} id @param {string} name @param {MediaState} media */
    upsert(id, name, media = { audio: false, video: false, screen: false }, mine = false) {
        let tile = this.#tiles.get(id);
        if (!tile) {
            const video = /** @type {HTMLVideoElement} */ (el("video", { className: "tile-video", attrs: { playsinline: "", autoplay: "" } }));
            video.autoplay = true;
            video.playsInline = true;
            video.muted = mine; // our own sound would echo
            const item = el("li", { className: mine ? "call-tile mine" : "call-tile", attrs: { "data-peer-id": id } }, [
                video,
                el("div", { className: "tile-placeholder" }),
                el("p", { className: "tile-state", attrs: { "aria-live": "polite" } }),
                el("div", { className: "tile-label" }, [
                    el("span", { className: "tile-muted", text: "", attrs: { role: "img", "aria-label": t("muted_indicator"), title: t("muted_indicator") } }),
                    el("span", { className: "tile-name", attrs: { dir: "auto" } }),
                    el("span", { className: "tile-screen", text: t("screen_indicator") }),
                ]),
            ]);
            tile = { item, video, name, media, state: mine ? "connected" : "connecting" };
            this.#tiles.set(id, tile);
            if (mine) this.list.prepend(item);
            else this.list.append(item);
            if (!mine && this.#sinkId) this.#applySink(video);
        }
        tile.name = name;
        tile.media = { ...media };
        this.#render(id);
        this.#layout();
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
    }

    /** @param {string} id @param {MediaState} media */
    setMedia(id, media) {
        const tile = this.#tiles.get(id);
        if (!tile) return;
        tile.media = { audio: Boolean(media?.audio), video: Boolean(media?.video), screen: Boolean(media?.screen) };
        this.#render(id);
    }

    /** @param {string} id @param {string} state connecting, connected, retrying, failed */
    setState(id, state) {
        const tile = this.#tiles.get(id);
        if (!tile) return;
        tile.state = state;
        this.#render(id);
    }

    setSpeaking(id, speaking) {
        this.#tiles.get(id)?.item.toggleAttribute("data-speaking", speaking);
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
        tile.item.remove();
        this.#tiles.delete(id);
        this.#layout();
    }

    clear() {
        for (const id of [...this.#tiles.keys()]) this.remove(id);
    }

    /** Sends the others' sound to a chosen output, where the browser can. */
    setSink(deviceId) {
        this.#sinkId = deviceId;
        for (const [id, tile] of this.#tiles) if (id !== SELF) this.#applySink(tile.video);
    }

    #applySink(video) {
        if (typeof video.setSinkId === "function") video.setSinkId(this.#sinkId).catch(() => {});
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
        const part = (/** @type {string} */ selector) => /** @type {HTMLElement} */ (item.querySelector(selector));
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
        item.setAttribute("aria-label", parts.join(", "));
    }

    /** The grid's shape follows the number of tiles (see room.css). */
    #layout() {
        const count = this.#tiles.size;
        this.list.dataset.count = String(Math.min(count, 9));
    }
}

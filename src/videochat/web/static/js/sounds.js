// Sounds for what happens while the person looks elsewhere: someone joining, a message, a knock.
// Played by <audio> elements (#sounds) whose files are made here (tones.js); a toggle in the room
// turns them off, and the choice is remembered.

import { el } from "./dom.js";
import { SOUNDS, chime } from "./tones.js";

const KEY = "videochat.sounds";

export class Sounds {
    /** @type {Map<string, HTMLAudioElement>} */
    #players = new Map();

    /**
     * @param {HTMLElement} holder where the audio elements go (hidden)
     * @param {HTMLButtonElement} toggle the on/off button (aria-pressed: sounds on)
     * @param {(on: boolean) => string} label the button's text for a state
     */
    constructor(holder, toggle, label) {
        this.holder = holder;
        this.toggle = toggle;
        this.label = label;
        this.enabled = Sounds.#load();
        this.#show();
        toggle.addEventListener("click", () => {
            this.enabled = !this.enabled;
            Sounds.#save(this.enabled);
            this.#show();
        });
    }

    /**
     * Plays a sound, if sounds are on and (`whenHidden`) the page is not being looked at.
     * @param {keyof typeof SOUNDS} kind
     * @param {boolean} [whenHidden]
     */
    play(kind, whenHidden = true) {
        if (!this.enabled || (whenHidden && !document.hidden)) return;
        let player = this.#players.get(kind);
        if (!player) {
            const url = URL.createObjectURL(new Blob([chime(SOUNDS[kind])], { type: "audio/wav" }));
            player = /** @type {HTMLAudioElement} */ (el("audio", { attrs: { "data-sound": kind, preload: "auto", src: url } }));
            this.holder.append(player);
            this.#players.set(kind, player);
        }
        player.currentTime = 0;
        player.play().catch(() => {}); // the browser may refuse sound before the person touched the page
    }

    #show() {
        this.toggle.setAttribute("aria-pressed", String(this.enabled));
        this.toggle.textContent = this.label(this.enabled);
    }

    static #load() {
        try {
            return localStorage.getItem(KEY) !== "off";
        } catch {
            return true;
        }
    }

    /** @param {boolean} on */
    static #save(on) {
        try {
            localStorage.setItem(KEY, on ? "on" : "off");
        } catch {
            // storage disabled: the choice lasts as long as the page
        }
    }
}

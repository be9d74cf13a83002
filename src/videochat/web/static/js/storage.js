// What the browser remembers: the nickname and devices between visits, this tab's client id,
// and this browser's id.

const NICKNAME_KEY = "videochat.nickname";

/** @returns {string} the remembered nickname, or "" */
export function loadNickname() {
    try {
        return localStorage.getItem(NICKNAME_KEY) ?? "";
    } catch {
        return ""; // storage disabled: the user is asked each time
    }
}

/** @param {string} nickname */
export function saveNickname(nickname) {
    try {
        localStorage.setItem(NICKNAME_KEY, nickname);
    } catch {
        // storage disabled or full: nothing to do, the name simply is not remembered
    }
}

const CLIENT_ID_KEY = "videochat.clientId";

/**
 * This tab's random id (128 bits, hex), kept for the tab's life in sessionStorage: after a reconnect
 * the server recognises us and drops our previous socket at once (docs/protocol.md).
 * @returns {string}
 */
export function clientId() {
    const fresh = () => Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) => byte.toString(16).padStart(2, "0")).join("");
    try {
        let id = sessionStorage.getItem(CLIENT_ID_KEY);
        if (!id || !/^[0-9a-f]{32}$/.test(id)) {
            id = fresh();
            sessionStorage.setItem(CLIENT_ID_KEY, id);
        }
        return id;
    } catch {
        return fresh(); // storage disabled: an id for this page's life only
    }
}

const DEVICES_KEY = "videochat.devices";

/**
 * The camera, microphone and speaker chosen last time (deviceIds, which the browser keeps stable
 * for this site), or "" for each that was never chosen.
 * @returns {{audioinput: string, videoinput: string, audiooutput: string}}
 */
export function loadDevices() {
    const none = { audioinput: "", videoinput: "", audiooutput: "" };
    try {
        const saved = JSON.parse(localStorage.getItem(DEVICES_KEY) ?? "{}");
        for (const kind of Object.keys(none)) if (typeof saved?.[kind] === "string") none[kind] = saved[kind];
    } catch {
        // nothing saved, storage disabled, or not ours: the browser's defaults
    }
    return none;
}

/** @param {{audioinput: string, videoinput: string, audiooutput: string}} devices */
export function saveDevices(devices) {
    try {
        localStorage.setItem(DEVICES_KEY, JSON.stringify(devices));
    } catch {
        // storage disabled or full: the choice is simply not remembered
    }
}

// Who this browser is to the server across reloads and tabs (docs/protocol.md, `browser_id`): an id
// the server issued and signed, kept here and sent back with every connection, so that a room's
// owner can keep out someone they removed and is recognised on coming back. The server issues a
// new one when none (or a forged one) comes; a made-up id therefore buys nothing.
const BROWSER_ID_KEY = "videochat.browserId";
const BROWSER_ID = /^[A-Za-z0-9_.-]{8,128}$/;
let sessionBrowserId = "";

/** @returns {string} the id the server issued to this browser, or "" before it has issued one */
export function browserId() {
    try {
        const kept = localStorage.getItem(BROWSER_ID_KEY);
        if (kept && BROWSER_ID.test(kept)) return kept;
    } catch {
        // storage disabled: the id lives as long as the page
    }
    return sessionBrowserId;
}

/** @param {string} id what the server issued (its `browser_id` ack) */
export function saveBrowserId(id) {
    if (typeof id !== "string" || !BROWSER_ID.test(id)) return;
    sessionBrowserId = id;
    // The chat's files are served to the members of their room, and recordings to whoever started
    // them, known by this id: it goes with requests for those paths alone, never to another site
    // (docs/protocol.md, "GET /files/<id>"; docs/recording.md).
    if (typeof document !== "undefined") {
        const secure = globalThis.location?.protocol === "https:" ? "; Secure" : "";
        for (const path of ["/files/", "/recordings/"]) {
            document.cookie = `videochat_browser=${id}; Path=${path}; Max-Age=31536000; SameSite=Strict${secure}`;
        }
    }
    try {
        localStorage.setItem(BROWSER_ID_KEY, id);
    } catch {
        // not remembered: the next page gets a new id
    }
}

// What the browser remembers between visits: the nickname, and the client id.

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

// Who this browser is to the server across reconnections (docs/protocol.md, `remove_member`): a
// random id, made once and kept, so that a room's owner can keep out someone they removed.
const CLIENT_ID_KEY = "videochat.clientId";
const CLIENT_ID = /^[A-Za-z0-9_-]{8,64}$/;
let sessionClientId = "";

/** @returns {string} this browser's client id: 22 random letters, digits, "-" or "_" */
export function clientId() {
    try {
        const kept = localStorage.getItem(CLIENT_ID_KEY);
        if (kept && CLIENT_ID.test(kept)) return kept;
    } catch {
        // storage disabled: an id for as long as the page lives
    }
    if (!sessionClientId) {
        const bytes = crypto.getRandomValues(new Uint8Array(16));
        sessionClientId = btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    }
    try {
        localStorage.setItem(CLIENT_ID_KEY, sessionClientId);
    } catch {
        // not remembered: the next page gets a new id
    }
    return sessionClientId;
}

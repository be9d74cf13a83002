// What the browser remembers between visits: only the nickname.

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

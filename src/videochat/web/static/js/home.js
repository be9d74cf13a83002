// The home page: choose a nickname, see the open rooms live, create or enter a room.

import { config } from "./config.js";
import { byId, el, setFormError, showError, userText } from "./dom.js";
import { errorText, memberCount, t } from "./i18n.js";
import { ChatConnection } from "./protocol.js";
import { showStatus } from "./status.js";
import { loadNickname, saveNickname } from "./storage.js";
import { check } from "./validate.js";

const form = byId("enter-form");
const nicknameInput = /** @type {HTMLInputElement} */ (byId("nickname-input"));
const roomInput = /** @type {HTMLInputElement} */ (byId("room-input"));
const privateInput = /** @type {HTMLInputElement} */ (byId("private-input"));
const formError = byId("enter-error");
const roomList = byId("room-list");
const roomsEmpty = byId("rooms-empty");

/** The URL of a room's page. */
function roomUrl(room) {
    return `/r/${encodeURIComponent(room)}`;
}

/** @param {import("./protocol.js").RoomSummary[]} rooms */
function renderRooms(rooms) {
    const items = rooms.map(({ name, count, locked = false }) => {
        const label = t(locked ? "join_room_link_locked" : "join_room_link", { room: name, count });
        const link = el("a", {
            className: "room-link",
            attrs: { href: roomUrl(name), "aria-label": label },
        }, [
            userText("span", "room-name", name),
            ...(locked ? [lockMark()] : []),
            el("span", { className: "room-count", text: memberCount(count) }),
        ]);
        return el("li", { attrs: { "data-room": name, "data-count": String(count), "data-locked": String(locked) } }, [link]);
    });
    roomList.replaceChildren(...items);
    roomList.setAttribute("aria-busy", "false");
    roomsEmpty.textContent = t("rooms_empty");
    roomsEmpty.hidden = rooms.length > 0;
}

/** A padlock drawn by CSS, with "locked" for screen readers. */
function lockMark() {
    return el("span", { className: "room-lock" }, [
        el("span", { className: "lock-icon", attrs: { "aria-hidden": "true" } }),
        el("span", { className: "visually-hidden", text: t("room_locked_list") }),
    ]);
}

function rememberNickname() {
    const result = check("nickname", nicknameInput.value, config.limits);
    if (result.value) saveNickname(result.value);
    return result;
}

function fieldError(input, [key, values]) {
    setFormError(formError, t(key, values));
    input.setAttribute("aria-invalid", "true");
    input.focus();
}

async function enter(connection) {
    for (const input of [nicknameInput, roomInput]) input.removeAttribute("aria-invalid");
    setFormError(formError, "");
    const nickname = rememberNickname();
    if (nickname.error) return fieldError(nicknameInput, nickname.error);
    const room = check("room", roomInput.value, config.limits);
    if (room.error) return fieldError(roomInput, room.error);
    try {
        // Ask the server too when we can: its rules are the ones that count (the room page will
        // tell about a refused room name).
        if (connection.status === "connected") await connection.setNickname(nickname.value);
    } catch (error) {
        nicknameInput.setAttribute("aria-invalid", String(error.code === "invalid_nickname"));
        setFormError(formError, errorText(error));
        return;
    }
    // The room page creates the room unlisted when asked to (once: the page drops the parameter).
    window.location.assign(roomUrl(room.value) + (privateInput.checked ? "?private=1" : ""));
}

function main() {
    nicknameInput.value = loadNickname();
    nicknameInput.addEventListener("input", rememberNickname);

    const connection = new ChatConnection();
    showStatus(connection);
    // The list on every (re)connect; room_change keeps it current in between.
    connection.on("status", ({ status }) => {
        if (status === "connected") connection.listRooms().then(renderRooms, (error) => showError(errorText(error)));
    });
    connection.on("rooms", renderRooms);
    connection.on("error", (error) => showError(errorText(error)));

    let busy = false;
    form.addEventListener("submit", async (event) => {
        event.preventDefault();
        if (busy) return;
        busy = true;
        try {
            await enter(connection);
        } finally {
            busy = false;
        }
    });
    connection.connect();
}

main();

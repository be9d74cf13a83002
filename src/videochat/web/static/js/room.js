// The room page /r/<room>: ask for a name if we have none, enter the room, then chat.

import { Call } from "./call.js";
import { CallStateView } from "./callstate.js";
import { ChatLog } from "./chat.js";
import { config } from "./config.js";
import { DirectMessages } from "./directs.js";
import { byId, el, setFormError, showError } from "./dom.js";
import { FileSender } from "./files.js";
import { errorText, t } from "./i18n.js";
import { HandsView } from "./hands.js";
import { MemberList } from "./members.js";
import { RoomAccess, takeEntryOptions } from "./moderation.js";
import { RecordingList, RecordingView } from "./recording.js";
import { ChatConnection } from "./protocol.js";
import { Sounds } from "./sounds.js";
import { showStatus } from "./status.js";
import { clientId, loadNickname, saveNickname } from "./storage.js";
import { check } from "./validate.js";
import { WaitingList } from "./waiting.js";

const joinPanel = byId("join-panel");
const joinForm = byId("join-form");
const joinError = byId("join-error");
const nicknameInput = /** @type {HTMLInputElement} */ (byId("nickname-input"));
const roomView = byId("room-view");
const roomTitle = byId("room-title");
const messageForm = byId("message-form");
const messageInput = /** @type {HTMLInputElement} */ (byId("message-input"));
const renameForm = byId("rename-form");
const renameInput = /** @type {HTMLInputElement} */ (byId("rename-input"));
const leaveButton = /** @type {HTMLButtonElement} */ (byId("leave"));
const sounds = new Sounds(byId("sounds"), /** @type {HTMLButtonElement} */ (byId("sounds-toggle")), (on) => t(on ? "sounds_on" : "sounds_off"));

const connection = new ChatConnection({ clientId: clientId(), entryRefusals: config.errors.entry });
const chat = new ChatLog(byId("messages"), byId("no-messages"));
const members = new MemberList({ list: byId("members"), count: byId("member-count") });
const call = new Call(connection, () => room);
const directs = new DirectMessages({ members, bar: byId("direct-bar"), input: messageInput, you: () => connection.you?.id ?? "" });
chat.onReply = (author) => directs.choose(members.get(author.id) ?? null);
const access = new RoomAccess(connection, { chat, members });
new CallStateView(connection, { members, grid: call.grid });
new WaitingList(connection, {
    section: byId("waiting-section"), list: byId("waiting-list"), admitAll: /** @type {HTMLButtonElement} */ (byId("admit-all")),
    chat, sounds, room: () => room,
});
const recording = new RecordingView(connection, {
    badge: byId("recording-badge"),
    prejoinNote: byId("prejoin-recording"),
    buttons: /** @type {HTMLButtonElement[]} */ (["record-button", "call-record"].map((id) => document.getElementById(id)).filter(Boolean)),
    chat,
    room: () => room,
});
const recordings = new RecordingList(connection, { section: byId("recordings-section"), list: byId("recordings-list") });
new FileSender(connection, {
    button: /** @type {HTMLButtonElement} */ (byId("attach-button")),
    input: /** @type {HTMLInputElement} */ (byId("file-input")),
    list: byId("uploads"),
    dropZone: byId("messages").parentElement ?? byId("messages"),
    messageInput,
    maxBytes: config.limits.fileBytes ?? 0,
    room: () => room,
    sent: (message) => chat.addMessage(message, true),
});
new HandsView(connection, {
    button: /** @type {HTMLButtonElement} */ (byId("hand-button")), members, grid: call.grid, chat,
    isOwner: () => access.isOwner, inCall: () => call.inCall, room: () => room,
});
// People of the same name are told apart by a tag, in the list, the chat and the call (names.js).
members.on("tags", (tags) => {
    chat.tag(tags);
    call.grid.setTags(tags);
});
// The door (a locked or full room, or we were removed) takes the page: the room's views go.
access.on("door", () => {
    joinPanel.hidden = true;
    roomView.hidden = true;
    members.hideCount();
});
/** How to enter: `private: true` when the home page asked for an unlisted room. */
const entryOptions = takeEntryOptions();

/** The room as the server named it (trimmed), once we are in. */
let room = config.room ?? "";
/** Our member ids: a new one after every reconnect, and our messages keep the id they were sent with. */
const myIds = new Set();
const isMine = (message) => myIds.has(message.author.id);

/** Shows the room from an enter_room ack: on entering, and again after each reconnect. */
function showRoom(ack, rejoined) {
    room = ack.room;
    myIds.add(ack.you.id);
    roomTitle.textContent = room;
    document.title = `${room} · ${t("app_name")}`;
    joinPanel.hidden = true;
    roomView.hidden = false;
    members.reset(ack.members, ack.you);
    followDirect();
    access.entered(ack);
    recording.entered(ack);
    recordings.load();
    renameInput.value = ack.you.nickname;
    chat.addHistory(ack.history, isMine);
    chat.addNotice(rejoined ? t("notice_reconnected") : t("notice_you_joined", { room }), "info");
    if (!rejoined) {
        messageInput.focus();
        call.prepare(ack.you.nickname);
    }
}

/** Whom we write to left (or is renamed): say so, and write to everyone again. */
function followDirect() {
    const gone = directs.follow((id) => members.get(id));
    if (gone) chat.addNotice(t("notice_direct_gone", { name: gone.nickname }), "info");
}

/** @param {import("./validate.js").ErrorKey | null | undefined} errorKey why the name was refused */
function askForNickname(errorKey) {
    joinPanel.hidden = false;
    roomView.hidden = true;
    setFormError(joinError, errorKey ? t(...errorKey) : "");
    nicknameInput.focus();
}

/** Sets our name, then enters the room (with the password of a locked room, once asked for it). */
async function join(nickname, password) {
    const button = /** @type {HTMLButtonElement} */ (byId("join"));
    if (button.disabled) return;
    button.disabled = true;
    try {
        await connection.setNickname(nickname);
        saveNickname(nickname);
        showRoom(await connection.enterRoom(room, password ? { ...entryOptions, password } : entryOptions), false);
    } catch (error) {
        if (access.refused(error, room, (again) => join(nickname, again))) return;
        if (error.code === "invalid_nickname") {
            askForNickname(null);
            setFormError(joinError, errorText(error));
            return;
        }
        const home = el("a", { className: "button", text: t("back_home"), attrs: { href: "/" } });
        showError(errorText(error), error.code === "invalid_room" ? [home] : []);
    } finally {
        button.disabled = false;
    }
}

function listenToRoom() {
    connection.on("welcome", ({ room: where, member, call: joinedCall }) => {
        if (where !== room) return;
        // A chat member joining the call is welcomed again: the people list already has them.
        const known = members.has(member.id);
        members.add(member);
        if (joinedCall) chat.addNotice(t("notice_joined_call", { name: member.nickname }), "joined");
        else if (!known) chat.addNotice(t("notice_joined", { name: member.nickname }), "joined");
        if (!known) sounds.play("join");
    });
    // Left the call but not the room (leaving the room says "left" already).
    call.on("left", ({ id, nickname }) => {
        if (members.has(id)) chat.addNotice(t("notice_left_call", { name: nickname }), "left");
    });
    connection.on("bye", ({ room: where, member }) => {
        // Our own previous connection, dropped by the server after we came back: not news.
        if (where !== room || myIds.has(member.id)) return;
        members.remove(member);
        chat.addNotice(t("notice_left", { name: member.nickname }), "left");
        followDirect();
    });
    connection.on("message", (message) => {
        if (message.room !== room) return;
        chat.addMessage(message, isMine(message));
        if (!isMine(message)) sounds.play("message");
    });
    connection.on("direct", (message) => {
        if (message.room !== room) return;
        chat.addMessage(message, false);
        sounds.play("message");
    });
    connection.on("nickname", ({ room: where, member, old }) => {
        if (where !== room) return;
        members.rename(member);
        followDirect();
        call.rename(member.id, member.nickname);
        chat.addNotice(t("notice_renamed", { old, name: member.nickname }), "renamed");
        if (myIds.has(member.id)) {
            renameInput.value = member.nickname;
            saveNickname(member.nickname);
        }
    });
    connection.on("rejoin", (ack) => showRoom(ack, true));
    // Back online, the room would not take us back (say its password changed while we were away):
    // the door asks again, as on the way in.
    connection.on("rejoinrefused", (error) => {
        if (!access.refused(error, room, (again) => join(connection.nickname ?? "", again))) showError(errorText(error));
    });
    // The owner asks us to mute: say so (the call, which owns the microphone, mutes it).
    connection.on("muterequest", (info) => {
        if (info?.room !== room) return;
        chat.addNotice(t("notice_mute_request", { name: info.by?.nickname ?? "" }), "mute");
    });
    connection.on("error", (error) => showError(errorText(error)));
}

async function sendMessage() {
    const result = check("message", messageInput.value, config.limits);
    if (result.error) return showError(t(...result.error));
    if (!result.value) return;
    // Cleared at once so the user can type on; put back if the server never took it.
    messageInput.value = "";
    const to = directs.target;
    try {
        chat.addMessage(await (to ? connection.sendDirect(to.id, result.value, room) : connection.sendMessage(result.value, room)), true);
    } catch (error) {
        if (!messageInput.value) messageInput.value = result.value;
        showError(errorText(error));
    }
}

async function rename() {
    const result = check("nickname", renameInput.value, config.limits);
    if (result.error) return showError(t(...result.error));
    if (result.value === connection.nickname) return;
    try {
        await connection.setNickname(result.value);
        saveNickname(result.value);
    } catch (error) {
        showError(errorText(error));
    }
}

async function leave() {
    leaveButton.disabled = true;
    try {
        await connection.leaveRoom(room);
    } catch {
        // Leaving fails only if we were not in the room any more: we are going home either way.
    }
    connection.close();
    window.location.assign("/");
}

function onSubmit(form, action) {
    form.addEventListener("submit", (event) => {
        event.preventDefault();
        action();
    });
}

function main() {
    showStatus(connection);
    listenToRoom();
    connection.connect();

    onSubmit(messageForm, sendMessage);
    onSubmit(renameForm, rename);
    leaveButton.addEventListener("click", leave);
    // Enter while a Korean (or any IME) syllable is being composed only ends the composition.
    messageInput.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && event.isComposing) event.preventDefault();
    });
    onSubmit(joinForm, () => {
        const result = check("nickname", nicknameInput.value, config.limits);
        if (result.error) return askForNickname(result.error);
        setFormError(joinError, "");
        join(result.value);
    });

    const fromUrl = new URLSearchParams(window.location.search).get("name");
    const nickname = fromUrl ?? loadNickname();
    const result = check("nickname", nickname, config.limits);
    nicknameInput.value = nickname;
    if (result.value) join(result.value);
    else askForNickname(fromUrl === null ? null : result.error);
}

main();

// Room owners and the room's door (docs/protocol.md "Room owners"): the password form of a locked
// room, why we may not enter (full, removed), the owner's badge and settings, and the owner's
// actions on members (ask to mute, make owner, remove). room.js creates one RoomAccess and tells it
// when we entered; the rest comes from the server through the ChatConnection's events. Its DOM is
// the door (#access-panel), the settings, the room's badges, and a part of each member's item in
// the member list (members.js draws the list); when the door takes the page it says so ("door").

import { config } from "./config.js";
import { byId, el, showError } from "./dom.js";
import { Emitter } from "./events.js";
import { errorText, t } from "./i18n.js";

/** The room asks for its password (again; too_many_attempts: with the server's "wait a little"). */
const PASSWORD_CODES = new Set(config.errors.password);
/** The room refuses us for good, for now (full, removed): the other refusals of the door. */
const REFUSAL_CODES = new Set(config.errors.entry.filter((code) => !PASSWORD_CODES.has(code)));

/**
 * How the page asks to enter: `?private=1` (from the home page's form) creates the room unlisted.
 * The parameter is taken out of the address at once, so a reload or a shared link does not carry it.
 * @returns {{private?: boolean}}
 */
export function takeEntryOptions() {
    const params = new URLSearchParams(window.location.search);
    if (!params.has("private")) return {};
    const unlisted = params.get("private") === "1";
    params.delete("private");
    const query = params.toString();
    history.replaceState(history.state, "", `${window.location.pathname}${query ? `?${query}` : ""}${window.location.hash}`);
    return unlisted ? { private: true } : {};
}

/**
 * What a RoomAccess tells (Emitter), by event name, with the `detail` each carries:
 * @typedef {object} AccessEvents
 * @property {{state: string}} door the door took the page (we are out of the room): why, the error
 *     code or "removed"; the room's own views hide
 */

/** @extends {Emitter<AccessEvents>} */
export class RoomAccess extends Emitter {
    /** @type {string | null} the room we are in */
    #room = null;
    #you = "";
    /** @type {import("./protocol.js").RoomSettings | null} */
    #settings = null;
    /** @type {string | null} the member whose actions menu is open */
    #openMenu = null;
    /** @type {string | null} the member we are asked to confirm removing */
    #confirming = null;
    /** @type {((password?: string) => unknown) | null} enters again (with a password) */
    #retry = null;
    /** @type {string | null} the room whose door we wait at (it asks people to wait) */
    #waitingAt = null;
    /** @type {Map<string, HTMLElement>} member id -> the actions we last drew on its item */
    #tools = new Map();

    /**
     * @param {import("./protocol.js").ChatConnection} connection
     * @param {{chat: import("./chat.js").ChatLog, members: import("./members.js").MemberList}} parts
     */
    constructor(connection, { chat, members }) {
        super();
        this.connection = connection;
        this.chat = chat;
        this.members = members;
        this.panel = byId("access-panel");
        this.passwordForm = /** @type {HTMLFormElement} */ (byId("password-form"));
        this.passwordInput = /** @type {HTMLInputElement} */ (byId("password-input"));
        this.capInput = /** @type {HTMLInputElement} */ (byId("cap-input"));
        this.privateInput = /** @type {HTMLInputElement} */ (byId("private-input"));
        this.knockInput = /** @type {HTMLInputElement} */ (byId("knock-input"));
        this.lockPassword = /** @type {HTMLInputElement} */ (byId("lock-password"));

        connection.on("roomupdate", (update) => this.#updated(update));
        connection.on("removed", (info) => this.#removed(info));
        // at the door of a room that asks people to wait: its owner's answer
        connection.on("admitted", (info) => {
            if (this.#waitingAt === info?.room) this.#retry?.();
        });
        connection.on("declined", (info) => this.#declined(info));
        // the server forgets a knock whose connection dropped: back online, we knock again
        connection.on("status", ({ status }) => {
            if (status === "connected" && this.#waitingAt !== null) this.#retry?.();
        });
        // The list asks at each redraw (someone came, went, was renamed): badges and actions go on.
        members.addPart((member) => this.#memberPart(member));
        this.#listenToForms();
    }

    get isOwner() {
        return Boolean(this.#room && this.#settings && this.#settings.owner === this.#you);
    }

    /**
     * We are in (first entry, or back after a reconnect).
     * @param {import("./protocol.js").EnterAck & {settings?: import("./protocol.js").RoomSettings}} ack
     */
    entered(ack) {
        this.#waitingAt = null;
        byId("access-cancel").hidden = true;
        this.#room = ack.room;
        this.#you = ack.you.id;
        this.#settings = ack.settings ?? null;
        this.#retry = null;
        this.panel.hidden = true;
        this.passwordInput.value = "";
        this.#render();
    }

    /**
     * Shows why enter_room was refused, if it is the door's business (locked, full, removed).
     * @param {{code?: string}} error
     * @param {string} room the room's name
     * @param {(password?: string) => unknown} retry enters again, with the password when there is one
     * @returns {boolean} whether the refusal is shown here
     */
    refused(error, room, retry) {
        const code = error?.code ?? "";
        if (!PASSWORD_CODES.has(code) && !REFUSAL_CODES.has(code)) return false;
        this.#retry = retry;
        this.#waitingAt = code === "waiting" ? room : null;
        byId("access-cancel").hidden = code !== "waiting";
        if (code === "waiting") {
            this.#showPanel(code, t("waiting_heading"), t("waiting_text", { room }));
            this.passwordForm.hidden = true;
            byId("access-retry").hidden = true;
            return true;
        }
        const asksPassword = PASSWORD_CODES.has(code);
        this.#showPanel(code, t(asksPassword ? "password_heading" : "refused_heading", { room }),
            !asksPassword || code === "too_many_attempts" ? errorText(error)
                : t(code === "wrong_password" ? "password_wrong" : "password_required"));
        this.passwordForm.hidden = !asksPassword;
        byId("access-retry").hidden = asksPassword;
        if (asksPassword) {
            this.passwordInput.setAttribute("aria-invalid", String(code === "wrong_password"));
            this.passwordInput.select();
            this.passwordInput.focus();
        }
        return true;
    }

    /**
     * @param {string} state
     * @param {string} heading
     * @param {string} message
     */
    #showPanel(state, heading, message) {
        this.panel.hidden = false;
        this.panel.dataset.state = state;
        // the header tells about a room we are in; out of it, its badges would be stale
        for (const id of ["room-lock", "room-private"]) byId(id).hidden = true;
        byId("access-heading").textContent = heading;
        byId("access-message").textContent = message;
        this.dispatch("door", { state });
    }

    /** The owner took us out: say so, stay connected, and do not go back in by ourselves. */
    #removed(info) {
        if (!info || info.room !== this.#room) return;
        this.#room = null;
        this.#retry = null;
        this.#showPanel("removed", t("removed_heading"),
            t("removed_text", { room: info.room, name: info.by?.nickname ?? "" }));
        this.passwordForm.hidden = true;
        byId("access-retry").hidden = true;
        byId("access-heading").focus();
    }

    /** The owner did not let us in: say so; we may ask again. */
    #declined(info) {
        if (!info || info.room !== this.#waitingAt) return;
        this.#waitingAt = null;
        this.#showPanel("declined", t("declined_heading"), t("declined_text", { room: info.room }));
        byId("access-cancel").hidden = true;
        const again = byId("access-retry");
        again.hidden = false;
        again.textContent = t("declined_again");
        byId("access-heading").focus();
    }

    #updated(update) {
        if (!update || update.room !== this.#room || !this.#settings) return;
        const before = this.#settings.owner;
        const { room, ...settings } = update;
        this.#settings = settings;
        if (settings.owner !== before && settings.owner) {
            const owner = this.members.get(settings.owner)?.nickname ?? "";
            this.chat.addNotice(settings.owner === this.#you ? t("notice_you_own") : t("notice_new_owner", { name: owner }),
                "owner");
        }
        this.#render();
    }

    #render() {
        const settings = this.#settings;
        byId("room-lock").hidden = !settings?.locked;
        byId("room-private").hidden = !settings?.private;
        const panel = byId("room-settings");
        panel.hidden = !this.isOwner;
        if (settings) {
            // the settings as the server has them, for styles and tests
            panel.dataset.locked = String(settings.locked);
            panel.dataset.private = String(settings.private);
            panel.dataset.knock = String(Boolean(settings.knock));
            panel.dataset.maxMembers = settings.maxMembers == null ? "" : String(settings.maxMembers);
            byId("lock-state").textContent = t(settings.locked ? "settings_locked_state" : "settings_unlocked_state");
            byId("unlock-button").hidden = !settings.locked;
            byId("lock-button").textContent = t(settings.locked ? "settings_change_password" : "settings_lock");
            if (document.activeElement !== this.capInput) this.capInput.value = settings.maxMembers == null ? "" : String(settings.maxMembers);
            this.privateInput.checked = settings.private;
            this.knockInput.checked = Boolean(settings.knock);
        }
        if (!this.isOwner) {
            this.#openMenu = null;
            this.#confirming = null;
        }
        this.members.refresh();
    }

    /**
     * Our part of a member's item (members.js asks at every redraw): the owner's badge on the owner;
     * for the owner, a menu of actions on each other member.
     * @param {import("./protocol.js").Member} member
     */
    #memberPart({ id, nickname }) {
        const owner = this.#settings?.owner;
        const nodes = [];
        if (id === owner) {
            nodes.push(el("span", { className: "owner-badge", attrs: { title: t("owner_badge_label") } }, [
                el("span", { className: "crown", text: "👑", attrs: { "aria-hidden": "true" } }),
                el("span", { text: t("owner_badge") }),
            ]));
        }
        if (this.isOwner && id && id !== this.#you) {
            const tools = this.#toolsFor(id, nickname);
            this.#tools.set(id, tools);
            nodes.push(tools);
        } else {
            this.#tools.delete(id);
        }
        return { nodes, data: { owner: String(id === owner) } };
    }

    /**
     * Draws the list again (our part of it changed), then focuses one of our controls of a member.
     * @param {string} id
     * @param {string} selector within that member's actions
     */
    #redrawAndFocus(id, selector) {
        this.members.refresh();
        /** @type {HTMLElement | null | undefined} */ (this.#tools.get(id)?.querySelector(selector))?.focus();
    }

    /**
     * The actions button of one member and, while open, its menu (or the question before removing).
     * @param {string} id
     * @param {string} name
     */
    #toolsFor(id, name) {
        const open = this.#openMenu === id;
        const menuId = `member-menu-${id}`;
        const toggle = el("button", {
            className: "icon-button member-menu-button",
            text: "⋯",
            attrs: { type: "button", "aria-label": t("member_actions", { name }), "aria-expanded": String(open),
                "aria-controls": menuId },
        });
        toggle.addEventListener("click", () => {
            this.#openMenu = open ? null : id;
            this.#confirming = null;
            this.#redrawAndFocus(id, open ? ".member-menu-button" : ".member-menu button");
        });
        const tools = el("div", { className: "member-tools" }, [toggle]);
        if (!open) return tools;

        const menu = el("div", { className: "member-menu", attrs: { id: menuId, role: "group", "aria-label": t("member_actions", { name }) } });
        if (this.#confirming === id) {
            const yes = this.#button(t("confirm_remove_yes"), "button danger small", () =>
                this.#act(() => this.connection.removeMember(this.#room, id)));
            const no = this.#button(t("cancel"), "button small", () => {
                this.#confirming = null;
                this.#redrawAndFocus(id, ".member-menu button");
            });
            menu.append(el("p", { className: "confirm-text", text: t("confirm_remove", { name }) }), yes, no);
        } else {
            menu.append(
                this.#button(t("action_mute"), "button small", () => this.#act(async () => {
                    await this.connection.askMute(this.#room, id);
                    this.chat.addNotice(t("action_done_mute", { name }), "info");
                })),
                this.#button(t("action_owner"), "button small", () => this.#act(() => this.connection.transferOwner(this.#room, id))),
                this.#button(t("action_remove"), "button danger small", () => {
                    this.#confirming = id;
                    this.#redrawAndFocus(id, ".member-menu .danger");
                }),
            );
        }
        tools.append(menu);
        return tools;
    }

    #button(text, className, action) {
        const button = el("button", { className, text, attrs: { type: "button" } });
        button.addEventListener("click", action);
        return button;
    }

    /** Runs an owner's action; the menu closes, and a refusal is shown. */
    async #act(action) {
        this.#openMenu = null;
        this.#confirming = null;
        this.members.refresh();
        try {
            await action();
        } catch (error) {
            showError(errorText(error));
        }
    }

    async #change(changes) {
        const status = byId("settings-status");
        status.textContent = "";
        try {
            await this.connection.roomSettings(this.#room, changes);
            status.textContent = t("settings_saved");
        } catch (error) {
            status.textContent = errorText(error);
        }
    }

    #listenToForms() {
        this.passwordForm.addEventListener("submit", (event) => {
            event.preventDefault();
            const password = this.passwordInput.value;
            if (!password || !this.#retry) return this.passwordInput.focus();
            const button = byId("password-enter");
            button.setAttribute("disabled", "");
            Promise.resolve(this.#retry(password)).finally(() => button.removeAttribute("disabled"));
        });
        byId("access-retry").addEventListener("click", () => {
            byId("access-retry").textContent = t("try_again");
            this.#retry?.();
        });
        // no longer waiting at the door: the server forgets us there, and we go home
        byId("access-cancel").addEventListener("click", async () => {
            const room = this.#waitingAt;
            this.#waitingAt = null;
            if (room !== null) await this.connection.leaveRoom(room).catch(() => {});
            window.location.assign("/");
        });
        byId("lock-form").addEventListener("submit", (event) => {
            event.preventDefault();
            const password = this.lockPassword.value;
            if (!password) return this.lockPassword.focus();
            this.lockPassword.value = "";
            this.#change({ password });
        });
        byId("unlock-button").addEventListener("click", () => this.#change({ password: null }));
        byId("cap-form").addEventListener("submit", (event) => {
            event.preventDefault();
            const text = this.capInput.value.trim();
            const cap = Number(text);
            // Anything but a whole number goes as typed, for the server to explain (NaN would become null).
            this.#change({ maxMembers: text ? (Number.isInteger(cap) ? cap : text) : null });
        });
        this.privateInput.addEventListener("change", () => this.#change({ private: this.privateInput.checked }));
        this.knockInput.addEventListener("change", () => this.#change({ knock: this.knockInput.checked }));
    }
}

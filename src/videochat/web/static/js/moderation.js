// Room owners and the room's door (docs/protocol.md "Room owners"): the password form of a
// locked room, why we may not enter (full, removed), the owner's badge and settings, and the owner's
// actions on members (ask to mute, make owner, remove). room.js creates one RoomAccess and tells it
// when we entered; the rest comes from the server through the ChatConnection's callbacks.

import { byId, el, showError } from "./dom.js";
import { errorText, t } from "./i18n.js";

// too_many_attempts: the password is asked again, with the server's "wait a little"
const PASSWORD_CODES = new Set(["password_required", "wrong_password", "too_many_attempts"]);
const REFUSAL_CODES = new Set(["room_full", "banned"]);

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

export class RoomAccess {
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

    /**
     * @param {import("./protocol.js").ChatConnection} connection
     * @param {{chat: import("./chat.js").ChatLog}} parts
     */
    constructor(connection, { chat }) {
        this.connection = connection;
        this.chat = chat;
        this.members = byId("members");
        this.panel = byId("access-panel");
        this.passwordForm = /** @type {HTMLFormElement} */ (byId("password-form"));
        this.passwordInput = /** @type {HTMLInputElement} */ (byId("password-input"));
        this.capInput = /** @type {HTMLInputElement} */ (byId("cap-input"));
        this.privateInput = /** @type {HTMLInputElement} */ (byId("private-input"));
        this.lockPassword = /** @type {HTMLInputElement} */ (byId("lock-password"));

        connection.onroomupdate = (update) => this.#updated(update);
        connection.onremoved = (info) => this.#removed(info);
        // The member list redraws itself whenever someone comes, goes or is renamed: badges and
        // actions go back on each time.
        new MutationObserver(() => this.#decorateMembers()).observe(this.members, { childList: true });
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
        this.#room = ack.room;
        this.#you = ack.you.id;
        this.#settings = ack.settings ?? null;
        this.#retry = null;
        this.panel.hidden = true;
        this.passwordInput.value = "";
        byId("member-count").hidden = false;
        this.#render();
    }

    /**
     * Shows why enter_room was refused, if it is the door's business (locked, full, removed).
     * @param {{code?: string}} error
     * @param {(password?: string) => unknown} retry enters again, with the password when there is one
     * @returns {boolean} whether the refusal is shown here
     */
    refused(error, retry) {
        const code = error?.code ?? "";
        if (!PASSWORD_CODES.has(code) && !REFUSAL_CODES.has(code)) return false;
        this.#retry = retry;
        const asksPassword = PASSWORD_CODES.has(code);
        const room = byId("room-title").textContent ?? "";
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

    #showPanel(state, heading, message) {
        byId("join-panel").hidden = true;
        byId("room-view").hidden = true;
        this.panel.hidden = false;
        this.panel.dataset.state = state;
        // the header tells about a room we are in; out of it, its count and badges would be stale
        for (const id of ["member-count", "room-lock", "room-private"]) byId(id).hidden = true;
        byId("access-heading").textContent = heading;
        byId("access-message").textContent = message;
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

    #updated(update) {
        if (!update || update.room !== this.#room || !this.#settings) return;
        const before = this.#settings.owner;
        const { room, ...settings } = update;
        this.#settings = settings;
        if (settings.owner !== before && settings.owner) {
            const owner = this.#memberItem(settings.owner)?.dataset.nickname ?? "";
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
            panel.dataset.maxMembers = settings.maxMembers == null ? "" : String(settings.maxMembers);
            byId("lock-state").textContent = t(settings.locked ? "settings_locked_state" : "settings_unlocked_state");
            byId("unlock-button").hidden = !settings.locked;
            byId("lock-button").textContent = t(settings.locked ? "settings_change_password" : "settings_lock");
            if (document.activeElement !== this.capInput) this.capInput.value = settings.maxMembers == null ? "" : String(settings.maxMembers);
            this.privateInput.checked = settings.private;
        }
        if (!this.isOwner) {
            this.#openMenu = null;
            this.#confirming = null;
        }
        this.#decorateMembers();
    }

    /** @param {string} id */
    #memberItem(id) {
        return /** @type {HTMLElement | undefined} */ (
            [...this.members.children].find((item) => item instanceof HTMLElement && item.dataset.id === id));
    }

    /** The owner's badge on the owner; for the owner, a menu of actions on each other member. */
    #decorateMembers() {
        const owner = this.#settings?.owner;
        for (const item of /** @type {HTMLElement[]} */ ([...this.members.children])) {
            for (const added of item.querySelectorAll(":scope > .owner-badge, :scope > .member-tools")) added.remove();
            const id = item.dataset.id ?? "";
            item.dataset.owner = String(id === owner);
            if (id === owner) {
                item.append(el("span", { className: "owner-badge", attrs: { title: t("owner_badge_label") } }, [
                    el("span", { className: "crown", text: "👑", attrs: { "aria-hidden": "true" } }),
                    el("span", { text: t("owner_badge") }),
                ]));
            }
            if (this.isOwner && id && id !== this.#you) item.append(this.#tools(id, item.dataset.nickname ?? ""));
        }
    }

    /** The actions button of one member and, while open, its menu (or the question before removing). */
    #tools(id, name) {
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
            this.#decorateMembers();
            const next = this.#memberItem(id);
            const target = open ? next?.querySelector(".member-menu-button") : next?.querySelector(".member-menu button");
            /** @type {HTMLElement | null | undefined} */ (target)?.focus();
        });
        const tools = el("div", { className: "member-tools" }, [toggle]);
        if (!open) return tools;

        const menu = el("div", { className: "member-menu", attrs: { id: menuId, role: "group", "aria-label": t("member_actions", { name }) } });
        if (this.#confirming === id) {
            const yes = this.#button(t("confirm_remove_yes"), "button danger small", () =>
                this.#act(() => this.connection.removeMember(this.#room, id)));
            const no = this.#button(t("cancel"), "button small", () => {
                this.#confirming = null;
                this.#decorateMembers();
                /** @type {HTMLElement | null | undefined} */ (this.#memberItem(id)?.querySelector(".member-menu button"))?.focus();
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
                    this.#decorateMembers();
                    /** @type {HTMLElement | null | undefined} */ (this.#memberItem(id)?.querySelector(".member-menu .danger"))?.focus();
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
        this.#decorateMembers();
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
        byId("access-retry").addEventListener("click", () => this.#retry?.());
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
    }
}

// Small DOM helpers. User text only ever goes in through textContent.

import { lang, t } from "./i18n.js";

/**
 * Runs `callback` once the page has nothing else to do (requestIdleCallback; a task later where the
 * browser has none): for work that must not compete with what the person is waiting for.
 * @param {() => void} callback
 */
export function whenIdle(callback) {
    (window.requestIdleCallback ?? window.setTimeout)(() => callback());
}

/** @param {string} id */
export function byId(id) {
    const element = document.getElementById(id);
    if (!element) throw new Error(`Expected an element with id "${id}" in the page, found none.`);
    return element;
}

/**
 * Creates an element.
 * @param {string} tag
 * @param {{className?: string, text?: string, attrs?: Record<string, string>}} [options]
 * @param {Node[]} [children]
 */
export function el(tag, options = {}, children = []) {
    const element = document.createElement(tag);
    if (options.className) element.className = options.className;
    if (options.text !== undefined) element.textContent = options.text;
    for (const [name, value] of Object.entries(options.attrs ?? {})) element.setAttribute(name, value);
    element.append(...children);
    return element;
}

const clock = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });

/** Local time as hh:mm. @param {number} time milliseconds since the epoch */
export function formatTime(time) {
    return clock.format(new Date(time));
}

/**
 * A file's size as people read it: "830 bytes", "48 KB", "3.2 MB" (1024-based, as the server's limits).
 * @param {number} bytes
 */
export function formatSize(bytes) {
    if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1).replace(/\.0$/, "")} MB`;
    if (bytes >= 1024) return `${Math.round(bytes / 1024)} KB`;
    return `${bytes} bytes`;
}

/**
 * An element showing a string someone else chose (a name, a message): `dir="auto"` takes its
 * direction from its own first strong letter, and isolates it (unicode-bidi: isolate, base.css), so
 * that right-to-left text or a bidi control in it cannot reorder anything outside the element.
 * @param {string} tag
 * @param {string} className
 * @param {string} text
 */
export function userText(tag, className, text) {
    return el(tag, { className, text, attrs: { dir: "auto" } });
}

/**
 * The tag that tells apart people of the same name (names.js), as a list of zero or one element.
 * @param {string | undefined} tag
 * @param {string} name
 */
export function namesakeTag(tag, name) {
    return tag ? [el("span", { className: "name-tag", text: tag, attrs: { title: t("namesake_tag_title", { name }) } })] : [];
}

/** One or two letters standing for a person in an avatar. */
export function initials(name) {
    const words = name.trim().split(/\s+/).filter(Boolean);
    const letters = words.length > 1 ? [words[0], words[1]].map((w) => [...w][0]) : [...(words[0] ?? "?")].slice(0, 2);
    return letters.join("").toUpperCase();
}

/** A hue from a name, so that each person keeps one avatar color. */
export function hueOf(name) {
    let hash = 0;
    for (const char of name) hash = (hash * 31 + char.codePointAt(0)) % 360;
    return hash;
}

/** A round avatar with initials; its color is set from JS (no inline style in the HTML). */
export function avatar(name, className = "avatar") {
    const element = el("span", { className, text: initials(name), attrs: { "aria-hidden": "true" } });
    element.style.setProperty("--hue", String(hueOf(name)));
    return element;
}

/**
 * Shows an error at the top of the page (the #errors region, role=alert), with a button to
 * dismiss it. The same text is shown once.
 * @param {string} text
 * @param {Node[]} [extra] more content, such as a link
 */
export function showError(text, extra = []) {
    const region = byId("errors");
    for (const existing of region.querySelectorAll(".error-text")) {
        if (existing.textContent === text) return;
    }
    const dismiss = el("button", { className: "icon-button", text: "×", attrs: { type: "button", "aria-label": t("dismiss") } });
    const item = el("div", { className: "error" }, [el("p", { className: "error-text", text }), ...extra, dismiss]);
    dismiss.addEventListener("click", () => item.remove());
    region.append(item);
}

/** Shows (or clears, with "") the message under a form. */
export function setFormError(element, text) {
    element.textContent = text;
    element.classList.toggle("visible", Boolean(text));
}

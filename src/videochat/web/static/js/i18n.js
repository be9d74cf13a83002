// The page's strings, handed over by the server as JSON (see templates/base.html).

/** @type {Record<string, string>} */
const strings = JSON.parse(document.getElementById("strings")?.textContent || "{}");

/** The page language ("en" or "ko"), as the server chose it. */
export const lang = document.documentElement.lang || "en";

/**
 * The string for `key` with its {placeholders} filled in. A missing key shows as itself, which
 * is easy to spot and never breaks the page.
 * @param {string} key
 * @param {Record<string, string | number>} [values]
 */
export function t(key, values = {}) {
    const text = strings[key] ?? key;
    return text.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

/** "1 member" / "3 members" / "3명". */
export function memberCount(count) {
    return t(count === 1 ? "member_count_one" : "member_count_other", { count });
}

/** The message to show for a failed request or a refused input. */
export function errorText(error) {
    const code = error?.code;
    if (code && strings[`error_${code}`]) return t(`error_${code}`);
    return error?.message || t("error_unknown");
}

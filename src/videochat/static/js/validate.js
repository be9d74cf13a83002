// The server's input rules (docs/protocol.md, "Errors"), checked before sending so that the user
// hears about a mistake at once. The server checks again; its answer is what counts.

// The limits come from the inputs' maxlength, which the page sets from the server's settings.
const DEFAULT_LIMITS = { room: 64, nickname: 32, message: 2000 };

// Unicode "Cc": C0 controls, DEL and C1 controls. Python's unicodedata calls exactly these Cc.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;

/** A string key of the page's strings and the values for its placeholders. */
/** @typedef {[string, Record<string, string | number>]} ErrorKey */

/**
 * Checks a value the way the server will: {value} (trimmed) if it passes, else {error}.
 * @param {"room" | "nickname" | "message"} kind
 * @param {string} raw
 * @param {number} [limit]
 * @returns {{value: string, error?: undefined} | {error: ErrorKey, value?: undefined}}
 */
export function check(kind, raw, limit = DEFAULT_LIMITS[kind]) {
    const value = raw.trim();
    // An empty message is simply not sent; an empty name or room is a mistake to point out.
    if (!value) return kind === "message" ? { value } : { error: [`error_${kind}_empty`, {}] };
    // Lengths are counted in code points, as Python's len() does.
    if ([...value].length > limit) return { error: [`error_${kind}_too_long`, { count: limit }] };
    if (CONTROL.test(value)) return { error: ["error_control_chars", {}] };
    return { value };
}

/** The limit an input states in its maxlength, else the server's default. */
export function limitOf(input, kind) {
    return input.maxLength > 0 ? input.maxLength : DEFAULT_LIMITS[kind];
}

// The server's input rules (docs/protocol.md, "Errors"), checked before sending so that the user
// hears about a mistake at once. The server checks again; its answer is what counts. No DOM: the
// limits are the server's (the page config, config.js), handed in by the caller.

// Unicode "Cc": C0 controls, DEL and C1 controls. Python's unicodedata calls exactly these Cc.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;

// Names (nicknames, room names) follow the server's identifier rules (validation.py): NFC, no bidi
// controls, no invisible characters except the joiners an emoji or a script needs.
const BIDI_CONTROLS = /[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/u;
const FILLERS = /[\u115f\u1160\u3164\uffa0\u2800\u17b4\u17b5]/u;
const EMOJI = "\\u00a9\\u00ae\\u203c\\u2049\\u2122\\u2139\\u2190-\\u2bff\\u3030\\u303d\\u3297\\u3299\\u{1f000}-\\u{1faff}";
const EMOJI_JOINED = new RegExp(`(?<=[${EMOJI}\\ufe0f])\\u200d(?=[${EMOJI}])`, "gu");
const FLAG_TAGS = /(?<=\u{1f3f4})[\u{e0061}-\u{e007a}\u{e0030}-\u{e0039}]{1,6}\u{e007f}/gu;
const SCRIPT_JOINED = /(?<=\p{Mn})[\u200c\u200d]|(?<=[\u0600-\u08ff])[\u200c\u200d](?=[\u0600-\u08ff])/gu;
const INVISIBLE = /[\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u;
const MOST_MARKS_IN_A_ROW = 4;
const TOO_MANY_MARKS = new RegExp(`[\\p{Mn}\\p{Me}]{${MOST_MARKS_IN_A_ROW + 1}}`, "u");

/**
 * What is wrong with a name, as the server would say it, or null.
 * @param {string} name NFC, trimmed
 * @returns {ErrorKey | null}
 */
function nameProblem(name) {
    if (BIDI_CONTROLS.test(name)) return ["error_bidi_chars", {}];
    // A joiner after any nonspacing mark is let through here (JS has no virama property); the server decides.
    const rest = name.replace(EMOJI_JOINED, "").replace(FLAG_TAGS, "").replace(SCRIPT_JOINED, "");
    if (INVISIBLE.test(rest) || FILLERS.test(rest)) return ["error_invisible_chars", {}];
    if (TOO_MANY_MARKS.test(rest)) return ["error_combining_marks", {}];
    return null;
}

/** A string key of the page's strings and the values for its placeholders. */
/** @typedef {[string, Record<string, string | number>]} ErrorKey */

/**
 * Checks a value the way the server will: {value} (trimmed) if it passes, else {error}.
 * @param {"room" | "nickname" | "message"} kind
 * @param {string} raw
 * @param {{room: number, nickname: number, message: number}} limits the server's (code points)
 * @returns {{value: string, error?: undefined} | {error: ErrorKey, value?: undefined}}
 */
export function check(kind, raw, limits) {
    const limit = limits[kind];
    const value = kind === "message" ? raw.trim() : raw.normalize("NFC").trim();
    // An empty message is simply not sent; an empty name or room is a mistake to point out.
    if (!value) return kind === "message" ? { value } : { error: [`error_${kind}_empty`, {}] };
    // Lengths are counted in code points, as Python's len() does.
    if ([...value].length > limit) return { error: [`error_${kind}_too_long`, { count: limit }] };
    if (CONTROL.test(value)) return { error: ["error_control_chars", {}] };
    const problem = kind === "message" ? null : nameProblem(value);
    return problem ? { error: problem } : { value };
}

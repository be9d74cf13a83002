// The page's check of names and messages (validate.js) says what the server will: each case is
// checked here and, when a server runs (VIDEOCHAT_URL), sent to it as a nickname and a room name.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { ChatConnection } from "../../src/videochat/web/static/js/protocol.js";
import { check } from "../../src/videochat/web/static/js/validate.js";

const URL = process.env.VIDEOCHAT_URL ?? "";
const LIMITS = { room: 64, nickname: 32, message: 2000 };

/** [name as typed, the name the page sends (null: it is refused, and why)] */
const NAMES = [
    ["Alice", "Alice"],
    ["  Jisoo  ", "Jisoo"],
    ["Cafe\u0301", "Café"], // NFC
    ["지수 🎉", "지수 🎉"],
    ["👩\u200d💻", "👩\u200d💻"], // a joiner inside an emoji sequence
    ["🏴\u{e0067}\u{e0062}\u{e0073}\u{e0063}\u{e0074}\u{e007f}", "🏴\u{e0067}\u{e0062}\u{e0073}\u{e0063}\u{e0074}\u{e007f}"],
    ["\u0646\u200c\u0645", "\u0646\u200c\u0645"], // Persian's zero width non-joiner
    ["x\u0301\u0302\u0303\u0304", "x\u0301\u0302\u0303\u0304"], // four marks: the most in a row
    ["x".repeat(32), "x".repeat(32)],
    ["", "error_nickname_empty"],
    ["   ", "error_nickname_empty"],
    ["x".repeat(33), "error_nickname_too_long"],
    ["line\nbreak", "error_control_chars"],
    ["a\u202eb", "error_bidi_chars"],
    ["zero\u200bwidth", "error_invisible_chars"],
    ["soft\u00adhyphen", "error_invisible_chars"],
    ["\u3164", "error_invisible_chars"],
    ["a\u2028b", "error_invisible_chars"],
    ["x\u0301\u0302\u0303\u0304\u0305", "error_combining_marks"],
];

test("names: what the page sends, or why it refuses", () => {
    for (const [raw, expected] of NAMES) {
        const result = check("nickname", raw, LIMITS);
        if (expected.startsWith("error_")) assert.equal(result.error?.[0], expected, JSON.stringify(raw));
        else assert.deepEqual(result, { value: expected }, JSON.stringify(raw));
    }
    assert.deepEqual(check("nickname", "x".repeat(33), LIMITS).error, ["error_nickname_too_long", { count: 32 }]);
    assert.deepEqual(check("room", "", LIMITS).error, ["error_room_empty", {}]);
    // lengths in code points, as the server counts them
    assert.deepEqual(check("nickname", "🎉".repeat(32), LIMITS), { value: "🎉".repeat(32) });
});

test("messages: trimmed; empty is simply not sent; controls and length refused", () => {
    assert.deepEqual(check("message", "  hi  ", LIMITS), { value: "hi" });
    assert.deepEqual(check("message", "   ", LIMITS), { value: "" });
    assert.deepEqual(check("message", "a\u202eb", LIMITS), { value: "a\u202eb" }, "messages keep every character but controls");
    assert.equal(check("message", "a\u0007", LIMITS).error?.[0], "error_control_chars");
    assert.deepEqual(check("message", "x".repeat(2001), LIMITS).error, ["error_message_too_long", { count: 2000 }]);
});

describe("the server agrees", () => {
    const skip = URL ? false : "needs a running server: VIDEOCHAT_URL";
    test("on every name, as a nickname and as a room name", { skip }, async (t) => {
        for (const [raw] of NAMES) {
            const page = check("nickname", raw, LIMITS);
            // one connection per name: a nickname change is rate limited per connection
            const connection = new ChatConnection({ url: URL, timeout: 5000 });
            t.after(() => connection.close());
            await connection.connect();
            const said = await connection.setNickname(raw).then((ack) => ack.nickname, (error) => error.code);
            assert.equal(said, page.value ?? "invalid_nickname", `nickname ${JSON.stringify(raw)}`);
            if (raw.length > LIMITS.nickname) continue; // (a room name may be longer)
            const room = await connection.enterRoom(raw).then((ack) => ack.room, (error) => error.code);
            assert.equal(room, check("room", raw, LIMITS).value ?? "invalid_room", `room ${JSON.stringify(raw)}`);
        }
    });
});

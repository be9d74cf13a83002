// Telling namesakes apart (names.js): who gets a tag, and that a tag is stable and unambiguous.

import assert from "node:assert/strict";
import { test } from "node:test";

import { lookalike, namesakeTags, tagOf } from "../../src/videochat/web/static/js/names.js";

test("names that look alike to a reader are the same name", () => {
    assert.equal(lookalike("Ａｌｉｃｅ"), "alice");
    assert.equal(lookalike(" ALICE "), "alice");
    assert.equal(lookalike("Al\u200dice"), "alice");
    assert.notEqual(lookalike("Alice"), lookalike("Alicia"));
});

test("only members sharing a name with another present member get a tag", () => {
    const tags = namesakeTags([
        { id: "a1", nickname: "Alice" },
        { id: "a2", nickname: "ａｌｉｃｅ" },
        { id: "b1", nickname: "Bob" },
    ]);
    assert.deepEqual([...tags.keys()].sort(), ["a1", "a2"]);
    assert.equal(tags.get("a1"), tagOf("a1"));
    assert.notEqual(tags.get("a1"), tags.get("a2"));
    assert.equal(namesakeTags([{ id: "a1", nickname: "Alice" }]).size, 0);
});

test("a tag is four unambiguous characters from the member's id, the same every time", () => {
    const tag = tagOf("Gziqymxzm9CNc0BLAAAj");
    assert.match(tag, /^#[0-9A-HJKMNP-TV-Z]{4}$/);
    assert.equal(tagOf("Gziqymxzm9CNc0BLAAAj"), tag);
});

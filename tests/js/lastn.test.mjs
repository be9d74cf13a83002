// lastn.js: whose camera video a page receives on the SFU (--last-n; no server needed).

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { LastN } from "../../src/videochat/web/static/js/lastn.js";

const sorted = (set) => [...set].sort();

describe("LastN", () => {
    test("a call of N others or fewer receives everyone; 0 means no limit", () => {
        assert.deepEqual(sorted(new LastN(3).choose(["a", "b", "c"])), ["a", "b", "c"]);
        assert.deepEqual(sorted(new LastN(0).choose(["a", "b", "c", "d", "e"])), ["a", "b", "c", "d", "e"]);
    });

    test("before anyone spoke, the first N tiles; then the most recent speakers first", () => {
        const last = new LastN(2);
        const ids = ["a", "b", "c", "d"];
        assert.deepEqual(sorted(last.choose(ids)), ["a", "b"]);
        assert.equal(last.spoke("d"), true);
        assert.deepEqual(sorted(last.choose(ids)), ["a", "d"]);
        last.spoke("c");
        assert.deepEqual(sorted(last.choose(ids)), ["c", "d"]);
        assert.equal(last.spoke("c"), false, "the same speaker again changes nothing");
        last.spoke("d");
        assert.deepEqual(sorted(last.choose(ids)), ["c", "d"]);
        last.spoke("a");
        assert.deepEqual(sorted(last.choose(ids)), ["a", "d"]);
    });

    test("the pinned are always received, even past N, and come before the speakers", () => {
        const last = new LastN(2);
        const ids = ["a", "b", "c", "d"];
        last.spoke("a");
        last.spoke("b");
        last.pin("d", true);
        assert.equal(last.isPinned("d"), true);
        assert.deepEqual(sorted(last.choose(ids)), ["b", "d"]);
        last.pin("c", true);
        last.pin("a", true);
        assert.deepEqual(sorted(last.choose(ids)), ["a", "c", "d"]);
        last.pin("a", false);
        last.pin("c", false);
        assert.deepEqual(sorted(last.choose(ids)), ["b", "d"]);
    });

    test("who left is forgotten: speakers and pins", () => {
        const last = new LastN(1);
        last.spoke("b");
        last.pin("c", true);
        last.forget("c");
        assert.equal(last.isPinned("c"), false);
        assert.deepEqual(sorted(last.choose(["a", "b", "c"])), ["b"]);
        last.forget("b");
        assert.deepEqual(sorted(last.choose(["a", "b", "c"])), ["a"]);
        assert.deepEqual(sorted(last.choose(["a", "c"])), ["a"]);
    });
});

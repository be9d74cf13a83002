// How loud a received sound is, from WebRTC's totals (levels.js): the speaking ring's measure, for
// the mesh and the SFU alike.

import assert from "node:assert/strict";
import { test } from "node:test";

import { energyIn, levelBetween } from "../../src/videochat/web/static/js/levels.js";

test("a sound's level between two reads is its mean over the interval: a short beep between reads counts", () => {
    // a 20 ms beep at level 0.5 within 200 ms of silence: energy 0.5² × 0.02
    const before = { energy: 1.0, duration: 10.0 };
    const level = levelBetween(before, { energy: 1.0 + 0.25 * 0.02, duration: 10.2 });
    assert.ok(Math.abs(level - 0.5 * Math.sqrt(0.1)) < 1e-9, String(level));
    assert.ok(level > 0.02, "loud enough to be speaking (media.js: above 0.02)");
    assert.equal(levelBetween(before, { energy: 1.0, duration: 10.2 }), 0); // silence
    assert.equal(levelBetween(before, before), 0); // no time passed
    assert.equal(levelBetween(before, { energy: 0.1, duration: 0.2 }), 0); // a new connection's totals
    assert.equal(levelBetween(before, { energy: 9, duration: 10.1 }), 1); // never above 1
});

test("a report's received sound totals are its audio inbound-rtp's; video and sent sound are not", () => {
    const report = new Map([
        ["v", { type: "inbound-rtp", kind: "video", framesDecoded: 9 }],
        ["o", { type: "outbound-rtp", kind: "audio", totalAudioEnergy: 7 }],
        ["a", { type: "inbound-rtp", kind: "audio", totalAudioEnergy: 0.5, totalSamplesDuration: 3 }],
    ]);
    assert.deepEqual(energyIn(/** @type {any} */ (report)), { energy: 0.5, duration: 3 });
    assert.equal(energyIn(/** @type {any} */ (new Map([["v", { type: "inbound-rtp", kind: "video" }]]))), null);
    // before any sound was decoded the totals may be absent: they count from zero
    assert.deepEqual(energyIn(/** @type {any} */ (new Map([["a", { type: "inbound-rtp", kind: "audio" }]]))), {
        energy: 0,
        duration: 0,
    });
});

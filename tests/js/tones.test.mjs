// The page's sounds (tones.js): WAV files a browser can play, made without shipping any.

import assert from "node:assert/strict";
import { test } from "node:test";

import { SOUNDS, chime } from "../../src/videochat/web/static/js/tones.js";

test("a chime is a mono 16-bit PCM WAV of its notes' length, not silent, never clipping", () => {
    const wav = chime([440, 660], 100);
    const view = new DataView(wav.buffer);
    const text = (offset, length) => String.fromCharCode(...wav.slice(offset, offset + length));
    assert.equal(text(0, 4), "RIFF");
    assert.equal(text(8, 8), "WAVEfmt ");
    assert.equal(view.getUint16(20, true), 1, "PCM");
    assert.equal(view.getUint16(22, true), 1, "mono");
    const rate = view.getUint32(24, true);
    assert.equal(text(36, 4), "data");
    const samples = view.getUint32(40, true) / 2;
    assert.equal(samples, Math.round((rate * 100) / 1000) * 2, "two notes of 100 ms");
    assert.equal(view.getUint32(4, true), wav.length - 8);
    let peak = 0;
    for (let i = 0; i < samples; i++) peak = Math.max(peak, Math.abs(view.getInt16(44 + 2 * i, true)));
    assert.ok(peak > 3000 && peak < 32767, `peak ${peak}`);
});

test("every sound has notes", () => {
    for (const [kind, notes] of Object.entries(SOUNDS)) assert.ok(notes.length > 0 && chime(notes).length > 44, kind);
});

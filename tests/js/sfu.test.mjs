// The SFU's decisions that need no browser (sfu.js): the simulcast layers we send, the layer a tile
// of some size asks for, and how received streams are told apart.

import assert from "node:assert/strict";
import { test } from "node:test";

import { activeLayers, budgetShares, layerFor, simulcastEncodings, streamKey } from "../../src/videochat/web/static/js/sfu.js";

test("the camera goes up in three layers, full, half and a quarter, inside the upload budget", () => {
    const layers = simulcastEncodings(2500);
    assert.deepEqual(layers.map((l) => [l.rid, l.scaleResolutionDownBy]), [["h", 1], ["m", 2], ["l", 4]]);
    const total = layers.reduce((sum, l) => sum + (l.maxBitrate ?? 0), 0);
    assert.ok(total <= 2500 * 1000, `${total} bit/s is over the budget`);
    assert.ok(layers[0].maxBitrate > layers[1].maxBitrate && layers[1].maxBitrate > layers[2].maxBitrate);
    // a tiny budget still leaves each layer something to send
    assert.ok(simulcastEncodings(100).every((l) => (l.maxBitrate ?? 0) > 0));
});

test("a tile asks for the smallest layer that fills it, in device pixels", () => {
    assert.equal(layerFor(90), 0);
    assert.equal(layerFor(149), 0);
    assert.equal(layerFor(150), 1);
    assert.equal(layerFor(299), 1);
    assert.equal(layerFor(300), 2);
    assert.equal(layerFor(900), 2);
    assert.equal(layerFor(100, 2), 1, "a phone's 100 CSS pixels are 200 device pixels");
    assert.equal(layerFor(0), 0, "a hidden tile costs the least");
});

test("a person's camera and screen are two streams", () => {
    assert.equal(streamKey({ mid: "0", kind: "video", id: "abc", source: "camera" }), "abc");
    assert.equal(streamKey({ mid: "2", kind: "video", id: "abc", source: "screen" }), "abc:screen");
});

test("sharing a screen splits the upload budget: the camera's layers and the screen stay inside it", () => {
    const alone = budgetShares(2500, false);
    assert.equal(alone.screen, 0);
    assert.deepEqual(alone.camera, simulcastEncodings(2500));
    const sharing = budgetShares(2500, true);
    const camera = sharing.camera.reduce((sum, l) => sum + (l.maxBitrate ?? 0), 0);
    assert.ok(camera + sharing.screen <= 2500 * 1000, `${camera} + ${sharing.screen} bit/s is over the budget`);
    assert.ok(sharing.screen >= 300_000, "a screen needs some bitrate to be readable");
});


test("a camera encodes the layers up to the highest anyone receives, never fewer than the browser's smallest", () => {
    const on = (upTo, smallest) => [...activeLayers(upTo, smallest)].filter(([, active]) => active).map(([rid]) => rid).sort();
    assert.deepEqual(on(2, 0), ["h", "l", "m"], "someone receives the full size: every layer");
    assert.deepEqual(on(1, 0), ["l", "m"]);
    assert.deepEqual(on(0, 0), ["l"], "everyone receives the smallest");
    // Chromium encodes two layers of a 640×360 camera: its smallest is the half size, kept
    assert.deepEqual(on(0, 1), ["l", "m"]);
    assert.deepEqual(on(1, 2), ["h", "l", "m"], "nothing encoded yet: every layer stays on");
    assert.deepEqual(on(-1, 1), [], "nobody receives its video: no layer at all");
});

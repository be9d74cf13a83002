// The call's decisions that need no browser (peers.js): how the upload budget is shared, whether a
// spare connection is kept, which candidates are worth sending, how far a camera is scaled down.

import assert from "node:assert/strict";
import { test } from "node:test";

import {
    fingerprintOf, pairsWithNothing, roomForOneMore, scaleFor, videoShare, withoutUnpairable,
} from "../../src/videochat/web/static/js/peers.js";

test("the upload budget is shared among the peers, less the audio, with smaller pictures as shares shrink", () => {
    assert.deepEqual(videoShare(2500, 1), { bitrate: 2436000, maxHeight: Infinity });
    assert.deepEqual(videoShare(2500, 0), videoShare(2500, 1), "no peer yet counts as one");
    assert.deepEqual(videoShare(2500, 2), { bitrate: 1186000, maxHeight: 360 });
    assert.deepEqual(videoShare(2500, 5), { bitrate: 436000, maxHeight: 360 });
    assert.deepEqual(videoShare(1000, 5), { bitrate: 136000, maxHeight: 180 });
    // never below the least a video sender is given
    assert.deepEqual(videoShare(300, 5), { bitrate: 60000, maxHeight: 180 });
});

test("a spare connection is kept only while one more person could join", () => {
    // we, our peers, those whose offers we wait for, and the newcomer
    assert.equal(roomForOneMore(0, 0, 6), true);
    assert.equal(roomForOneMore(4, 0, 6), true);
    assert.equal(roomForOneMore(3, 1, 6), true);
    assert.equal(roomForOneMore(4, 1, 6), false);
    assert.equal(roomForOneMore(0, 0, 1), false);
});

const ACTIVE_TCP = "candidate:3 1 tcp 1518280447 192.168.1.5 9 typ host tcptype active generation 0";
const PASSIVE_TCP = "candidate:4 1 tcp 1518280447 192.168.1.5 50000 typ host tcptype passive generation 0";
const UDP = "candidate:1 1 udp 2122260223 192.168.1.5 51000 typ host generation 0";
const RELAY = "candidate:5 1 udp 41885439 203.0.113.7 3478 typ relay raddr 0.0.0.0 rport 0 generation 0";

test("only a browser's active TCP host candidates are dropped (nothing of a call pairs with them)", () => {
    assert.equal(pairsWithNothing(ACTIVE_TCP), true);
    for (const candidate of [PASSIVE_TCP, UDP, RELAY]) assert.equal(pairsWithNothing(candidate), false, candidate);
    const sdp = ["v=0", "m=audio 9 UDP/TLS/RTP/SAVPF 111", `a=${UDP}`, `a=${ACTIVE_TCP}`, `a=${RELAY}`, ""].join("\r\n");
    assert.equal(withoutUnpairable(sdp), ["v=0", "m=audio 9 UDP/TLS/RTP/SAVPF 111", `a=${UDP}`, `a=${RELAY}`, ""].join("\r\n"));
});

test("a description's fingerprint tells a new connection from the same one", () => {
    const sdp = "v=0\r\na=fingerprint:sha-256 AB:CD:EF \r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n";
    assert.equal(fingerprintOf(sdp), "sha-256 AB:CD:EF");
    assert.equal(fingerprintOf("v=0\r\n"), "");
    assert.equal(fingerprintOf(undefined), "");
});

test("a camera is scaled down to the height allowed; a screen never is", () => {
    /** A track's shape as the browser gives it (contentHint, getSettings). */
    const track = (height, contentHint = "") => ({ contentHint, getSettings: () => ({ height }) });
    assert.equal(scaleFor(track(720), 180), 4);
    assert.equal(scaleFor(track(720), 360), 2);
    assert.equal(scaleFor(track(360), 360), 1);
    assert.equal(scaleFor(track(240), 360), 1, "never scaled up");
    assert.equal(scaleFor(track(1080, "detail"), 180), 1, "a shared screen keeps its resolution");
    assert.equal(scaleFor(null, 180), 1);
});

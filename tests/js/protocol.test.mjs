// protocol.js against a real videochat server (VIDEOCHAT_URL; tests/test_js_checks.py starts one and
// runs these): the page's ChatConnection, the events it dispatches and the page config it is given.
// Run with `node --import ./tests/js/vendor.mjs --test tests/js/`.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, test } from "node:test";

import { ChatConnection, ProtocolError } from "../../src/videochat/web/static/js/protocol.js";

const URL = process.env.VIDEOCHAT_URL ?? "";
const skip = URL ? false : "needs a running server: VIDEOCHAT_URL (tests/test_js_checks.py sets it)";
const WAIT_MS = 5000;

/** The page config the server embeds in every page (web/pages.py), as a page reads it. */
async function pageConfig() {
    const html = await (await fetch(`${URL}/`)).text();
    const json = /<script type="application\/json" id="page-config">(.*?)<\/script>/s.exec(html)?.[1];
    assert.ok(json, "the home page embeds no page-config");
    return JSON.parse(json);
}

/**
 * The detail of the next `type` event of `target` that passes `accept`.
 * @template T
 * @param {{on: (type: string, listener: (detail: any) => void) => () => void}} target
 * @param {string} type
 * @param {(detail: any) => boolean} [accept]
 * @returns {Promise<any>}
 */
function next(target, type, accept = () => true) {
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
            stop();
            reject(new Error(`no "${type}" event within ${WAIT_MS} ms`));
        }, WAIT_MS);
        const stop = target.on(type, (detail) => {
            if (!accept(detail)) return;
            clearTimeout(timer);
            stop();
            resolve(detail);
        });
    });
}

/** Every detail of `type` events from now on. */
function record(target, type) {
    const seen = [];
    target.on(type, (detail) => seen.push(detail));
    return seen;
}

/** A connected ChatConnection named `nickname`, closed when the test ends. */
async function person(t, nickname, options = {}) {
    const connection = new ChatConnection({ url: URL, timeout: WAIT_MS, ...options });
    t.after(() => connection.close());
    await connection.connect();
    await connection.setNickname(nickname);
    return connection;
}

/** A test that needs the server: reported as skipped without one. */
const serverTest = (name, fn) => test(name, { skip }, fn);
const newRoom = () => `js-${randomUUID().slice(0, 8)}`;
const media = { audio: true, video: false, screen: false };

describe("ChatConnection against the server", () => {
    serverTest("says connecting, then connected", async (t) => {
        const connection = new ChatConnection({ url: URL, timeout: WAIT_MS });
        t.after(() => connection.close());
        const statuses = record(connection, "status");
        await connection.connect();
        assert.deepEqual(statuses.map(({ status }) => status), ["connecting", "connected"]);
        assert.equal(connection.status, "connected");
    });

    serverTest("every listener of an event hears it, until it stops listening", async (t) => {
        const room = newRoom();
        const alice = await person(t, "Alice");
        const bob = await person(t, "Bob");
        await alice.enterRoom(room);
        const first = record(alice, "welcome");
        const second = record(alice, "welcome");
        // (the others hear of an entry before the newcomer has its ack: every wait starts before the request)
        const welcomed = next(alice, "welcome");
        const entered = await bob.enterRoom(room);
        assert.equal((await welcomed).member.id, entered.you.id);
        for (const seen of [first, second]) {
            assert.deepEqual(seen, [{ room, member: entered.you, count: 2, call: false }]);
        }

        const heard = record(alice, "message");
        const stop = alice.on("message", () => assert.fail("a listener that stopped still hears"));
        stop();
        const received = next(alice, "message");
        const sent = await bob.sendMessage("hello", room);
        assert.deepEqual(await received, sent);
        assert.deepEqual(heard, [sent]);
        assert.equal(sent.text, "hello");
        assert.equal(sent.author.nickname, "Bob");
    });

    serverTest("a direct message is the one reader's alone, and a refused one says why", async (t) => {
        const room = newRoom();
        const alice = await person(t, "Alice");
        const bob = await person(t, "Bob");
        const carol = await person(t, "Carol");
        await alice.enterRoom(room);
        const bobId = (await bob.enterRoom(room)).you.id;
        await carol.enterRoom(room);
        const carolHeard = record(carol, "direct");
        const received = next(bob, "direct");
        const sent = await alice.sendDirect(bobId, "psst", room);
        assert.deepEqual(await received, sent);
        assert.deepEqual(sent.to, { id: bobId, nickname: "Bob" });
        assert.equal(sent.text, "psst");
        // Carol's message after it reaches her; the direct one never does
        const after = next(carol, "message");
        await bob.sendMessage("after", room);
        await after;
        assert.deepEqual(carolHeard, []);
        await assert.rejects(alice.sendDirect("nobody", "psst", room), { code: "unknown_member", event: "direct_message" });
    });

    serverTest("a file goes up with requestUpload's ticket and reaches the room as a message", async (t) => {
        const room = newRoom();
        const alice = await person(t, "Alice");
        const bob = await person(t, "Bob");
        await alice.enterRoom(room);
        await bob.enterRoom(room);
        const received = next(bob, "message", (message) => Boolean(message.file));
        const upload = await alice.requestUpload("notes.txt", 5, room);
        assert.equal(upload.name, "notes.txt");
        const response = await fetch(`${URL}${upload.url}`, {
            method: "PUT", body: "hello", headers: { "X-Upload-Ticket": upload.ticket },
        });
        assert.equal(response.status, 201);
        const sent = (await response.json()).message;
        assert.deepEqual(await received, sent);
        assert.deepEqual(sent.file, { id: upload.id, name: "notes.txt", size: 5, type: "application/octet-stream", url: upload.url });
        // the page knows the largest file, and the server refuses one byte more
        const largest = (await pageConfig()).limits.fileBytes;
        assert.equal(largest, 25 * 1024 * 1024);
        await assert.rejects(alice.requestUpload("big.bin", largest + 1, room), { code: "file_too_large", event: "upload_file" });
    });

    serverTest("a refused request rejects with the server's code", async (t) => {
        const alice = await person(t, "Alice");
        await assert.rejects(alice.sendMessage("hello", newRoom()), (error) => {
            assert.ok(error instanceof ProtocolError);
            assert.equal(error.code, "not_in_room");
            assert.equal(error.event, "new_message");
            return true;
        });
        const tooLong = "x".repeat((await pageConfig()).limits.nickname + 1);
        await assert.rejects(alice.setNickname(tooLong), { code: "invalid_nickname" });
    });

    serverTest("raised hands: in the order they went up, for the whole room, gone with their caller", async (t) => {
        const room = newRoom();
        const alice = await person(t, "Alice");
        const bob = await person(t, "Bob");
        const carol = await person(t, "Carol");
        const aliceId = (await alice.joinCall(room, media)).you.id;
        const bobId = (await bob.joinCall(room, media)).you.id;
        await carol.enterRoom(room); // in the room, not in its call
        const bobUp = next(carol, "hands");
        const raised = await bob.raiseHand(true);
        assert.deepEqual(await bobUp, { hands: [{ id: bobId, hand: raised.hand }], changed: bobId, by: null });
        const aliceUp = next(carol, "hands");
        await alice.raiseHand(true);
        assert.deepEqual((await aliceUp).hands.map((hand) => hand.id), [bobId, aliceId]);
        // the owner (Alice, first in) lowers Bob's; Bob hears who did
        // (Alice's raise may reach Bob after it reached Carol: wait for the change to his own)
        const lowered = next(bob, "hands", (detail) => detail.changed === bobId);
        await alice.lowerHand(room, bobId);
        const change = await lowered;
        assert.equal(change.changed, bobId);
        assert.equal(change.by?.id, aliceId);
        assert.deepEqual(bob.hands.map((hand) => hand.id), [aliceId]);
        await assert.rejects(bob.lowerHand(room, aliceId), { code: "not_owner" });
        // a hand goes with its caller
        const gone = next(carol, "hands", (detail) => detail.changed === aliceId && detail.hands.length === 0);
        await alice.leaveCall();
        assert.deepEqual((await gone).hands, []);
        await assert.rejects(carol.raiseHand(true), { code: "not_in_call" });
    });

    serverTest("the call: callers, welcome, signaling, media state, leaving; the limits the page is given", async (t) => {
        const { limits } = await pageConfig();
        const room = newRoom();
        const alice = await person(t, "Alice");
        const bob = await person(t, "Bob");
        const joined = await alice.joinCall(room, media);
        assert.equal(joined.maxCallSize, limits.callSize);
        assert.equal(joined.uploadBudgetKbps, limits.uploadBudgetKbps);
        assert.deepEqual(alice.callers, [joined.you]);

        const callers = record(alice, "callers");
        const welcomed = next(alice, "callwelcome");
        const bobJoined = await bob.joinCall(room, media);
        const bobId = bobJoined.you.id;
        assert.deepEqual(bobJoined.peers, [{ id: joined.you.id, nickname: "Alice", media, hand: null }]);
        assert.deepEqual((await welcomed).peer, { id: bobId, nickname: "Bob", media, hand: null });
        // (told before the welcome: a page that draws the newcomer knows the call's size already)
        assert.deepEqual(callers, [{ callers: [joined.you, bobJoined.you], max: limits.callSize }]);

        const description = { type: "offer", sdp: "v=0\r\n" };
        const offered = next(alice, "offer");
        bob.signal("offer", description, joined.you.id);
        const offer = await offered;
        assert.deepEqual(offer.description, description);
        assert.equal(offer.sender.from, bobId);
        assert.equal(offer.sender.room, room);
        assert.equal(offer.sender.member.nickname, "Bob");

        const changed = next(alice, "mediastate");
        bob.sendMediaState({ audio: false, video: true, screen: false });
        assert.deepEqual(await changed, { room, id: bobId, media: { audio: false, video: true, screen: false } });

        const left = next(alice, "peerleft");
        await bob.leaveCall();
        assert.equal((await left).id, bobId);
        assert.deepEqual(callers.at(-1), { callers: [joined.you], max: limits.callSize });
        assert.deepEqual(alice.callers, [joined.you]);
    });

    serverTest("back after a lost connection: a room that refuses us puts us out of it (the codes the page is given)", async (t) => {
        const { errors } = await pageConfig();
        assert.ok(errors.entry.includes("room_full"));
        const room = newRoom();
        const owner = await person(t, "Owner");
        await owner.enterRoom(room);
        // One page told the server's entry refusals, one not: only the first knows it is out.
        const told = await person(t, "Told", { entryRefusals: errors.entry });
        const untold = await person(t, "Untold");
        await told.enterRoom(room);
        await untold.enterRoom(room);
        // (All these share one browser id, as tabs of one browser would: a password would let them
        // back in as the owner's. A cap does not.)
        await owner.roomSettings(room, { maxMembers: 1 });

        const refused = next(told, "rejoinrefused");
        const unexplained = next(untold, "error");
        for (const page of [told, untold]) page.socket.io.engine.close(); // the connection drops
        assert.equal((await refused).code, "room_full");
        assert.equal(told.room, null);
        assert.deepEqual(told.callers, []);
        assert.equal((await unexplained).code, "room_full");
        assert.equal(untold.room, room);
    });

    serverTest("removed by the owner: out of the room, still connected", async (t) => {
        const room = newRoom();
        const owner = await person(t, "Owner");
        const guest = await person(t, "Guest");
        const you = (await owner.enterRoom(room)).you;
        const guestId = (await guest.enterRoom(room)).you.id;
        const removed = next(guest, "removed");
        const gone = next(owner, "bye");
        await owner.removeMember(room, guestId);
        const info = await removed;
        assert.equal(info.room, room);
        assert.deepEqual(info.by, you);
        assert.equal(guest.room, null);
        assert.equal(guest.status, "connected");
        assert.equal((await gone).member.id, guestId);
    });
});

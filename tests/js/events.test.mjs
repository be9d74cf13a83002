// The Emitter every module's events go through (events.js).

import assert from "node:assert/strict";
import { test } from "node:test";

import { Emitter } from "../../src/videochat/web/static/js/events.js";

class Source extends Emitter {
    /** @param {string} type @param {unknown} detail */
    tell(type, detail) {
        this.dispatch(type, detail);
    }
}

test("every listener hears each event's detail, in the order they began to listen, until it stops", () => {
    const source = new Source();
    const heard = [];
    const stopFirst = source.on("news", (detail) => heard.push(["first", detail]));
    source.on("news", (detail) => heard.push(["second", detail]));
    source.addEventListener("news", (event) => heard.push(["plain", /** @type {any} */ (event).detail]));
    source.on("other", () => heard.push(["other"]));
    source.tell("news", { n: 1 });
    stopFirst();
    source.tell("news", { n: 2 });
    assert.deepEqual(heard, [
        ["first", { n: 1 }], ["second", { n: 1 }], ["plain", { n: 1 }],
        ["second", { n: 2 }], ["plain", { n: 2 }],
    ]);
});

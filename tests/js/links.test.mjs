// Links in chat messages (links.js): which parts of a text become links, and that nothing else does.

import assert from "node:assert/strict";
import { test } from "node:test";

import { splitLinks } from "../../src/videochat/web/static/js/links.js";

const links = (text) => splitLinks(text).filter((p) => p.href).map((p) => p.href);

test("web addresses become links, and the parts joined are the text", () => {
    const text = "see https://example.org/a?b=1#c and www.example.com/x, then http://h:8080/p.";
    assert.deepEqual(links(text), ["https://example.org/a?b=1#c", "https://www.example.com/x", "http://h:8080/p"]);
    assert.equal(splitLinks(text).map((p) => p.text).join(""), text);
});

test("a sentence's punctuation and an unopened bracket stay out of the link", () => {
    assert.deepEqual(links("(look at https://example.org/page)"), ["https://example.org/page"]);
    assert.deepEqual(links("https://en.wikipedia.org/wiki/Foo_(bar)!"), ["https://en.wikipedia.org/wiki/Foo_(bar)"]);
    assert.deepEqual(links('"https://example.org".'), ["https://example.org"]);
});

test("nothing but http and https is a link", () => {
    for (const text of ["javascript:alert(1)", "data:text/html,<b>x</b>", "ftp://example.org", "file:///etc/passwd",
        "mailto:a@example.org", "<a href='https://x'>", "https://", "plain words"]) {
        assert.ok(links(text).every((href) => href.startsWith("https://x") || href.startsWith("http")), text);
        assert.equal(splitLinks(text).map((p) => p.text).join(""), text);
    }
    assert.deepEqual(links("javascript:alert(1)"), []);
    assert.deepEqual(links("https://"), []);
});

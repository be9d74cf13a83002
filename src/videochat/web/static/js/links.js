// Links in what people write: the parts of a text that are web addresses, so that a page can make
// them clickable while everything else stays plain text (never HTML). No DOM here.

// http(s):// or www. followed by anything but spaces and the characters that cannot be in a URL
// unescaped; a trailing punctuation mark (the end of a sentence, a closing bracket with no opening
// one in the address) is left out of the link.
const CANDIDATE = /\b(?:https?:\/\/|www\.)[^\s<>"'`]+/giu;
const TRAILING = /[.,;:!?'"\u2019\u201d]+$/u;

/**
 * @typedef {{text: string, href?: string}} TextPart a piece of the text; `href`: it is a link there
 */

/**
 * The text cut into plain parts and links (http and https only: a `javascript:` address stays
 * text). Joined again, the parts' texts are the text.
 * @param {string} text
 * @returns {TextPart[]}
 */
export function splitLinks(text) {
    /** @type {TextPart[]} */
    const parts = [];
    let last = 0;
    for (const match of text.matchAll(CANDIDATE)) {
        let link = match[0].replace(TRAILING, "");
        while (link.endsWith(")") && count(link, "(") < count(link, ")")) link = link.slice(0, -1);
        const start = match.index ?? 0;
        const href = /^www\./iu.test(link) ? `https://${link}` : link;
        if (!isWebAddress(href)) continue;
        if (start > last) parts.push({ text: text.slice(last, start) });
        parts.push({ text: link, href });
        last = start + link.length;
    }
    if (last < text.length) parts.push({ text: text.slice(last) });
    return parts;
}

/** @param {string} text @param {string} char */
function count(text, char) {
    return text.split(char).length - 1;
}

/** @param {string} href */
function isWebAddress(href) {
    try {
        const url = new URL(href);
        return (url.protocol === "http:" || url.protocol === "https:") && url.hostname.length > 0;
    } catch {
        return false;
    }
}

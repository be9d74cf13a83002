// Telling people with the same name apart (docs/security.md, "Names"). Anyone may call themselves
// "Alice" in a room where an Alice already is; the server allows it (names are not accounts). The
// page shows a short tag, made from each member's id, next to every name that more than one present
// member shares, so that the two are never the same on screen. No DOM here: members.js, chat.js and
// tiles.js show the tags.

// Letters and digits that cannot be mistaken for each other (Crockford's base 32).
const TAG_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/**
 * What a name looks like to a reader: compatibility forms folded (a full-width "Ａｌｉｃｅ" is
 * "alice"), case ignored, joiners and variation selectors dropped.
 * @param {string} name
 */
export function lookalike(name) {
    return name.normalize("NFKC").replace(/[\u200c\u200d\ufe00-\ufe0f]/gu, "").toLowerCase().trim();
}

/**
 * A member's tag: four characters from its id (a new one after each reconnection, as the id).
 * @param {string} id
 */
export function tagOf(id) {
    let hash = 0x811c9dc5; // FNV-1a, 32 bits
    for (const char of id) {
        hash ^= char.codePointAt(0) ?? 0;
        hash = Math.imul(hash, 0x01000193) >>> 0;
    }
    let tag = "";
    for (let i = 0; i < 4; i++, hash >>>= 5) tag += TAG_ALPHABET[hash & 31];
    return `#${tag}`;
}

/**
 * The tags to show: for each member whose name looks like another present member's, its tag.
 * @param {Iterable<{id: string, nickname: string}>} members
 * @returns {Map<string, string>} member id -> tag
 */
export function namesakeTags(members) {
    /** @type {Map<string, string[]>} */
    const byName = new Map();
    for (const { id, nickname } of members) {
        const key = lookalike(nickname);
        byName.set(key, [...(byName.get(key) ?? []), id]);
    }
    const tags = new Map();
    for (const ids of byName.values()) if (ids.length > 1) for (const id of ids) tags.set(id, tagOf(id));
    return tags;
}

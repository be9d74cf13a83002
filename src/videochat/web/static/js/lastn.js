// Whose camera video a page receives in a call on the SFU (--last-n, docs/sfu.md): the people it
// pinned, then the most recent speakers, then, to fill up to N, the others in the order of their
// tiles. The rest show their name; their sound goes on. No DOM: call.js asks and applies.

export class LastN {
    /** @type {string[]} who spoke, the most recent first */
    #recent = [];
    /** @type {Set<string>} */
    #pinned = new Set();

    /** @param {number} n the most people whose video is received (0: everyone's) */
    constructor(n) {
        this.n = n;
    }

    /**
     * Someone spoke (for a moment: call.js does not count a cough): first among the recent.
     * @param {string} id
     * @returns {boolean} whether the order changed
     */
    spoke(id) {
        if (this.#recent[0] === id) return false;
        this.#recent = [id, ...this.#recent.filter((other) => other !== id)];
        return true;
    }

    /** @param {string} id @param {boolean} on */
    pin(id, on) {
        if (on) this.#pinned.add(id);
        else this.#pinned.delete(id);
    }

    /** @param {string} id */
    isPinned(id) {
        return this.#pinned.has(id);
    }

    /** Someone left the call. @param {string} id */
    forget(id) {
        this.#recent = this.#recent.filter((other) => other !== id);
        this.#pinned.delete(id);
    }

    /**
     * Whose video to receive of `ids` (the others in the call, in the order of their tiles): all
     * pinned ones (even past N), then the recent speakers, then the first of the rest, N in all.
     * @param {string[]} ids
     * @returns {Set<string>}
     */
    choose(ids) {
        if (this.n <= 0 || ids.length <= this.n) return new Set(ids);
        const present = new Set(ids);
        const chosen = new Set(ids.filter((id) => this.#pinned.has(id)));
        for (const id of [...this.#recent.filter((id) => present.has(id)), ...ids]) {
            if (chosen.size >= this.n) break;
            chosen.add(id);
        }
        return chosen;
    }
}

// How good a page's own call connection is, from WebRTC's statistics (getStats): the round-trip
// time, the share of packets lost and of video frames dropped since the last look, graded good,
// fair or poor. Shared with the others through the media state (docs/protocol.md, `Media`); the
// people list and the tiles show it. No DOM: plain data in, a grade out (tests/js/quality.test.mjs).

/** @typedef {"good" | "fair" | "poor"} Quality */
/**
 * Counters summed over the connections' streams, and the worst round-trip time (seconds).
 * @typedef {{rtt: number | null, received: number, lost: number, decoded: number, dropped: number}} Totals
 */
/** What one look found: each share null when nothing was counted. @typedef {{rtt: number | null, loss: number | null, dropped: number | null}} Sample */

/** From these on, a sample is fair, or poor (the worst of its three measures counts). */
export const FAIR = { rtt: 0.3, loss: 0.03, dropped: 0.1 };
export const POOR = { rtt: 0.6, loss: 0.1, dropped: 0.3 };

/**
 * The counters of some connections' statistics.
 * @param {Iterable<Iterable<any>>} reports one RTCStatsReport's values per connection
 * @returns {Totals}
 */
export function totals(reports) {
    /** @type {Totals} */
    const sum = { rtt: null, received: 0, lost: 0, decoded: 0, dropped: 0 };
    const worst = (/** @type {unknown} */ rtt) => {
        if (typeof rtt === "number" && Number.isFinite(rtt)) sum.rtt = Math.max(sum.rtt ?? 0, rtt);
    };
    for (const report of reports) {
        for (const stat of report) {
            if (stat.type === "candidate-pair" && stat.nominated && stat.state === "succeeded") worst(stat.currentRoundTripTime);
            else if (stat.type === "remote-inbound-rtp") worst(stat.roundTripTime);
            else if (stat.type === "inbound-rtp") {
                sum.received += stat.packetsReceived ?? 0;
                sum.lost += Math.max(0, stat.packetsLost ?? 0);
                if (stat.kind === "video") {
                    sum.decoded += stat.framesDecoded ?? 0;
                    sum.dropped += stat.framesDropped ?? 0;
                }
            }
        }
    }
    return sum;
}

/**
 * What happened between two looks; null when a counter went back (a connection closed or was
 * replaced): the next look starts afresh.
 * @param {Totals} before
 * @param {Totals} after
 * @returns {Sample | null}
 */
export function sample(before, after) {
    const received = after.received - before.received;
    const lost = after.lost - before.lost;
    const decoded = after.decoded - before.decoded;
    const dropped = after.dropped - before.dropped;
    if (received < 0 || lost < 0 || decoded < 0 || dropped < 0) return null;
    return {
        rtt: after.rtt,
        loss: received + lost > 0 ? lost / (received + lost) : null,
        dropped: decoded + dropped > 0 ? dropped / (decoded + dropped) : null,
    };
}

/**
 * A sample's grade: the worst of its measures (those not counted do not count).
 * @param {Sample} measured
 * @returns {Quality}
 */
export function grade({ rtt, loss, dropped }) {
    const over = (/** @type {typeof FAIR} */ limit) =>
        (rtt ?? 0) >= limit.rtt || (loss ?? 0) >= limit.loss || (dropped ?? 0) >= limit.dropped;
    if (over(POOR)) return "poor";
    if (over(FAIR)) return "fair";
    return "good";
}

/**
 * Grades a page's connections look after look. A new grade is told only once two looks in a row
 * agree, so that one bad second does not flicker everyone's icons.
 */
export class QualityMeter {
    /** @type {Totals | null} */
    #last = null;
    /** @type {Quality | null} */
    #candidate = null;
    /** @type {Quality | null} the grade told */
    quality = null;

    /**
     * @param {Iterable<Iterable<any>>} reports this look's statistics, one report per connection
     * @returns {Quality | null} the new grade, when it changed
     */
    look(reports) {
        const now = totals(reports);
        const measured = this.#last ? sample(this.#last, now) : null;
        this.#last = now;
        if (!measured) return null;
        const quality = grade(measured);
        const agreed = quality === this.#candidate || this.quality === null;
        this.#candidate = quality;
        if (!agreed || quality === this.quality) return null;
        this.quality = quality;
        return quality;
    }
}

// quality.js: a page's connection graded from WebRTC statistics (no server needed).

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { FAIR, POOR, QualityMeter, grade, sample, totals } from "../../src/videochat/web/static/js/quality.js";

/** One connection's statistics, as getStats() lists them. */
function report({ rtt = 0.05, received = 0, lost = 0, decoded = 0, dropped = 0 } = {}) {
    return [
        { type: "candidate-pair", nominated: true, state: "succeeded", currentRoundTripTime: rtt },
        { type: "candidate-pair", nominated: false, state: "failed", currentRoundTripTime: 9 }, // not the one in use
        { type: "inbound-rtp", kind: "audio", packetsReceived: received, packetsLost: lost },
        { type: "inbound-rtp", kind: "video", packetsReceived: 0, packetsLost: 0, framesDecoded: decoded, framesDropped: dropped },
    ];
}

describe("grading a connection", () => {
    test("the worst measure decides; what was not counted does not", () => {
        assert.equal(grade({ rtt: 0.05, loss: 0, dropped: 0 }), "good");
        assert.equal(grade({ rtt: null, loss: null, dropped: null }), "good");
        assert.equal(grade({ rtt: FAIR.rtt, loss: 0, dropped: 0 }), "fair");
        assert.equal(grade({ rtt: 0.05, loss: FAIR.loss, dropped: null }), "fair");
        assert.equal(grade({ rtt: 0.05, loss: 0, dropped: POOR.dropped }), "poor");
        assert.equal(grade({ rtt: POOR.rtt, loss: 0, dropped: 0 }), "poor");
    });

    test("counters sum over connections, the round trip is the worst in use", () => {
        const sum = totals([report({ rtt: 0.1, received: 100, lost: 2 }), report({ rtt: 0.4, received: 50, decoded: 30, dropped: 3 })]);
        assert.deepEqual(sum, { rtt: 0.4, received: 150, lost: 2, decoded: 30, dropped: 3 });
    });

    test("a sample is what changed between two looks; a counter going back voids it", () => {
        const before = totals([report({ received: 100, lost: 0, decoded: 100, dropped: 0 })]);
        const after = totals([report({ received: 190, lost: 10, decoded: 150, dropped: 50 })]);
        assert.deepEqual(sample(before, after), { rtt: 0.05, loss: 0.1, dropped: 0.5 });
        assert.equal(sample(after, before), null);
        assert.deepEqual(sample(before, before), { rtt: 0.05, loss: null, dropped: null });
    });

    test("the meter tells a grade once, and a change only when two looks agree", () => {
        const meter = new QualityMeter();
        let received = 0;
        let lost = 0;
        const look = (newlyReceived, newlyLost) => {
            received += newlyReceived;
            lost += newlyLost;
            return meter.look([report({ received, lost })]);
        };
        assert.equal(look(100, 0), null); // a first look: nothing to compare with
        assert.equal(look(100, 0), "good"); // the first grade is told at once
        assert.equal(look(100, 0), null); // no change
        assert.equal(look(80, 20), null); // one bad look: not yet
        assert.equal(look(100, 0), null); // back to good: nothing to tell
        assert.equal(look(80, 20), null);
        assert.equal(look(80, 20), "poor"); // two in a row
        assert.equal(meter.quality, "poor");
        assert.equal(look(97, 3), null);
        assert.equal(look(97, 3), "fair");
    });
});

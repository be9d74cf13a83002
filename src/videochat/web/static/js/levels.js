// How loud a received sound is, from WebRTC's statistics (inbound-rtp's totalAudioEnergy and
// totalSamplesDuration): the level over the time between two readings, so that a short sound
// between two reads counts too. The level of the last packet alone (getSynchronizationSources)
// misses a beep that falls between two reads. No DOM here: sfu.js and peers.js read the totals.

/** @typedef {{energy: number, duration: number}} Energy a received sound's totals (inbound-rtp) */

/**
 * The level (0 to 1, as audioLevel) of a received sound between two readings of its totals:
 * totalAudioEnergy adds level² × seconds, so this is the root mean square over the interval.
 * @param {Energy} before @param {Energy} after
 */
export function levelBetween(before, after) {
    const seconds = after.duration - before.duration;
    if (!(seconds > 0)) return 0;
    return Math.min(1, Math.sqrt(Math.max(0, after.energy - before.energy) / seconds));
}

/**
 * The totals of the received sound in `stats` (a receiver's or a connection's; the first audio
 * inbound-rtp), or null. @param {RTCStatsReport} stats
 * @returns {Energy | null}
 */
export function energyIn(stats) {
    /** @type {Energy | null} */
    let found = null;
    stats.forEach((report) => {
        if (!found && report.type === "inbound-rtp" && report.kind === "audio") {
            found = { energy: report.totalAudioEnergy ?? 0, duration: report.totalSamplesDuration ?? 0 };
        }
    });
    return found;
}

// The page's sounds, made here rather than shipped as files: short chimes as WAV bytes (PCM, mono,
// 16-bit). No DOM: sounds.js plays them.

const RATE = 16000;

/**
 * A chime: each note a sine with a quick attack and a soft decay, one after the other.
 * @param {number[]} frequencies Hz, in order
 * @param {number} noteMs each note's length
 * @returns {Uint8Array<ArrayBuffer>} a WAV file
 */
export function chime(frequencies, noteMs = 140) {
    const perNote = Math.round((RATE * noteMs) / 1000);
    const samples = new Int16Array(perNote * frequencies.length);
    frequencies.forEach((frequency, note) => {
        for (let i = 0; i < perNote; i++) {
            const t = i / RATE;
            const envelope = Math.min(1, i / (RATE * 0.005)) * Math.exp((-4 * i) / perNote);
            samples[note * perNote + i] = Math.round(0.3 * 32767 * envelope * Math.sin(2 * Math.PI * frequency * t));
        }
    });
    const bytes = new Uint8Array(44 + samples.byteLength);
    const view = new DataView(bytes.buffer);
    const text = (/** @type {number} */ offset, /** @type {string} */ value) => [...value].forEach((c, i) => view.setUint8(offset + i, c.charCodeAt(0)));
    text(0, "RIFF");
    view.setUint32(4, 36 + samples.byteLength, true);
    text(8, "WAVE");
    text(12, "fmt ");
    view.setUint32(16, 16, true); // the format chunk's size
    view.setUint16(20, 1, true); // PCM
    view.setUint16(22, 1, true); // mono
    view.setUint32(24, RATE, true);
    view.setUint32(28, RATE * 2, true); // bytes per second
    view.setUint16(32, 2, true); // bytes per frame
    view.setUint16(34, 16, true); // bits per sample
    text(36, "data");
    view.setUint32(40, samples.byteLength, true);
    bytes.set(new Uint8Array(samples.buffer), 44);
    return bytes;
}

/** What each sound is: someone joined (rising), a message (one soft note), a knock (two low notes). */
export const SOUNDS = {
    join: [660, 880],
    message: [988],
    knock: [392, 392],
};

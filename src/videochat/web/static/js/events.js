// Events any number of listeners can follow: a module that has news (the connection, the call, the
// mesh, the member list) dispatches them on itself, and whoever cares listens; nobody replaces
// anybody else's listener. No DOM: EventTarget and Event are plain JavaScript (Node has both).

/**
 * An event with its data in `detail`, as a CustomEvent (which Node has only from version 19).
 * @template T
 */
export class DetailEvent extends Event {
    /**
     * @param {string} type
     * @param {T} detail
     */
    constructor(type, detail) {
        super(type);
        this.detail = detail;
    }
}

/**
 * An EventTarget whose events carry their data in `detail`. `EventMap` names every event and the
 * type of its detail, so that a listener's argument and a dispatch are checked (tsc, jsconfig.json).
 * @template {Record<string, any>} EventMap
 */
export class Emitter extends EventTarget {
    /**
     * Follows an event with a function of its detail; returns what stops following it.
     * @template {keyof EventMap & string} K
     * @param {K} type
     * @param {(detail: EventMap[K]) => void} listener
     * @returns {() => void}
     */
    on(type, listener) {
        const handler = (/** @type {Event} */ event) => listener(/** @type {DetailEvent<EventMap[K]>} */ (event).detail);
        this.addEventListener(type, handler);
        return () => this.removeEventListener(type, handler);
    }

    /**
     * Tells every listener. (A listener that throws is reported by the platform and does not keep
     * the others from hearing.)
     * @protected
     * @template {keyof EventMap & string} K
     * @param {K} type
     * @param {EventMap[K]} detail
     */
    dispatch(type, detail) {
        this.dispatchEvent(new DetailEvent(type, detail));
    }
}

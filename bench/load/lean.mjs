// A lean Socket.IO client over `ws`: just enough Engine.IO 4 / Socket.IO 5 (websocket transport,
// default namespace, events and acks) to generate load without becoming the bottleneck.
// socket.io-client saturates its core near 8k msgs/s; this one parses only what it must.
import WebSocket from "ws";

export class LeanSocket {
  /** @param {string} url http://host:port */
  constructor(url) {
    this.url = url.replace(/^http/, "ws") + "/socket.io/?EIO=4&transport=websocket";
    this.nextAck = 1;
    this.acks = new Map();
    this.handlers = new Map();
    /** called with the raw text of every event packet before any parsing: (text) => void */
    this.onraw = null;
  }

  /** Resolves once the Socket.IO namespace is connected. */
  connect() {
    return new Promise((resolve, reject) => {
      const ws = (this.ws = new WebSocket(this.url, { perMessageDeflate: false }));
      ws.on("error", reject);
      ws.on("message", (data, isBinary) => {
        const text = isBinary ? data.toString() : data.toString();
        const type = text.charCodeAt(0);
        if (type === 50 /* "2" ping */) return ws.send("3");
        if (type === 48 /* "0" open */) return ws.send("40");
        if (type !== 52 /* "4" message */) return;
        const kind = text.charCodeAt(1);
        if (kind === 48 /* "0" connect */) return resolve(this);
        if (kind === 50 /* "2" event */) {
          if (this.onraw) this.onraw(text);
          const handlersWanted = this.handlers.size > 0;
          if (handlersWanted) {
            const start = text.indexOf("[");
            const [event, ...args] = JSON.parse(text.slice(start));
            const handler = this.handlers.get(event);
            if (handler) handler(...args);
          }
          return;
        }
        if (kind === 51 /* "3" ack */) {
          const start = text.indexOf("[");
          const id = Number(text.slice(2, start));
          const callback = this.acks.get(id);
          if (callback) {
            this.acks.delete(id);
            callback(JSON.parse(text.slice(start)));
          }
        }
      });
    });
  }

  on(event, handler) { this.handlers.set(event, handler); }

  emit(event, ...args) { this.ws.send("42" + JSON.stringify([event, ...args])); }

  /** Emits with an acknowledgement; resolves with the ack's arguments. */
  call(event, ...args) {
    const id = this.nextAck++;
    return new Promise((resolve) => {
      this.acks.set(id, resolve);
      this.ws.send("42" + id + JSON.stringify([event, ...args]));
    });
  }

  close() {
    return new Promise((resolve) => {
      if (this.ws.readyState === WebSocket.CLOSED) return resolve();
      this.ws.once("close", resolve);
      this.ws.close();
    });
  }
}

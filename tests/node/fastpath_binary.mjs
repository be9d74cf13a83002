// Binary payloads and Engine.IO pings on the fast path, with the official socket.io-client, against
// tests/fastpath_app.py (pings every second). Usage: node fastpath_binary.mjs URL
// Prints one JSON object: what each client received and how many pings it answered, and why a client
// that sends binary itself was disconnected (the server refuses binary from clients).
import { io } from "socket.io-client";

const [url] = process.argv.slice(2);
const fail = (why) => { console.error(why); process.exit(1); };
const log = {};
setTimeout(() => fail(`timed out; so far: ${JSON.stringify(log)}`), 20000).unref();
const once = (emitter, event) => new Promise((resolve) => emitter.once(event, (...args) => resolve(args)));
const until = (check) => new Promise((resolve) => {
  const poll = () => (check() ? resolve() : setTimeout(poll, 10));
  poll();
});

const clients = {
  ws: io(url, { transports: ["websocket"], reconnection: false, forceNew: true }),
  polling: io(url, { transports: ["polling"], upgrade: false, reconnection: false, forceNew: true }),
};
for (const [name, socket] of Object.entries(clients)) {
  log[name] = { blobs: [], pings: 0 };
  socket.io.engine.on("ping", () => { log[name].pings += 1; });
  socket.on("blob", (data, meta) => log[name].blobs.push({ bytes: [...new Uint8Array(data)], from: meta.from }));
}
for (const socket of Object.values(clients)) if (!socket.connected) await once(socket, "connect");
for (const [name, socket] of Object.entries(clients)) {
  log[name].id = socket.id;
  await socket.emitWithAck("join", "binary-room");
}
log.ws.ack = await clients.ws.emitWithAck("blob", "binary-room", [1, 2, 3, 255]);
log.polling.ack = await clients.polling.emitWithAck("blob", "binary-room", [0, 9]);
await until(() => log.ws.blobs.length === 1 && log.polling.blobs.length === 1);
// pings arrive every second; three answered on each transport and the connection still works
await until(() => log.ws.pings >= 3 && log.polling.pings >= 3);
log.ws.after = await clients.ws.emitWithAck("join", "binary-room");
log.polling.after = await clients.polling.emitWithAck("join", "binary-room");
// a client that sends binary (an attachment) is disconnected, on either transport
log.refused = {};
for (const [name, transports] of [["ws", ["websocket"]], ["polling", ["polling"]]]) {
  const sender = io(url, { transports, upgrade: false, reconnection: false, forceNew: true });
  if (!sender.connected) await once(sender, "connect");
  const closed = once(sender, "disconnect");
  sender.emit("blob", "binary-room", Buffer.from([7, 7]));
  [log.refused[name]] = await closed;
}
for (const socket of Object.values(clients)) socket.disconnect();
console.log(JSON.stringify(log));
process.exit(0);

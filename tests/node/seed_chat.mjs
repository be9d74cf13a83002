// The seed project's chat flow, run by the official socket.io-client from npm against a videochat
// server: wire compatibility with a client we did not write.
// Usage: node seed_chat.mjs URL TRANSPORT   (TRANSPORT: websocket | polling)
// Prints one JSON object: the events each client received, in order.
import { io } from "socket.io-client";

const [url, transport] = process.argv.slice(2);
const options = { transports: [transport], upgrade: false, reconnection: false, forceNew: true };
const log = { alice: [], bob: [], transports: {} };
const fail = (why) => { console.error(why); process.exit(1); };
setTimeout(() => fail(`timed out; so far: ${JSON.stringify(log)}`), 20000).unref();

function client(name) {
  const socket = io(url, options);
  socket.onAny((event, ...args) => log[name].push([event, ...args.filter((a) => typeof a !== "function")]));
  return socket;
}
const once = (socket, event) => new Promise((resolve) => socket.once(event, (...args) => resolve(args)));
const connected = (socket) => (socket.connected ? Promise.resolve() : once(socket, "connect"));

const room = `seed-${transport}`;
const alice = client("alice");
await connected(alice);
log.transports.alice = alice.io.engine.transport.name;
alice.emit("nickname", "Alice");
// the seed calls the ack with no use of its arguments
const listed = once(alice, "room_change");
// the ack is logged where it arrives, to check the seed's order: ack first, then room_change
await new Promise((resolve) => alice.emit("enter_room", { payload: room }, () => { log.alice.push(["(ack)"]); resolve(); }));
await listed;

const bob = client("bob");
await connected(bob);
log.transports.bob = bob.io.engine.transport.name;
bob.emit("nickname", "Bob");
const welcomed = once(alice, "welcome");
await new Promise((resolve) => bob.emit("enter_room", room, () => { log.bob.push(["(ack)"]); resolve(); }));
await welcomed;

const delivered = once(bob, "new_message");
await new Promise((resolve) => alice.emit("new_message", "hello from the seed", room, resolve));
await delivered;

const bye = once(alice, "bye");
const roomChange = once(alice, "room_change");
bob.disconnect();
await bye;
await roomChange;
alice.disconnect();
console.log(JSON.stringify(log));
process.exit(0);

// The broadcast fast path seen by the official socket.io-client: three clients in one room, one on
// WebSocket only, one on long-polling only, one that starts on long-polling and upgrades.
// Usage: node fastpath.mjs URL ROOM COUNT
// Prints one JSON object: each client's transport and the events it received, in arrival order
// (acks included, as ["(ack)", event, ...]).
import { io } from "socket.io-client";

const [url, room, countText] = process.argv.slice(2);
const count = Number(countText);
const fail = (why) => { console.error(why); process.exit(1); };
const log = {};
setTimeout(() => fail(`timed out; so far: ${JSON.stringify(log)}`), 30000).unref();

const kinds = {
  alice: { transports: ["websocket"] },
  bob: { transports: ["polling"], upgrade: false },
  carol: { transports: ["polling", "websocket"] },  // upgrades once connected
};
const clients = {};
for (const [name, options] of Object.entries(kinds)) {
  const socket = io(url, { ...options, reconnection: false, forceNew: true });
  log[name] = { events: [] };
  socket.onAny((event, ...args) => log[name].events.push([event, ...args]));
  clients[name] = socket;
}
const once = (emitter, event) => new Promise((resolve) => emitter.once(event, (...args) => resolve(args)));
const call = (name, event, ...args) => new Promise((resolve) => clients[name].emit(event, ...args, (reply) => {
  log[name].events.push(["(ack)", event, reply]);
  resolve(reply);
}));
const until = (check) => new Promise((resolve) => {
  const poll = () => (check() ? resolve() : setTimeout(poll, 10));
  poll();
});

for (const socket of Object.values(clients)) if (!socket.connected) await once(socket, "connect");
const carolEngine = clients.carol.io.engine;
if (carolEngine.transport.name !== "websocket") await once(carolEngine, "upgrade");
for (const name of Object.keys(clients)) {
  log[name].id = clients[name].id;
  log[name].transport = clients[name].io.engine.transport.name;
  await call(name, "nickname", name);
  await call(name, "enter_room", room);
}
// everybody in: alice (first, the owner) renames herself: the others hear nickname_change, she too
await call("alice", "nickname", "alice2");
// each sends `count` numbered messages without waiting for acks, all three at once
await Promise.all(Object.keys(clients).map((name) =>
  Promise.all(Array.from({ length: count }, (_, i) => call(name, "new_message", `${name} ${i}`, room)))));
const received = (name) => log[name].events.filter((e) => e[0] === "new_message").length;
await until(() => Object.keys(clients).every((name) => received(name) === 2 * count));
// to one socket only: the owner asks bob to mute
await call("alice", "ask_mute", room, clients.bob.id);
await until(() => log.bob.events.some((e) => e[0] === "mute_request"));
// a last round trip for everyone, so that nothing more is on its way
for (const name of Object.keys(clients)) await call(name, "list_rooms");
for (const socket of Object.values(clients)) socket.disconnect();
console.log(JSON.stringify(log));
process.exit(0);

// The load generator. One scenario per run; talks to the orchestrator (bench/run.py) in JSON lines:
// it prints {"event": "step_start"...} / {"event": "step_end", ...results} and, after each step,
// reads one line from stdin: "next" or "repeat" (the orchestrator repeats a step that other load on
// the machine disturbed).
//   node loadgen.mjs fanout URL '{"rooms":50,"perRoom":10,"rates":[500,1000],"seconds":5,"client":"lean"}'
//   node loadgen.mjs idle   URL '{"count":5000}'
//   node loadgen.mjs churn  URL '{"idle":500,"loops":20,"seconds":10,"rooms":50}'
import { createInterface } from "node:readline";
import { io } from "socket.io-client";
import { LeanSocket } from "./lean.mjs";

const [scenario, url, optionsJson = "{}"] = process.argv.slice(2);
const options = JSON.parse(optionsJson);
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const say = (event, fields = {}) => process.stdout.write(JSON.stringify({ event, ...fields }) + "\n");
const command = async () => ((await lines.next()).value ?? "next").trim();
const now = () => Number(process.hrtime.bigint() / 1000n); // microseconds
const until = (condition, timeoutMs) => new Promise((resolve) => {
  const start = Date.now();
  const check = () => (condition() || Date.now() - start > timeoutMs ? resolve(condition()) : setTimeout(check, 5));
  check();
});

/** Resolves once value() has not changed for quietMs (or after timeoutMs). */
async function settled(value, quietMs, timeoutMs) {
  const start = Date.now();
  let last = value();
  let since = Date.now();
  while (Date.now() - start < timeoutMs) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    const current = value();
    if (current !== last) { last = current; since = Date.now(); }
    else if (Date.now() - since >= quietMs) return;
  }
}

async function inBatches(count, batch, make) {
  const made = [];
  for (let i = 0; i < count; i += batch) {
    made.push(...(await Promise.all(Array.from({ length: Math.min(batch, count - i) }, (_, k) => make(i + k)))));
  }
  return made;
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

// --- clients: the lean one and the official socket.io-client, behind one small interface ---

async function leanClient(onDelivery) {
  const socket = await new LeanSocket(url).connect();
  socket.onraw = (text) => {
    if (text.startsWith('42["new_message"')) {
      const start = text.indexOf(": ") + 2;
      onDelivery(Number(text.slice(start, text.indexOf('"', start))));
    }
  };
  return {
    enter: (room) => socket.call("enter_room", room),
    sendAcked: (text, room) => { socket.ws.send("42" + socket.nextAck++ + JSON.stringify(["new_message", text, room])); },
    close: () => socket.close(),
  };
}

async function officialClient(onDelivery) {
  const socket = io(url, { transports: ["websocket"], forceNew: true, reconnection: false });
  await new Promise((resolve, reject) => { socket.once("connect", resolve); socket.once("connect_error", reject); });
  socket.on("new_message", (line) => onDelivery(Number(line.slice(line.indexOf(": ") + 2))));
  return {
    enter: (room) => new Promise((resolve) => socket.emit("enter_room", room, resolve)),
    sendAcked: (text, room) => socket.emit("new_message", text, room, () => {}),
    close: async () => socket.disconnect(),
  };
}

// --- scenarios ---

async function fanout() {
  const { rooms = 50, perRoom = 10, rates = [1000], seconds = 5, client = "lean" } = options;
  let latencies = [];
  let delivered = 0;
  const onDelivery = (sentAt) => { delivered += 1; latencies.push(now() - sentAt); };
  const make = client === "official" ? officialClient : leanClient;
  const clients = await inBatches(rooms * perRoom, 50, async (index) => {
    const c = await make(onDelivery);
    c.room = `room-${index % rooms}`;
    await c.enter(c.room);
    return c;
  });
  say("ready", { clients: clients.length });
  for (let step = 0; step < rates.length; ) {
    const rate = rates[step];
    latencies = [];
    delivered = 0;
    say("step_start", { rate });
    const started = now();
    const durationUs = seconds * 1e6;
    let sent = 0;
    let next = 0;
    await new Promise((resolve) => {
      const tick = () => {
        const elapsed = now() - started;
        const due = Math.min(Math.floor((rate * Math.min(elapsed, durationUs)) / 1e6), Math.ceil(rate * seconds));
        for (; sent < due; sent++) {
          const c = clients[next];
          next = (next + 1) % clients.length;
          c.sendAcked(String(now()), c.room);
        }
        if (elapsed >= durationUs) resolve();
        else setTimeout(tick, 2);
      };
      tick();
    });
    const expected = sent * (perRoom - 1);
    await until(() => delivered >= expected, 3000);
    const wall = (now() - started) / 1e6;
    const sorted = Float64Array.from(latencies).sort();
    say("step_end", {
      rate, sent, expected, delivered, lost: expected - delivered, seconds: wall,
      delivered_per_s: delivered / wall,
      p50_ms: percentile(sorted, 50) / 1000, p99_ms: percentile(sorted, 99) / 1000,
      max_ms: sorted.length ? sorted[sorted.length - 1] / 1000 : null,
    });
    if ((await command()) !== "repeat") step += 1;
  }
  await Promise.all(clients.map((c) => c.close()));
}

async function idle() {
  const { count = 5000 } = options;
  for (;;) {
    say("step_start", { count });
    const started = now();
    const sockets = await inBatches(count, 100, () => new LeanSocket(url).connect());
    const seconds = (now() - started) / 1e6;
    say("step_end", { count: sockets.length, seconds, connects_per_s: sockets.length / seconds });
    const word = await command(); // the orchestrator measures the server's memory meanwhile
    await inBatches(sockets.length, 500, (i) => sockets[i].close());
    if (word !== "repeat") return;
  }
}

async function churn() {
  const { idle: idleCount = 500, loops = 20, seconds = 10, rooms = 50 } = options;
  let roomChanges = 0;
  const idlers = await inBatches(idleCount, 100, async () => {
    const s = await new LeanSocket(url).connect();
    s.onraw = (text) => { if (text.startsWith('42["room_change"')) roomChanges += 1; };
    return s;
  });
  say("ready", { idle: idlers.length });
  for (;;) {
    roomChanges = 0;
    let joins = 0;
    say("step_start", { loops });
    const started = now();
    const deadline = started + seconds * 1e6;
    await Promise.all(Array.from({ length: loops }, async (_, loop) => {
      while (now() < deadline) {
        const s = await new LeanSocket(url).connect();
        await s.call("enter_room", `churn-${(loop + joins) % rooms}`);
        joins += 1;
        await s.close();
      }
    }));
    const wall = (now() - started) / 1e6;
    // room_change frames keep arriving for a moment after the last leave: wait until they stop
    await settled(() => roomChanges, 300, 5000);
    say("step_end", {
      joins, seconds: wall, joins_per_s: joins / wall, room_change_frames: roomChanges,
      room_change_per_join: joins ? roomChanges / joins : null,
    });
    if ((await command()) !== "repeat") break;
  }
  await inBatches(idlers.length, 500, (i) => idlers[i].close());
}

const scenarios = { fanout, idle, churn };
if (!scenarios[scenario]) {
  console.error(`unknown scenario ${scenario}; expected one of ${Object.keys(scenarios).join(", ")}`);
  process.exit(2);
}
try {
  await scenarios[scenario]();
  say("done");
  process.exit(0);
} catch (error) {
  say("error", { message: String(error?.stack ?? error) });
  process.exit(1);
}

// The reference: a Node.js socket.io 4 server with the seed project's chat semantics, to run side by
// side with videochat under the same load. Usage: node server.mjs PORT
import http from "node:http";
import { Server } from "socket.io";

const port = Number(process.argv[2] ?? 3100);
const httpServer = http.createServer();
const io = new Server(httpServer, { serveClient: false });

function publicRooms() {
  const { sids, rooms } = io.sockets.adapter;
  const names = [];
  rooms.forEach((_, name) => { if (!sids.has(name)) names.push(name); });
  return names;
}
const countRoom = (name) => io.sockets.adapter.rooms.get(name)?.size ?? 0;
const done = (ack) => (typeof ack === "function" ? ack : () => {});

io.on("connection", (socket) => {
  socket.nickname = "Anon";
  socket.on("nickname", (name) => { socket.nickname = String(name); });
  socket.on("enter_room", (room, ack) => {
    const name = typeof room === "object" && room !== null ? room.payload : room;
    socket.join(name);
    done(ack)();
    socket.to(name).emit("welcome", socket.nickname, countRoom(name));
    io.sockets.emit("room_change", publicRooms());
  });
  socket.on("new_message", (message, room, ack) => {
    socket.to(room).emit("new_message", `${socket.nickname}: ${message}`);
    done(ack)();
  });
  socket.on("disconnecting", () => {
    socket.rooms.forEach((room) => socket.to(room).emit("bye", socket.nickname, countRoom(room) - 1));
  });
  socket.on("disconnect", () => io.sockets.emit("room_change", publicRooms()));
});

httpServer.listen(port, "127.0.0.1", () => console.log(`listening on http://127.0.0.1:${httpServer.address().port}`));
process.on("SIGTERM", () => process.exit(0));

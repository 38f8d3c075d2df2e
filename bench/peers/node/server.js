// Peer server for the Hearth benchmark (bench/): the classic Node
// Socket.IO chat room, as the tutorials build it. No auth, no persistence,
// one process.
//
// Protocol (Socket.IO v4 over Engine.IO v4, path /socket.io/, namespace "/"):
//   join  <room>               -> socket joins the room, ack(true)
//   leave <room>               -> socket leaves the room, ack(true)
//   send  {room, text}         -> emit "message" {room, text} to everyone in the
//                                 room, the sender included
//
// Usage: node server.js [--port N]   (default 5001, always binds 127.0.0.1)
// Each connected client holds one file descriptor: keep `ulimit -n` above
// the number of clients.

"use strict";

const http = require("http");
const { Server } = require("socket.io");

function parsePort(argv) {
  const i = argv.indexOf("--port");
  if (i === -1) return 5001;
  const port = Number(argv[i + 1]);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    console.error(`invalid --port: ${argv[i + 1]}`);
    process.exit(2);
  }
  return port;
}

const host = "127.0.0.1";
const port = parsePort(process.argv.slice(2));

const httpServer = http.createServer();
const io = new Server(httpServer, { cors: { origin: "*" } });

io.on("connection", (socket) => {
  socket.on("join", (room, ack) => {
    socket.join(room);
    if (typeof ack === "function") ack(true);
  });

  socket.on("leave", (room, ack) => {
    socket.leave(room);
    if (typeof ack === "function") ack(true);
  });

  socket.on("send", (data) => {
    // io.to(room) includes the sender (socket.to(room) would not).
    io.to(data.room).emit("message", { room: data.room, text: data.text });
  });
});

httpServer.listen(port, host, () => {
  console.log(`listening on ${host}:${port}`);
});

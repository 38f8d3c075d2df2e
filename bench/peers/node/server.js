// Peer server for the Hearth benchmark (bench/): the classic Node
// Socket.IO chat room, as the tutorials build it. No auth, no persistence.
// One process, or one of several sharing a Redis through the official Redis
// adapter (@socket.io/redis-adapter on the `redis` client), the way Socket.IO
// scales out: each broadcast reaches the rooms' members on every process.
//
// Protocol (Socket.IO v4 over Engine.IO v4, path /socket.io/, namespace "/"):
//   join  <room>               -> socket joins the room, ack(true)
//   leave <room>               -> socket leaves the room, ack(true)
//   send  {room, text}         -> emit "message" {room, text} to everyone in the
//                                 room, the sender included (on every process)
//
// Usage: node server.js [--port N] [--redis-url redis://HOST:PORT]
//   --port       default 5001, always binds 127.0.0.1
//   --redis-url  share rooms with the other processes started with the same
//                Redis; it listens once both Redis connections are up. Without
//                it, the process is on its own (no Redis client is loaded).
// Each connected client holds one file descriptor: keep `ulimit -n` above
// the number of clients.

"use strict";

const http = require("http");
const { Server } = require("socket.io");

function flag(argv, name) {
  const i = argv.indexOf(name);
  if (i === -1) return undefined;
  if (i + 1 >= argv.length) {
    console.error(`${name} needs a value`);
    process.exit(2);
  }
  return argv[i + 1];
}

function parsePort(argv) {
  const value = flag(argv, "--port");
  if (value === undefined) return 5001;
  const port = Number(value);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    console.error(`invalid --port: ${value}`);
    process.exit(2);
  }
  return port;
}

const host = "127.0.0.1";
const argv = process.argv.slice(2);
const port = parsePort(argv);
const redisUrl = flag(argv, "--redis-url");

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

// The adapter's documented setup: a client for publishing and a duplicate for
// subscribing, both connected before the server takes connections.
async function useRedis(url) {
  const { createClient } = require("redis");
  const { createAdapter } = require("@socket.io/redis-adapter");
  const pubClient = createClient({ url });
  const subClient = pubClient.duplicate();
  for (const client of [pubClient, subClient]) {
    // Without a listener an error would end the process; the client reconnects.
    client.on("error", (error) => console.error(`redis: ${error.message}`));
  }
  await Promise.all([pubClient.connect(), subClient.connect()]);
  io.adapter(createAdapter(pubClient, subClient));
}

(redisUrl ? useRedis(redisUrl) : Promise.resolve())
  .then(() => {
    httpServer.listen(port, host, () => {
      const via = redisUrl ? ` (rooms shared through ${redisUrl})` : "";
      console.log(`listening on ${host}:${port}${via}`);
    });
  })
  .catch((error) => {
    console.error(`cannot reach Redis at ${redisUrl}: ${error.message}`);
    process.exit(1);
  });

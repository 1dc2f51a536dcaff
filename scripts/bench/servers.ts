// The far end of every benchmark path, in a process of its own so it does not
// share an event loop with the load generator: a counting sink, an echo server,
// a slow reader and a server that holds idle connections. Prints one JSON line
// with the ports, then answers "held" on stdin with the number of held sockets.

import net from "node:net";
import readline from "node:readline";

const slowRate = Number(process.argv[2] ?? 64) * 1024 * 1024; // bytes per second

function listen(handler: (socket: net.Socket) => void): Promise<number> {
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on("error", () => socket.destroy());
    handler(socket);
  });
  return new Promise((resolve) => server.listen({ port: 0, host: "127.0.0.1", backlog: 4096 }, () => resolve((server.address() as net.AddressInfo).port)));
}

/** Counts bytes; at the client's FIN answers with the count and closes. */
const sink = await listen((socket) => {
  let bytes = 0;
  socket.on("data", (d) => (bytes += d.length));
  socket.on("end", () => socket.end(`${bytes}\n`));
});

/** Echoes every byte back; ends when the client ends. */
const echo = await listen((socket) => {
  socket.setNoDelay(true);
  socket.pipe(socket);
});

/** A sink that reads at `slowRate` bytes/s: the link must hold the rest back, not buffer it. */
const slow = await listen((socket) => {
  let bytes = 0;
  const started = Date.now();
  socket.on("data", (d) => {
    bytes += d.length;
    const due = (bytes / slowRate) * 1000 - (Date.now() - started);
    if (due > 5) {
      socket.pause();
      setTimeout(() => socket.resume(), due);
    }
  });
  socket.on("end", () => socket.end(`${bytes}\n`));
});

/** Accepts and holds connections, counting the open ones. */
let held = 0;
const hold = await listen((socket) => {
  held++;
  socket.on("close", () => held--);
  socket.on("end", () => socket.end());
});

process.stdout.write(JSON.stringify({ sink, echo, slow, hold }) + "\n");
readline.createInterface({ input: process.stdin }).on("line", (line) => {
  if (line.trim() === "held") process.stdout.write(`${held}\n`);
});
process.stdin.on("end", () => process.exit(0));

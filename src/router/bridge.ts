// Joins a TCP socket to a link stream, or two link streams, keeping
// backpressure, half-close and resets intact in both directions.

import type { MuxStream } from "../mux/mux.ts";
import type { TcpSocket } from "../platform/types.ts";
import { ResetCode } from "../protocol/messages.ts";

/**
 * Bytes that bridges have written to local sockets that push back, all
 * bridges of a site together (the router's pending total). A bridge adds
 * them as a socket refuses more and takes them off as it drains or the
 * bridge ends, so the total is known without visiting every connection.
 * Bytes waiting for a link's credit are counted by the link's streams
 * (Mux.pendingBytes); flow control bounds both by about one window per
 * direction and connection.
 */
export interface HeldBytes {
  bytes: number;
}

export interface BridgeEvents {
  /** Both directions finished cleanly, or one side failed. Called once. */
  done(outcome: { reset?: { code: number; reason: string; byPeer: boolean }; bytesIn: number; bytesOut: number }): void;
}

/**
 * Carry bytes between `socket` and `stream` until both directions have ended.
 * Socket -> stream: pause the socket while the stream has no credit.
 * Stream -> socket: credit is returned only once the socket took the bytes.
 */
export function bridgeSocketToStream(socket: TcpSocket, stream: MuxStream, events: BridgeEvents, held: HeldBytes): void {
  let bytesIn = 0; // from the socket into the network
  let bytesOut = 0; // from the network to the socket
  let unconsumed = 0; // bytes written to the socket while it pushed back (counted in `held`)
  let socketEnded = false;
  let streamEnded = false;
  let finished = false;

  const finish = (reset?: { code: number; reason: string; byPeer: boolean }) => {
    if (finished) return;
    finished = true;
    held.bytes -= unconsumed;
    unconsumed = 0;
    events.done({ reset, bytesIn, bytesOut });
  };

  stream.setHandlers({
    data(chunk) {
      bytesOut += chunk.byteLength;
      if (socket.write(chunk)) stream.consumed(chunk.byteLength);
      else if (!finished) {
        unconsumed += chunk.byteLength;
        held.bytes += chunk.byteLength;
      }
    },
    end() {
      streamEnded = true;
      socket.end();
      if (socketEnded) finish();
    },
    drain() {
      socket.resume();
    },
    reset(code, reason) {
      socket.destroy();
      finish({ code, reason, byPeer: true });
    },
  });

  // Read no faster than the link sends: bytes read early only wait in memory.
  stream.paceToLink();
  socket.start({
    data(chunk) {
      bytesIn += chunk.byteLength;
      if (!stream.write(chunk)) socket.pause();
    },
    end() {
      socketEnded = true;
      stream.end();
      if (streamEnded) finish();
    },
    drain() {
      if (unconsumed > 0) {
        const bytes = unconsumed;
        unconsumed = 0;
        held.bytes -= bytes;
        stream.consumed(bytes);
      }
    },
    close(error) {
      if (finished) return;
      if (error !== undefined || !(socketEnded && streamEnded)) {
        const reason = error ? `connection error: ${error.message}` : "connection closed before the stream finished";
        stream.reset(ResetCode.Cancelled, reason);
        finish({ code: ResetCode.Cancelled, reason, byPeer: false });
      } else finish();
    },
  });
}

/**
 * Forward one stream into another (an intermediate site on a multi-hop path).
 * Credit is passed back only as the next hop accepts bytes, so this site
 * holds at most one window per direction.
 */
export function bridgeStreams(inbound: MuxStream, outbound: MuxStream, events: BridgeEvents): void {
  const bytes = new Map<MuxStream, number>([[inbound, 0], [outbound, 0]]);
  /** Bytes read from a stream and written on, waiting for the other stream's drain before credit goes back. */
  const held = new Map<MuxStream, number>([[inbound, 0], [outbound, 0]]);
  let ended = 0;
  let finished = false;
  const finish = (reset?: { code: number; reason: string; byPeer: boolean }) => {
    if (finished) return;
    finished = true;
    events.done({ reset, bytesIn: bytes.get(inbound)!, bytesOut: bytes.get(outbound)! });
  };
  const forwardFrom = (self: MuxStream, other: MuxStream) => ({
    data(chunk: Uint8Array) {
      bytes.set(self, bytes.get(self)! + chunk.byteLength);
      if (other.write(chunk)) self.consumed(chunk.byteLength);
      else held.set(self, held.get(self)! + chunk.byteLength);
    },
    end() {
      other.end();
      if (++ended === 2) finish();
    },
    drain() {
      // `self` takes writes again: release the credit held for what `other` sent us.
      const waiting = held.get(other)!;
      if (waiting > 0) {
        held.set(other, 0);
        other.consumed(waiting);
      }
    },
    reset(code: number, reason: string) {
      other.reset(code, reason);
      finish({ code, reason, byPeer: true });
    },
    accepted() {
      other.accept();
    },
  });
  inbound.setHandlers(forwardFrom(inbound, outbound));
  outbound.setHandlers(forwardFrom(outbound, inbound));
}

/** Join two local TCP sockets (a listener and a connector on the same site). */
export function bridgeSockets(client: TcpSocket, server: TcpSocket, events: BridgeEvents, held: HeldBytes): void {
  const bytes = { in: 0, out: 0 };
  /** Per socket: bytes written to it since it last pushed back (held by the runtime until it drains; counted in `held`). */
  const backlog = new Map<TcpSocket, number>([[client, 0], [server, 0]]);
  let ended = 0;
  let closed = 0;
  let finished = false;
  const release = (socket: TcpSocket) => {
    held.bytes -= backlog.get(socket)!;
    backlog.set(socket, 0);
  };
  const finish = (reset?: { code: number; reason: string; byPeer: boolean }) => {
    if (finished) return;
    finished = true;
    release(client);
    release(server);
    events.done({ reset, bytesIn: bytes.in, bytesOut: bytes.out });
  };
  const pipe = (from: TcpSocket, to: TcpSocket, count: (n: number) => void) => ({
    data(chunk: Uint8Array) {
      count(chunk.byteLength);
      if (!to.write(chunk)) {
        if (!finished) {
          backlog.set(to, backlog.get(to)! + chunk.byteLength);
          held.bytes += chunk.byteLength;
        }
        from.pause();
      }
    },
    end() {
      to.end();
      ended++;
    },
    drain() {
      // `from` of the opposite pipe writes into this socket: let it read again.
      release(from);
      (from === client ? server : client).resume();
    },
    close(error?: Error) {
      closed++;
      if (error !== undefined || ended < 2) {
        to.destroy();
        finish({ code: ResetCode.Cancelled, reason: error ? error.message : "closed before both sides finished", byPeer: false });
      } else if (closed === 2) finish();
    },
  });
  client.start(pipe(client, server, (n) => (bytes.in += n)));
  server.start(pipe(server, client, (n) => (bytes.out += n)));
}

// Joins a TCP socket to a link stream, or two link streams, keeping
// backpressure, half-close and resets intact in both directions.

import type { MuxStream } from "../mux/mux.ts";
import type { TcpSocket } from "../platform/types.ts";
import { ResetCode } from "../protocol/messages.ts";

/** A running bridge, for the router's accounting. */
export interface Bridge {
  /**
   * Bytes this site holds for the connection right now: read from one side
   * and not yet taken by the other (waiting for credit, or in a local
   * socket that pushes back). Flow control bounds it by about one window
   * per direction.
   */
  pendingBytes(): number;
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
export function bridgeSocketToStream(socket: TcpSocket, stream: MuxStream, events: BridgeEvents): Bridge {
  let bytesIn = 0; // from the socket into the network
  let bytesOut = 0; // from the network to the socket
  let unconsumed = 0; // bytes written to the socket while it pushed back
  let socketEnded = false;
  let streamEnded = false;
  let finished = false;

  const finish = (reset?: { code: number; reason: string; byPeer: boolean }) => {
    if (finished) return;
    finished = true;
    events.done({ reset, bytesIn, bytesOut });
  };

  stream.setHandlers({
    data(chunk) {
      bytesOut += chunk.byteLength;
      if (socket.write(chunk)) stream.consumed(chunk.byteLength);
      else unconsumed += chunk.byteLength;
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
  return { pendingBytes: () => (finished ? 0 : stream.pendingBytes + unconsumed) };
}

/**
 * Forward one stream into another (an intermediate site on a multi-hop path).
 * Credit is passed back only as the next hop accepts bytes, so this site
 * holds at most one window per direction.
 */
export function bridgeStreams(inbound: MuxStream, outbound: MuxStream, events: BridgeEvents): Bridge {
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
  return { pendingBytes: () => (finished ? 0 : inbound.pendingBytes + outbound.pendingBytes) };
}

/** Join two local TCP sockets (a listener and a connector on the same site). */
export function bridgeSockets(client: TcpSocket, server: TcpSocket, events: BridgeEvents): Bridge {
  const bytes = { in: 0, out: 0 };
  /** Per socket: bytes written to it since it last pushed back (held by the runtime until it drains). */
  const backlog = new Map<TcpSocket, number>([[client, 0], [server, 0]]);
  let ended = 0;
  let closed = 0;
  let finished = false;
  const finish = (reset?: { code: number; reason: string; byPeer: boolean }) => {
    if (finished) return;
    finished = true;
    events.done({ reset, bytesIn: bytes.in, bytesOut: bytes.out });
  };
  const pipe = (from: TcpSocket, to: TcpSocket, count: (n: number) => void) => ({
    data(chunk: Uint8Array) {
      count(chunk.byteLength);
      if (!to.write(chunk)) {
        backlog.set(to, backlog.get(to)! + chunk.byteLength);
        from.pause();
      }
    },
    end() {
      to.end();
      ended++;
    },
    drain() {
      // `from` of the opposite pipe writes into this socket: let it read again.
      backlog.set(from, 0);
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
  return { pendingBytes: () => (finished ? 0 : backlog.get(client)! + backlog.get(server)!) };
}

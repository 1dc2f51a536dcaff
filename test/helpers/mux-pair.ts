// Two multiplexers joined in memory, each having heard the other's Hello.

import { Mux, type MuxStream } from "../../src/mux/mux.ts";
import type { Open } from "../../src/protocol/messages.ts";

/** Streams `a` opens arrive in `accepted`; pump() moves messages both ways until both are quiet. */
export function muxPair(options: { window: number; maxStreams?: number }) {
  const { window } = options;
  const maxStreams = options.maxStreams ?? 100;
  const accepted: { stream: MuxStream; open: Open }[] = [];
  const make = (role: "dialer" | "acceptor") =>
    new Mux({ role, windowBytes: window, maxStreams, onOutput: () => {}, onStream: (stream, open) => accepted.push({ stream, open }), onControl: () => {} });
  const a = make("dialer");
  const b = make("acceptor");
  a.setPeerLimits(window, maxStreams);
  b.setPeerLimits(window, maxStreams);
  const pump = () => {
    for (let moved = true; moved; ) {
      moved = false;
      for (const [from, to] of [[a, b], [b, a]] as const) {
        for (let m = from.takeMessage(); m !== undefined; m = from.takeMessage()) {
          to.receive(m);
          moved = true;
        }
      }
    }
  };
  return { a, b, accepted, pump };
}

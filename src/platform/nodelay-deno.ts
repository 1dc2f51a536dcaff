// TCP_NODELAY for the link sockets that Deno's WebSocket client opens.
//
// Why: Deno's client switches Nagle's algorithm on for its socket (it sets
// TCP_NODELAY to 0), and the WebSocket API has no option for it. A link
// carries many small frames (a stream opening, one byte of data, a credit);
// with Nagle a small frame waits until the peer acknowledges the one before,
// and Linux may delay that acknowledgement by 40 ms. Through a Deno site that
// dials its link, the p99 time to open a connection was 47-48 ms in two of
// three bench runs (7.7 ms in the third); docs/benchmarks.md, "Deno's link
// sockets". Every other socket a site opens already has TCP_NODELAY on.
//
// Deno does not tell which file descriptor the WebSocket uses, so once it is
// open the site looks through its own descriptors (/proc/self/fd) for sockets
// connected to the link's port and sets the option on those. Linux only, with
// FFI permission (libc-deno.ts); elsewhere links keep Deno's setting.

import { libc } from "./libc-deno.ts";

const IPPROTO_TCP = 6;
const TCP_NODELAY = 1;
const AF_INET = 2;
const AF_INET6 = 10;

interface DenoFs {
  permissions: { querySync(descriptor: { name: "read"; path: string }): { state: string } };
  readDirSync(path: string): Iterable<{ name: string }>;
}

/** The remote port of descriptor `fd`, or undefined when it is not a connected IPv4 or IPv6 socket. */
function peerPort(getpeername: (fd: number, address: Uint8Array, length: Uint8Array) => number, fd: number): number | undefined {
  const address = new Uint8Array(128);
  const length = new Uint8Array(new Uint32Array([address.byteLength]).buffer);
  if (getpeername(fd, address, length) !== 0) return undefined;
  // sockaddr_in and sockaddr_in6 both start with a host-order family, then the port in network order.
  const family = new DataView(address.buffer).getUint16(0, true);
  if (family !== AF_INET && family !== AF_INET6) return undefined;
  return (address[2]! << 8) | address[3]!;
}

/**
 * Set TCP_NODELAY on every socket of this process connected to remote port
 * `port`. Returns how many it set, or undefined where it cannot (no FFI, not Linux).
 */
export function noDelayTowards(port: number): number | undefined {
  const c = libc();
  if (c === undefined) return undefined;
  const deno = (globalThis as unknown as { Deno: DenoFs }).Deno;
  let entries: Iterable<{ name: string }>;
  try {
    if (deno.permissions.querySync({ name: "read", path: "/proc/self/fd" }).state !== "granted") return undefined;
    entries = deno.readDirSync("/proc/self/fd");
  } catch {
    return undefined; // no /proc
  }
  const on = new Uint8Array(new Int32Array([1]).buffer);
  let set = 0;
  // getpeername fails on anything but a connected socket (files, pipes, listeners, closed ones).
  for (const { name } of entries) {
    const fd = Number(name);
    if (peerPort(c.getpeername, fd) !== port) continue;
    if (c.setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, on, on.byteLength) === 0) set++;
  }
  return set;
}

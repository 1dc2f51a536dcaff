// Links without the secure record layer: allowed between sites on one host
// (loopback) only, where no one else can read or change the bytes.

import { PlaintextChannel, type WebSocketPipe } from "./channel.ts";
import type { ChannelSetup } from "./dialer.ts";
import type { WebSocketConn } from "../platform/types.ts";

export const plaintextSetup: ChannelSetup = async (pipe: WebSocketPipe, conn: WebSocketConn) => ({
  channel: new PlaintextChannel(pipe, conn),
});

/** True for 127.0.0.0/8, ::1, ::ffff:127.x and "localhost". */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^(::ffff:)?127\.\d+\.\d+\.\d+$/.test(h);
}

/** Why a plaintext link to `url` must not be dialed, or undefined when it may. */
export function plaintextRefusal(url: string): string | undefined {
  const host = new URL(url).hostname;
  if (isLoopback(host)) return undefined;
  return `plaintext links are allowed on loopback only, and ${host} is not a loopback address`;
}

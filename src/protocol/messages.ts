// The JSON payloads of control frames (Hello, Open) and the stream reset codes.
// Validated with zod: a peer's bytes are never trusted to have the right shape.

import * as z from "zod";
import { ProtocolError } from "../errors.ts";
import { decodeJson, encodeJson } from "./frames.ts";

export const LINK_PROTOCOL_VERSION = 1;

const siteName = z.string().min(1).max(63).regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);

export const HelloSchema = z
  .object({
    protocol: z.literal(LINK_PROTOCOL_VERSION),
    site: siteName,
    runtime: z.string().max(32),
    version: z.string().max(64),
    /** The sender's receive window per stream: the credit each new stream starts with. */
    windowBytes: z.number().int().min(16384).max(16 * 1024 * 1024),
    /** How many concurrent streams the sender accepts on this link. */
    maxStreams: z.number().int().min(1).max(1_000_000),
    /** The link's cost as configured on the dialing site (the acceptor adopts it). */
    linkCost: z.number().int().min(1).max(1_000_000).optional(),
  })
  .strict();
export type Hello = z.infer<typeof HelloSchema>;

export const MAX_PATH_SITES = 32;

export const OpenSchema = z
  .object({
    routingKey: z.string().min(1).max(253),
    /** The site whose listener accepted the client connection. */
    origin: siteName,
    /**
     * The sites the stream still has to cross, starting with the receiver and
     * ending with the site that dials the connector. The origin picks the
     * whole path, so a stream can never loop, even while routes change.
     */
    path: z
      .array(siteName)
      .min(1)
      .max(MAX_PATH_SITES)
      .refine((sites) => new Set(sites).size === sites.length, "a path must not name a site twice"),
  })
  .strict();
export type Open = z.infer<typeof OpenSchema>;

export function encodeHello(hello: Hello): Uint8Array {
  return encodeJson(hello);
}

export function decodeHello(payload: Uint8Array): Hello {
  return parseWith(HelloSchema, decodeJson(payload, "Hello"), "Hello");
}

export function encodeOpen(open: Open): Uint8Array {
  return encodeJson(open);
}

export function decodeOpen(payload: Uint8Array): Open {
  return parseWith(OpenSchema, decodeJson(payload, "Open"), "Open");
}

function parseWith<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const first = result.error.issues[0];
  const path = first && first.path.length > 0 ? ` at ${first.path.join(".")}` : "";
  throw new ProtocolError(`malformed ${what}${path}: ${first?.message ?? "invalid"}`);
}

/** Why a stream was reset. Sent in Reset frames; shown in logs and status counters. */
export const ResetCode = {
  /** The application closed the connection abruptly (TCP reset or error). */
  Cancelled: 1,
  /** The connector's server refused the connection or could not be reached. */
  ConnectFailed: 2,
  /** No site serves the routing key. */
  NoRoute: 3,
  /** A router limit (streams per link, pending bytes) was reached. */
  Limit: 4,
  /** The link carrying the stream went down. */
  LinkLost: 5,
  /** The stream broke the protocol. */
  Protocol: 6,
  /** The site is shutting down. */
  Shutdown: 7,
} as const;
export type ResetCode = (typeof ResetCode)[keyof typeof ResetCode];

const resetCodeNames = new Map<number, string>(Object.entries(ResetCode).map(([k, v]) => [v, k]));
export function resetCodeName(code: number): string {
  return resetCodeNames.get(code) ?? `code ${code}`;
}

/** Close codes for the whole link (sent in Close frames and as WebSocket close codes). */
export const LinkCloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  TooBig: 1009,
  PolicyViolation: 1008,
  Timeout: 4000,
  Replaced: 4001,
} as const;

// The few Deno APIs Skiff uses (https://docs.deno.com/api/deno/), typed locally so tsc
// needs no Deno type package; only the Deno adapter files import this.

import type { Signal } from "./types.ts";

export interface DenoNetAddr {
  hostname: string;
  port: number;
}
export interface DenoConn {
  readonly remoteAddr: DenoNetAddr;
  read(buffer: Uint8Array): Promise<number | null>;
  write(data: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  close(): void;
  setNoDelay(noDelay?: boolean): void;
}
export interface DenoListener extends AsyncIterable<DenoConn> {
  readonly addr: DenoNetAddr;
  close(): void;
}
export interface DenoHttpClient {
  close(): void;
}
export interface DenoServeOptions {
  hostname: string;
  port: number;
  cert?: string;
  key?: string;
  onListen?: (addr: DenoNetAddr) => void;
  onError?: (error: unknown) => Response | Promise<Response>;
}
export interface DenoHttpServer {
  readonly addr: DenoNetAddr;
  shutdown(): Promise<void>;
}
export interface DenoApi {
  readonly version: { deno: string };
  readonly args: string[];
  listen(options: { hostname: string; port: number; transport: "tcp" }): DenoListener;
  connect(options: { hostname: string; port: number; transport: "tcp" }): Promise<DenoConn>;
  serve(
    options: DenoServeOptions,
    handler: (request: Request, info: { remoteAddr: DenoNetAddr }) => Response | Promise<Response>,
  ): DenoHttpServer;
  upgradeWebSocket(request: Request, options?: { idleTimeout?: number }): { socket: WebSocket; response: Response };
  createHttpClient(options: { caCerts?: string[] }): DenoHttpClient;
  env: { get(name: string): string | undefined };
  addSignalListener(signal: Signal, handler: () => void): void;
  removeSignalListener(signal: Signal, handler: () => void): void;
  exit(code: number): never;
  memoryUsage(): { rss: number };
  stdout: { writeSync(data: Uint8Array): number };
  stderr: { writeSync(data: Uint8Array): number };
}

/** The global `Deno`; read when this module loads, which only happens on Deno. */
export const Deno = (globalThis as unknown as { Deno: DenoApi }).Deno;

// One HTTP request with an optional private CA on Node (token redemption
// over https:// to a site whose certificate comes from its own CA): Node's
// fetch takes no per-request CA, node:https does.

import http from "node:http";
import https from "node:https";
import { rootCertificates } from "node:tls";
import type { HttpRequestOptions, HttpResponse } from "./types.ts";

export function nodeHttpRequest(url: string, options: HttpRequestOptions): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const client = target.protocol === "https:" ? https : http;
    const request = client.request(
      target,
      {
        method: options.method,
        headers: options.headers,
        timeout: options.timeoutMs,
        // `ca` replaces the system roots in Node, so keep them alongside the private CA.
        ...(options.caCertificates?.length ? { ca: [...rootCertificates, ...options.caCertificates] } : {}),
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
        response.on("error", reject);
      },
    );
    request.on("timeout", () => request.destroy(new Error(`no answer from ${url} within ${options.timeoutMs} ms`)));
    request.on("error", reject);
    request.end(options.body);
  });
}

// One HTTP request through fetch(), with runtime-specific options for a
// private CA (Deno: an HTTP client; Bun: tls.ca).

import type { HttpRequestOptions, HttpResponse } from "./types.ts";

/** fetch() with runtime-specific extra options for a private CA (Deno: an HTTP client; Bun: tls.ca). */
export async function fetchHttpRequest(
  url: string,
  options: HttpRequestOptions,
  caInit: (caCertificates: string[]) => Record<string, unknown> & { release?: () => void },
): Promise<HttpResponse> {
  const extra = options.caCertificates?.length ? caInit(options.caCertificates) : {};
  const { release, ...init } = extra;
  try {
    const response = await fetch(url, {
      method: options.method,
      headers: options.headers,
      body: options.body,
      signal: options.timeoutMs === undefined ? undefined : AbortSignal.timeout(options.timeoutMs),
      ...init,
    } as RequestInit);
    return { status: response.status, text: await response.text() };
  } finally {
    release?.();
  }
}


// The public HTTP surface of a site's link port: token redemption and a
// health check. The WebSocket upgrade for links is answered by the site.

import { Hono } from "hono";
import type { RedeemRequest } from "../site/grants.ts";

export const LINK_PATH = "/skiff/v1/link";
export const REDEEM_PATH = "/skiff/v1/redeem";
const MAX_REDEEM_BODY = 16384;

export interface LinkApi {
  /** Redeem a grant; resolves with the answer, or undefined for "refused" (the reason stays in the log). */
  redeem(grantId: string, request: RedeemRequest, source: string): Promise<{ site: string; certificate: string; ca: string; url: string } | undefined>;
  /** False when `source` made too many attempts recently. */
  allowAttempt(source: string): boolean;
}

type Env = { Bindings: { remoteAddress: string } };

export function createLinkApp(api: LinkApi | undefined): Hono<Env> {
  const app = new Hono<Env>();
  app.get("/healthz", (c) => c.text("ok\n"));
  app.get(LINK_PATH, (c) => c.text(`${LINK_PATH} expects a WebSocket upgrade from another Skiff site\n`, 426));
  app.post(`${REDEEM_PATH}/:grant`, async (c) => {
    // Every failure gets the same answer, so a guesser learns nothing about grants.
    const refused = () => c.json({ error: "redemption refused" }, 403);
    if (api === undefined) return refused();
    if (!api.allowAttempt(c.env.remoteAddress)) return c.json({ error: "too many redemption attempts; try again later" }, 429);
    const text = await c.req.text();
    if (text.length > MAX_REDEEM_BODY) return refused();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return refused();
    }
    const { site, csr, proof } = (body ?? {}) as Record<string, unknown>;
    if (typeof site !== "string" || typeof csr !== "string" || typeof proof !== "string") return refused();
    const answer = await api.redeem(c.req.param("grant"), { site, csr, proof }, c.env.remoteAddress);
    return answer === undefined ? refused() : c.json(answer);
  });
  app.notFound((c) => c.text("not found\n", 404));
  app.onError((_err, c) => c.json({ error: "redemption refused" }, 403));
  return app;
}

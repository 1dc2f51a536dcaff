// The local admin endpoint: status, token issue, token redemption and
// revocation for commands run on the same host. Bound to loopback; every
// request must carry the secret from the site's state directory.

import { Hono } from "hono";
import { constantTimeEqual } from "../core/bytes.ts";
import { SkiffError } from "../errors.ts";
import type { SiteStatus } from "../site/status.ts";

export interface TokenRequest {
  grant?: string;
  redemptionsAllowed?: number;
  expirationWindowMs?: number;
  linkCost?: number;
}

export interface AdminSite {
  status(): SiteStatus;
  issueToken(request: TokenRequest): Promise<{ token: string; expiresAt: string; redemptionsAllowed: number }>;
  redeemTokenText(text: string, file: string): Promise<{ links: { name: string; peer: string }[] }>;
  revoke(site: string): Promise<{ closedLinks: number }>;
}

export interface AdminContext {
  secret: string;
  site: AdminSite;
}

export function createAdminApp(context: AdminContext): Hono {
  const app = new Hono();
  app.use("*", async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const presented = header.startsWith("Bearer ") ? header.slice(7) : "";
    if (!constantTimeEqual(presented, context.secret)) {
      return c.json({ error: "this endpoint needs the secret in the site's state directory (admin-secret)" }, 401);
    }
    await next();
  });
  app.get("/v1/status", (c) => c.json(context.site.status()));
  app.post("/v1/tokens", async (c) => c.json(await context.site.issueToken((await c.req.json()) as TokenRequest)));
  app.post("/v1/redeem", async (c) => {
    const body = (await c.req.json()) as { token?: unknown; file?: unknown };
    if (typeof body.token !== "string") return c.json({ error: "expected {token: <AccessToken YAML>}" }, 400);
    return c.json(await context.site.redeemTokenText(body.token, typeof body.file === "string" ? body.file : "token"));
  });
  app.post("/v1/revoke", async (c) => {
    const body = (await c.req.json()) as { site?: unknown };
    if (typeof body.site !== "string") return c.json({ error: "expected {site: <name>}" }, 400);
    return c.json(await context.site.revoke(body.site));
  });
  app.notFound((c) => c.json({ error: `no admin route ${c.req.method} ${c.req.path}` }, 404));
  app.onError((err, c) => c.json({ error: err.message, code: err instanceof SkiffError ? err.code : undefined }, err instanceof SkiffError ? 400 : 500));
  return app;
}

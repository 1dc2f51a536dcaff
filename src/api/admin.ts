// The local admin endpoint: status (and later tokens) for commands run on the
// same host. Bound to loopback; every request must carry the site's secret.

import { Hono } from "hono";
import { constantTimeEqual } from "../core/bytes.ts";
import type { SiteStatus } from "../site/status.ts";

export interface AdminContext {
  secret: string;
  site: { status(): SiteStatus };
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
  app.notFound((c) => c.json({ error: `no admin route ${c.req.method} ${c.req.path}` }, 404));
  app.onError((err, c) => c.json({ error: err.message }, 500));
  return app;
}

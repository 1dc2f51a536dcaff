// The public HTTP surface of a site's link port. The WebSocket upgrade for
// links is answered by the site itself; hono serves the plain requests.

import { Hono } from "hono";

export const LINK_PATH = "/skiff/v1/link";

export function createLinkApp(): Hono {
  const app = new Hono();
  app.get("/healthz", (c) => c.text("ok\n"));
  app.get(LINK_PATH, (c) => c.text(`${LINK_PATH} expects a WebSocket upgrade from another Skiff site\n`, 426));
  app.notFound((c) => c.text("not found\n", 404));
  return app;
}

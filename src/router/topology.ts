// The network as this site knows it: the newest advert of every site, aged
// out when not refreshed, and shortest paths over links both ends report.
// Pure: time is passed in.

import { z } from "zod";

const siteName = z.string().min(1).max(63).regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);

export const AdvertSchema = z
  .object({
    site: siteName,
    /** Grows with every change; a restarted site starts above its old numbers (it is time-based). */
    seq: z.number().int().nonnegative(),
    runtime: z.string().max(32),
    version: z.string().max(64),
    links: z.array(z.object({ site: siteName, cost: z.number().int().min(1).max(1_000_000) }).strict()).max(256),
    services: z.array(z.object({ routingKey: z.string().min(1).max(253), connectors: z.number().int().min(1).max(100_000) }).strict()).max(1024),
  })
  .strict();
export type Advert = z.infer<typeof AdvertSchema>;

export interface Route {
  site: string;
  cost: number;
  /** Sites from the first hop to `site` inclusive; empty for this site itself. */
  path: string[];
}

interface Stored {
  advert: Advert;
  receivedAt: number;
}

export class Topology {
  readonly self: string;
  readonly #ageOutMs: number;
  readonly #adverts = new Map<string, Stored>();
  #routes: Map<string, Route> | undefined;

  constructor(self: string, ageOutMs: number) {
    this.self = self;
    this.#ageOutMs = ageOutMs;
  }

  /** This site's own advert (never ages out). */
  setLocal(advert: Advert): void {
    this.#adverts.set(this.self, { advert, receivedAt: Number.POSITIVE_INFINITY });
    this.#routes = undefined;
  }

  /**
   * Store an advert if it is newer than what we have. Returns true when it
   * was new, so the caller floods it on to its other links.
   */
  accept(advert: Advert, now: number): boolean {
    if (advert.site === this.self) return false;
    const known = this.#adverts.get(advert.site);
    if (known !== undefined && known.advert.seq >= advert.seq) {
      if (known.advert.seq === advert.seq) known.receivedAt = now; // a refresh keeps it alive
      return false;
    }
    this.#adverts.set(advert.site, { advert, receivedAt: now });
    this.#routes = undefined;
    return true;
  }

  /** Drop adverts not refreshed within the age-out time. Returns the sites dropped. */
  expire(now: number): string[] {
    const dropped: string[] = [];
    for (const [site, stored] of this.#adverts) {
      if (now - stored.receivedAt > this.#ageOutMs) {
        this.#adverts.delete(site);
        dropped.push(site);
      }
    }
    if (dropped.length > 0) this.#routes = undefined;
    return dropped;
  }

  advert(site: string): Advert | undefined {
    return this.#adverts.get(site)?.advert;
  }

  adverts(): Advert[] {
    return [...this.#adverts.values()].map((s) => s.advert);
  }

  /** Cheapest route to every reachable site (Dijkstra over links reported by both ends). */
  routes(): Map<string, Route> {
    if (this.#routes !== undefined) return this.#routes;
    const routes = new Map<string, Route>([[this.self, { site: this.self, cost: 0, path: [] }]]);
    const done = new Set<string>();
    for (;;) {
      let current: Route | undefined;
      for (const route of routes.values()) {
        if (done.has(route.site)) continue;
        if (current === undefined || route.cost < current.cost || (route.cost === current.cost && route.site < current.site)) current = route;
      }
      if (current === undefined) break;
      done.add(current.site);
      for (const { site, cost } of this.#neighbours(current.site)) {
        if (done.has(site)) continue;
        const total = current.cost + cost;
        const known = routes.get(site);
        if (known === undefined || total < known.cost) routes.set(site, { site, cost: total, path: [...current.path, site] });
      }
    }
    this.#routes = routes;
    return routes;
  }

  /** Reachable sites that serve `routingKey`, with their connector counts. */
  sitesServing(routingKey: string): { route: Route; connectors: number }[] {
    const found: { route: Route; connectors: number }[] = [];
    for (const route of this.routes().values()) {
      const service = this.advert(route.site)?.services.find((s) => s.routingKey === routingKey);
      if (service !== undefined) found.push({ route, connectors: service.connectors });
    }
    return found;
  }

  /** Links of `site` that the other end reports too, with the higher of the two costs. */
  #neighbours(site: string): { site: string; cost: number }[] {
    const advert = this.advert(site);
    if (advert === undefined) return [];
    const result: { site: string; cost: number }[] = [];
    for (const link of advert.links) {
      const back = this.advert(link.site)?.links.find((l) => l.site === site);
      if (back !== undefined) result.push({ site: link.site, cost: Math.max(link.cost, back.cost) });
    }
    return result;
  }
}

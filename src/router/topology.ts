// The network as this site knows it: the newest advert of every site, aged
// out when not refreshed, and shortest paths over links both ends report.
// Pure: time is passed in.

import * as z from "zod";

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
    /** Routing keys this site has listeners for (shown in status; routing does not need them). */
    listeners: z
      .array(z.object({ routingKey: z.string().min(1).max(253), listeners: z.number().int().min(1).max(100_000) }).strict())
      .max(1024)
      .default([]),
    /**
     * How old the advert was when it was sent on, in ms (0 from its origin).
     * Each site adds the time it held the advert, so an advert of a site that
     * went away ages out everywhere at the same time, however often it is passed on.
     */
    ageMs: z.number().int().nonnegative().max(86_400_000).optional(),
  })
  .strict();
export type Advert = z.output<typeof AdvertSchema>;

/** A link as one site reports it; `up` when the other end reports it too (only those carry traffic). */
export interface ReportedLink {
  site: string;
  cost: number;
  up: boolean;
}

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

  get ageOutMs(): number {
    return this.#ageOutMs;
  }

  /**
   * Store an advert if it is newer than what we have. Returns true when it
   * was new, so the caller floods it on to its other links. An advert older
   * than the age-out time is ignored.
   */
  accept(advert: Advert, now: number): boolean {
    if (advert.site === this.self) return false;
    const age = advert.ageMs ?? 0;
    if (age > this.#ageOutMs) return false;
    const bornAt = now - age;
    const known = this.#adverts.get(advert.site);
    if (known !== undefined && known.advert.seq >= advert.seq) {
      // The same advert by a fresher way: it is as young as its youngest copy.
      if (known.advert.seq === advert.seq && bornAt > known.receivedAt) known.receivedAt = bornAt;
      return false;
    }
    const { ageMs: _age, ...content } = advert;
    this.#adverts.set(advert.site, { advert: content, receivedAt: bornAt });
    this.#routes = undefined;
    return true;
  }

  /** The advert of `site` as it should be passed on at `now`: with its age. */
  relayable(site: string, now: number): Advert | undefined {
    const stored = this.#adverts.get(site);
    if (stored === undefined) return undefined;
    const age = stored.receivedAt === Number.POSITIVE_INFINITY ? 0 : Math.max(0, Math.round(now - stored.receivedAt));
    if (age > this.#ageOutMs) return undefined;
    return age === 0 ? stored.advert : { ...stored.advert, ageMs: age };
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

  /** The links `site` reports, each marked up when the other end reports it too. */
  reportedLinks(site: string): ReportedLink[] {
    const advert = this.advert(site);
    if (advert === undefined) return [];
    return advert.links.map((link) => ({
      site: link.site,
      cost: link.cost,
      up: this.advert(link.site)?.links.some((l) => l.site === site) ?? false,
    }));
  }

  /** Reachable sites that have listeners for `routingKey`, with their listener counts. */
  sitesListening(routingKey: string): { route: Route; listeners: number }[] {
    const found: { route: Route; listeners: number }[] = [];
    for (const route of this.routes().values()) {
      const entry = this.advert(route.site)?.listeners.find((l) => l.routingKey === routingKey);
      if (entry !== undefined) found.push({ route, listeners: entry.listeners });
    }
    return found;
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

export interface RouteChanges {
  /** Sites reachable now that were not before. */
  gained: string[];
  /** Sites no longer reachable. */
  lost: string[];
  /** Sites still reachable by another path or at another cost. */
  changed: string[];
}

/** What changed between two route tables (sites sorted by name). */
export function diffRoutes(before: ReadonlyMap<string, Route>, after: ReadonlyMap<string, Route>): RouteChanges {
  const gained: string[] = [];
  const lost: string[] = [];
  const changed: string[] = [];
  for (const [site, route] of after) {
    const old = before.get(site);
    if (old === undefined) gained.push(site);
    else if (old.cost !== route.cost || old.path.join(">") !== route.path.join(">")) changed.push(site);
  }
  for (const site of before.keys()) if (!after.has(site)) lost.push(site);
  return { gained: gained.sort(), lost: lost.sort(), changed: changed.sort() };
}

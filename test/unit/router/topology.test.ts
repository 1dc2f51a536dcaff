// Topology: which adverts are kept, when they age out, and the shortest paths
// computed over links that both ends report.

import { describe, expect, it } from "vitest";
import { type Advert, AdvertSchema, diffRoutes, Topology } from "../../../src/router/topology.ts";

const AGE_OUT = 35_000;

function advert(site: string, seq: number, links: Record<string, number>, extra: Partial<Advert> = {}): Advert {
  return {
    site,
    seq,
    runtime: "node",
    version: "0.1.0",
    links: Object.entries(links).map(([peer, cost]) => ({ site: peer, cost })),
    services: [],
    listeners: [],
    ...extra,
  };
}

/** A topology seen from `self`, with every advert given accepted at time 0. */
function network(self: string, graph: Record<string, Record<string, number>>, services: Record<string, string[]> = {}): Topology {
  const t = new Topology(self, AGE_OUT);
  for (const [site, links] of Object.entries(graph)) {
    const a = advert(site, 1, links, { services: (services[site] ?? []).map((routingKey) => ({ routingKey, connectors: 1 })) });
    if (site === self) t.setLocal(a);
    else t.accept(a, 0);
  }
  return t;
}

describe("Topology.routes()", () => {
  it("finds a path along a chain of four sites", () => {
    const t = network("a", { a: { b: 1 }, b: { a: 1, c: 1 }, c: { b: 1, d: 1 }, d: { c: 1 } });
    expect(t.routes().get("d")).toEqual({ site: "d", cost: 3, path: ["b", "c", "d"] });
  });

  it("takes the cheaper way round a ring, and the other way once the cheap link is gone", () => {
    const ring = { a: { b: 1, d: 5 }, b: { a: 1, c: 1 }, c: { b: 1, d: 1 }, d: { c: 1, a: 5 } };
    const t = network("a", ring);
    expect(t.routes().get("c")).toEqual({ site: "c", cost: 2, path: ["b", "c"] });
    // b reports that its link to c went down.
    t.accept(advert("b", 2, { a: 1 }), 10);
    expect(t.routes().get("c")).toEqual({ site: "c", cost: 6, path: ["d", "c"] });
  });

  it("counts a link only when both ends report it", () => {
    const t = network("a", { a: { b: 1 }, b: { a: 1, c: 1 }, c: {} });
    expect(t.routes().has("c")).toBe(false);
    expect(t.reportedLinks("b")).toEqual([
      { site: "a", cost: 1, up: true },
      { site: "c", cost: 1, up: false },
    ]);
  });

  it("uses the higher of the two costs the ends of a link report", () => {
    const t = network("a", { a: { b: 1 }, b: { a: 7 } });
    expect(t.routes().get("b")?.cost).toBe(7);
  });

  it("routes across a star through its hub", () => {
    const t = network("s1", { hub: { s1: 1, s2: 1, s3: 1, s4: 1 }, s1: { hub: 1 }, s2: { hub: 1 }, s3: { hub: 1 }, s4: { hub: 1 } });
    expect(t.routes().get("s3")?.path).toEqual(["hub", "s3"]);
  });

  it("names every site of a path once, so a stream cannot loop", () => {
    const t = network("a", { a: { b: 1, c: 1 }, b: { a: 1, c: 1, d: 1 }, c: { a: 1, b: 1, d: 1 }, d: { b: 1, c: 1 } });
    for (const route of t.routes().values()) expect(new Set(route.path).size).toBe(route.path.length);
  });

  it("lists the sites that serve a key with their connector counts", () => {
    const t = network("a", { a: { b: 1, c: 1 }, b: { a: 1 }, c: { a: 1 }, d: {} }, { b: ["db"], c: ["db"], d: ["db"] });
    expect(t.sitesServing("db").map((s) => s.route.site).sort()).toEqual(["b", "c"]); // d is unreachable
  });
});

describe("Topology.accept()", () => {
  it("keeps the newest advert of a site and reports only news", () => {
    const t = new Topology("a", AGE_OUT);
    expect(t.accept(advert("b", 5, {}), 0)).toBe(true);
    expect(t.accept(advert("b", 5, {}), 1)).toBe(false);
    expect(t.accept(advert("b", 4, { c: 1 }), 2)).toBe(false);
    expect(t.advert("b")?.seq).toBe(5);
    // A restarted site numbers its adverts from the clock, so it wins over its old self.
    expect(t.accept(advert("b", Date.now(), {}), 3)).toBe(true);
  });

  it("ignores adverts about this site", () => {
    const t = new Topology("a", AGE_OUT);
    expect(t.accept(advert("a", 99, {}), 0)).toBe(false);
  });

  it("ages out a site whose advert is not refreshed, and keeps its own", () => {
    const t = network("a", { a: { b: 1 }, b: { a: 1 } });
    expect(t.expire(AGE_OUT)).toEqual([]);
    expect(t.expire(AGE_OUT + 1)).toEqual(["b"]);
    expect(t.advert("b")).toBeUndefined();
    expect(t.advert("a")).toBeDefined();
  });

  it("counts the age an advert had when it was passed on, so a relayed old advert dies on time", () => {
    const t = new Topology("a", AGE_OUT);
    t.accept({ ...advert("z", 1, {}), ageMs: 30_000 }, 100_000);
    expect(t.expire(100_000 + 5_000)).toEqual([]);
    expect(t.expire(100_000 + 5_001)).toEqual(["z"]);
    // One already older than the age-out time is not taken at all.
    expect(t.accept({ ...advert("y", 1, {}), ageMs: AGE_OUT + 1 }, 0)).toBe(false);
  });

  it("passes adverts on with the time it held them, and its own with age 0", () => {
    const t = network("a", { a: {}, b: {} });
    expect(t.relayable("b", 1_500)?.ageMs).toBe(1_500);
    expect(t.relayable("a", 1_500)?.ageMs).toBeUndefined();
    expect(t.relayable("b", AGE_OUT + 1)).toBeUndefined();
  });

  it("takes an equal advert that arrives younger by another way as the fresher copy", () => {
    const t = new Topology("a", AGE_OUT);
    t.accept({ ...advert("b", 1, {}), ageMs: 20_000 }, 0);
    t.accept({ ...advert("b", 1, {}), ageMs: 0 }, 0);
    expect(t.expire(20_000)).toEqual([]);
  });
});

describe("AdvertSchema", () => {
  it("accepts an advert without listeners (they default to none)", () => {
    const parsed = AdvertSchema.parse({ site: "b", seq: 1, runtime: "bun", version: "0.1.0", links: [], services: [] });
    expect(parsed.listeners).toEqual([]);
  });

  it("refuses unknown fields and bad site names", () => {
    expect(AdvertSchema.safeParse({ ...advert("b", 1, {}), extra: 1 }).success).toBe(false);
    expect(AdvertSchema.safeParse(advert("B!", 1, {})).success).toBe(false);
  });
});

describe("diffRoutes()", () => {
  it("names the sites gained, lost and reached by a new path", () => {
    const before = network("a", { a: { b: 1, d: 5 }, b: { a: 1, c: 1 }, c: { b: 1, d: 1 }, d: { c: 1, a: 5 } }).routes();
    const after = network("a", { a: { d: 5 }, b: {}, c: { d: 1 }, d: { c: 1, a: 5 }, e: {} }).routes();
    expect(diffRoutes(before, after)).toEqual({ gained: [], lost: ["b"], changed: ["c", "d"] });
  });
});

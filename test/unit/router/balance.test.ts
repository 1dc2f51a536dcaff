// The balanced choice: cheaper paths first, then spread by outstanding load
// per connector; and several connectors on one site take turns.

import { describe, expect, it } from "vitest";
import { balancedScore, bestCandidates, type Candidate, chooseBalanced, pickLeastLoaded } from "../../../src/router/balance.ts";

const site = (name: string, cost: number, outstanding = 0, connectors = 1): Candidate => ({ site: name, cost, connectors, outstanding });

/** Run `n` connections that all stay open, counting where each goes. */
function simulate(candidates: Candidate[], n: number, random: () => number = Math.random): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const chosen = chooseBalanced(candidates, random)!;
    chosen.outstanding++;
    counts.set(chosen.site, (counts.get(chosen.site) ?? 0) + 1);
  }
  return counts;
}

describe("chooseBalanced()", () => {
  it("prefers the cheaper path while the sites are idle", () => {
    expect(chooseBalanced([site("far", 3), site("near", 1)])?.site).toBe("near");
  });

  it("treats cost as a threshold: load beyond the difference spills over to the dearer site", () => {
    const counts = simulate([site("near", 1), site("far", 3)], 10);
    // near takes connections until its load makes it as dear as far, then they alternate.
    expect(counts.get("near")).toBeGreaterThanOrEqual(6);
    expect(counts.get("far")).toBeGreaterThanOrEqual(4);
  });

  it("still uses a sole site whatever its cost (active/standby with a high cost)", () => {
    expect(chooseBalanced([site("standby", 99_999, 50)])?.site).toBe("standby");
  });

  it("spreads sequential connections over two equal idle sites about evenly", () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 1000; i++) {
      const chosen = chooseBalanced([site("b", 2), site("c", 2)])!; // each connection ends before the next
      counts.set(chosen.site, (counts.get(chosen.site) ?? 0) + 1);
    }
    expect(counts.get("b")).toBeGreaterThan(400);
    expect(counts.get("b")).toBeLessThan(600);
  });

  it("spreads concurrent connections by outstanding load, whatever the tie-break", () => {
    const counts = simulate([site("b", 1), site("c", 1)], 1000, () => 0);
    expect(counts.get("b")).toBe(500);
    expect(counts.get("c")).toBe(500);
  });

  it("does not let a site with a local connector keep all the traffic when a remote one is idle", () => {
    const counts = simulate([site("self", 0), site("remote", 1)], 20);
    expect(counts.get("remote")).toBeGreaterThanOrEqual(9);
    expect(counts.get("self")).toBeGreaterThanOrEqual(10);
  });

  it("weighs load per connector: a site with two connectors takes twice the share", () => {
    const counts = simulate([site("two", 1, 0, 2), site("one", 1, 0, 1)], 300, () => 0);
    expect(counts.get("two")).toBe(200);
    expect(counts.get("one")).toBe(100);
  });

  it("returns undefined without candidates", () => {
    expect(chooseBalanced([])).toBeUndefined();
  });
});

describe("bestCandidates()", () => {
  it("returns every candidate that ties on score, with a tolerance for fractions", () => {
    const best = bestCandidates([site("a", 1, 1, 3), site("b", 1, 2, 6), site("c", 2)]);
    expect(best.map((c) => c.site)).toEqual(["a", "b"]);
    expect(balancedScore(site("a", 1, 1, 3))).toBeCloseTo(4 / 3);
  });
});

describe("pickLeastLoaded()", () => {
  it("picks the connector with the fewest open connections, then the fewest so far", () => {
    const a = { name: "a", active: 1, connections: 1 };
    const b = { name: "b", active: 0, connections: 5 };
    const c = { name: "c", active: 0, connections: 2 };
    expect(pickLeastLoaded([a, b, c])?.name).toBe("c");
  });

  it("lets sequential connections take turns among connectors", () => {
    const connectors = [0, 1, 2].map((i) => ({ name: `c${i}`, active: 0, connections: 0 }));
    for (let i = 0; i < 30; i++) pickLeastLoaded(connectors)!.connections++;
    expect(connectors.map((c) => c.connections)).toEqual([10, 10, 10]);
  });
});

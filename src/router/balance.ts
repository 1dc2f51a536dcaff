// Skupper's "balanced" choice of a destination for a new connection, as pure
// functions: among the sites that serve a key, the lowest path cost plus
// outstanding connections per connector wins; ties are broken at random.

export interface Candidate {
  site: string;
  /** Path cost from the choosing site (0 for the site itself). */
  cost: number;
  /** Connectors for the key on that site. */
  connectors: number;
  /** Connections the choosing site has open (or opening) to that site. */
  outstanding: number;
}

/** The balanced score: lower is better. Cost acts as a threshold, never as an exclusion. */
export function balancedScore(c: Candidate): number {
  return c.cost + c.outstanding / Math.max(1, c.connectors);
}

/** Every candidate with the best score (several when they tie), in the order given. */
export function bestCandidates<T extends Candidate>(candidates: readonly T[]): T[] {
  let best: T[] = [];
  let bestScore = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const score = balancedScore(c);
    // Scores are sums of small fractions: compare with a tolerance so 1/3 + 2/3 ties with 1.
    if (score < bestScore - 1e-9) {
      best = [c];
      bestScore = score;
    } else if (Math.abs(score - bestScore) <= 1e-9) best.push(c);
  }
  return best;
}

/** The destination for the next connection, or undefined when there is no candidate. */
export function chooseBalanced<T extends Candidate>(candidates: readonly T[], random: () => number = Math.random): T | undefined {
  const best = bestCandidates(candidates);
  if (best.length === 0) return undefined;
  return best[Math.min(best.length - 1, Math.floor(random() * best.length))];
}

export interface LocalTarget {
  active: number;
  connections: number;
}

/**
 * Of several connectors for one key on one site: the one with the fewest
 * open connections, then the fewest connections so far (so sequential
 * connections take turns). Undefined when the list is empty.
 */
export function pickLeastLoaded<T extends LocalTarget>(targets: readonly T[]): T | undefined {
  let best: T | undefined;
  for (const t of targets) {
    if (best === undefined || t.active < best.active || (t.active === best.active && t.connections < best.connections)) best = t;
  }
  return best;
}

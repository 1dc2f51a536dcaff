// What `skiff status` shows: the site, its links, the network and its
// services, as one JSON-ready object built from the running site.

import type { Site } from "./site.ts";

export interface LinkStatusEntry {
  name: string;
  direction: "outgoing" | "incoming";
  url?: string;
  remoteAddress?: string;
  status: "Pending" | "Ready" | "Error";
  reason: string;
  peer?: string;
  since: string;
  cost?: number;
  rttMs?: number;
  streams: number;
  bytesSent: number;
  bytesReceived: number;
}

export interface ServiceStatus {
  routingKey: string;
  listeners: { name: string; host: string; port: number; connections: number; active: number; failed: number; lastError?: string }[];
  connectors: { name: string; host: string; port: number; connections: number; active: number; errors: number; lastError?: string }[];
  /** Sites that serve the key, cheapest first, with the path cost from here. */
  servedBy: { site: string; connectors: number; cost: number; outstanding: number }[];
}

export interface SiteStatus {
  site: { name: string; runtime: string; runtimeVersion: string; version: string; startedAt: string; linkUrl?: string; rssBytes: number };
  links: LinkStatusEntry[];
  network: { site: string; runtime: string; version: string; cost?: number; links: { site: string; cost: number }[] }[];
  services: ServiceStatus[];
  counters: { streamsForwarded: number; streamsRefused: number; noRoute: number; retries: number };
}

export function buildStatus(site: Site): SiteStatus {
  const { router } = site;
  const links: LinkStatusEntry[] = [];
  for (const dialer of site.dialers) {
    const session = site.sessionFor(dialer);
    links.push({
      name: dialer.name,
      direction: "outgoing",
      url: dialer.url,
      status: dialer.status,
      reason: dialer.reason,
      peer: dialer.peer,
      since: dialer.since.toISOString(),
      cost: site.config.links.find((l) => l.name === dialer.name)?.cost,
      rttMs: session?.rttMs,
      streams: session?.streamCount ?? 0,
      bytesSent: session?.counters.bytesSent ?? 0,
      bytesReceived: session?.counters.bytesReceived ?? 0,
    });
  }
  for (const { session, remoteAddress } of site.incoming) {
    const ready = session.state === "ready";
    links.push({
      name: session.peer === undefined ? `from ${remoteAddress}` : `from ${session.peer.site}`,
      direction: "incoming",
      remoteAddress,
      status: ready ? "Ready" : session.state === "closed" ? "Error" : "Pending",
      reason: ready ? `linked from site ${session.peer!.site}` : (session.closeReason ?? "handshaking"),
      peer: session.peer?.site,
      since: session.connectedAt.toISOString(),
      cost: session.peer?.linkCost ?? 1,
      rttMs: session.rttMs,
      streams: session.streamCount,
      bytesSent: session.counters.bytesSent,
      bytesReceived: session.counters.bytesReceived,
    });
  }

  const routes = router.topology.routes();
  const network = router.topology.adverts().map((advert) => ({
    site: advert.site,
    runtime: advert.runtime,
    version: advert.version,
    cost: routes.get(advert.site)?.cost,
    links: advert.links,
  }));
  network.sort((a, b) => (a.cost ?? Infinity) - (b.cost ?? Infinity) || a.site.localeCompare(b.site));

  const keys = new Set<string>();
  for (const l of site.listeners) keys.add(l.routingKey);
  for (const c of router.connectors) keys.add(c.routingKey);
  for (const advert of router.topology.adverts()) for (const s of advert.services) keys.add(s.routingKey);
  const services: ServiceStatus[] = [...keys].sort().map((routingKey) => ({
    routingKey,
    listeners: site.listeners
      .filter((l) => l.routingKey === routingKey)
      .map((l) => ({ name: l.name, host: l.host, port: l.port, ...l.counters })),
    connectors: router.connectors
      .filter((c) => c.routingKey === routingKey)
      .map((c) => ({ name: c.name, host: c.host, port: c.port, connections: c.connections, active: c.active, errors: c.errors, lastError: c.lastError })),
    servedBy: router.topology
      .sitesServing(routingKey)
      .map(({ route, connectors }) => ({ site: route.site, connectors, cost: route.cost, outstanding: router.outstanding.get(route.site) ?? 0 }))
      .sort((a, b) => a.cost - b.cost || a.site.localeCompare(b.site)),
  }));

  return {
    site: {
      name: site.config.site.name,
      runtime: site.platform.runtime,
      runtimeVersion: site.platform.version,
      version: router.version,
      startedAt: site.startedAt.toISOString(),
      linkUrl: site.linkUrl,
      rssBytes: site.platform.memoryRss(),
    },
    links,
    network,
    services,
    counters: { ...router.counters },
  };
}

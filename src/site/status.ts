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
  /** Streams the peer opened beyond this link's stream limit (maxStreamsPerLink), refused with reason Limit. */
  streamsRefused: number;
  bytesSent: number;
  bytesReceived: number;
  /** When the peer's certificate (as presented in the last handshake) expires. */
  peerCertificateExpires?: string;
  /** Outgoing links: when this site's certificate for the link expires (renewed over the link at half its life). */
  certificateExpires?: string;
}

export interface ServiceStatus {
  routingKey: string;
  listeners: { name: string; host: string; port: number; connections: number; active: number; failed: number; lastError?: string }[];
  connectors: { name: string; host: string; port: number; connections: number; active: number; errors: number; lastError?: string }[];
  /** Reachable sites with listeners for the key (where clients come in), cheapest first. */
  listenerSites: { site: string; listeners: number; cost: number }[];
  /**
   * Reachable sites that serve the key, cheapest first, with the path cost
   * from here, this site's open connections to each, and `next` on the ones
   * the balanced rule picks from for the next new connection.
   */
  servedBy: { site: string; connectors: number; cost: number; outstanding: number; next: boolean }[];
  /** Where the next new connection from this site goes (one is picked at random when several tie); empty without a route. */
  newConnectionsGoTo: string[];
}

export interface NetworkSite {
  site: string;
  runtime: string;
  version: string;
  /** False while the advert is known but no path of links that both ends report leads there. */
  reachable: boolean;
  /** Path cost from this site, when reachable. */
  cost?: number;
  /** The sites a stream crosses from here, ending with this one, when reachable. */
  path?: string[];
  /** Links as the site reports them; `up` when the other end reports the link too. */
  links: { site: string; cost: number; up: boolean }[];
  connectors: { routingKey: string; connectors: number }[];
  listeners: { routingKey: string; listeners: number }[];
}

export interface SiteStatus {
  site: { name: string; runtime: string; runtimeVersion: string; version: string; startedAt: string; linkUrl?: string; rssBytes: number };
  links: LinkStatusEntry[];
  network: NetworkSite[];
  services: ServiceStatus[];
  counters: {
    streamsForwarded: number;
    streamsRefused: number;
    noRoute: number;
    retries: number;
    /** Connections and streams refused because this site was at a limit (pending bytes, or a link's stream limit). */
    limitRefusals: number;
    /** Streams peers opened beyond a link's stream limit, refused here (sum over links). */
    linkStreamRefusals: number;
    /** Connections and forwarded streams carried now. */
    activeStreams: number;
    /** Bytes held now for connections whose readers are slow, and the cap. */
    pendingBytes: number;
    maxPendingBytes: number;
  };
}

export function buildStatus(site: Site): SiteStatus {
  const { router } = site;
  const links: LinkStatusEntry[] = [];
  for (const [name, link] of site.outgoing) {
    const { dialer } = link;
    const session = link.session?.state === "closed" ? undefined : link.session;
    links.push({
      name,
      direction: "outgoing",
      url: dialer.url,
      status: dialer.status,
      reason: dialer.reason,
      peer: dialer.peer,
      since: dialer.since.toISOString(),
      cost: site.config.links.find((l) => l.name === name)?.cost ?? site.identity.link(name)?.cost,
      rttMs: session?.rttMs,
      streams: session?.streamCount ?? 0,
      streamsRefused: session?.counters.streamsRefused ?? 0,
      bytesSent: session?.counters.bytesSent ?? 0,
      bytesReceived: session?.counters.bytesReceived ?? 0,
      peerCertificateExpires: link.peerCertificate?.notAfter.toISOString(),
      certificateExpires: link.certificateExpires?.toISOString(),
    });
  }
  for (const { session, remoteAddress, peerCertificate } of site.incoming) {
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
      streamsRefused: session.counters.streamsRefused,
      bytesSent: session.counters.bytesSent,
      bytesReceived: session.counters.bytesReceived,
      peerCertificateExpires: peerCertificate.notAfter.toISOString(),
    });
  }

  const { topology } = router;
  const routes = topology.routes();
  const network: NetworkSite[] = topology.adverts().map((advert) => {
    const route = routes.get(advert.site);
    return {
      site: advert.site,
      runtime: advert.runtime,
      version: advert.version,
      reachable: route !== undefined,
      cost: route?.cost,
      path: route?.path,
      links: topology.reportedLinks(advert.site),
      connectors: advert.services,
      listeners: advert.listeners,
    };
  });
  network.sort((a, b) => (a.cost ?? Infinity) - (b.cost ?? Infinity) || a.site.localeCompare(b.site));

  const self = site.config.site.name;
  const keys = new Set<string>();
  for (const l of site.listeners) keys.add(l.routingKey);
  for (const c of router.connectors) keys.add(c.routingKey);
  for (const advert of topology.adverts()) {
    for (const s of advert.services) keys.add(s.routingKey);
    for (const l of advert.listeners) keys.add(l.routingKey);
  }
  const services: ServiceStatus[] = [...keys].sort().map((routingKey) => {
    const listeners = site.listeners.filter((l) => l.routingKey === routingKey);
    // This site's own listeners are known first-hand; other sites' come from their adverts.
    const listenerSites = topology
      .sitesListening(routingKey)
      .filter(({ route }) => route.site !== self)
      .map(({ route, listeners: count }) => ({ site: route.site, listeners: count, cost: route.cost }));
    if (listeners.length > 0) listenerSites.push({ site: self, listeners: listeners.length, cost: 0 });
    listenerSites.sort((a, b) => a.cost - b.cost || a.site.localeCompare(b.site));
    const servedBy = router.choices(routingKey).map((c) => ({ site: c.site, connectors: c.connectors, cost: c.cost, outstanding: c.outstanding, next: c.next }));
    return {
      routingKey,
      listeners: listeners.map((l) => ({ name: l.name, host: l.host, port: l.port, ...l.counters })),
      connectors: router.connectors
        .filter((c) => c.routingKey === routingKey)
        .map((c) => ({ name: c.name, host: c.host, port: c.port, connections: c.connections, active: c.active, errors: c.errors, lastError: c.lastError })),
      listenerSites,
      servedBy,
      newConnectionsGoTo: servedBy.filter((c) => c.next).map((c) => c.site),
    };
  });

  let linkStreamRefusals = 0;
  for (const l of links) linkStreamRefusals += l.streamsRefused;

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
    counters: {
      ...router.counters,
      linkStreamRefusals,
      activeStreams: router.activeBridges,
      pendingBytes: router.pendingBytes,
      maxPendingBytes: router.maxPendingBytes,
    },
  };
}

// Renders a site's status as text a person reads at a glance.

import type { SiteStatus } from "../site/status.ts";

export function formatStatus(status: SiteStatus, now: Date): string {
  const out: string[] = [];
  const { site } = status;
  out.push(
    `Site ${site.name} (skiff ${site.version} on ${site.runtime} ${site.runtimeVersion}), up ${ago(site.startedAt, now)}, ` +
      `${Math.round(site.rssBytes / (1024 * 1024))} MiB resident`,
  );
  if (site.linkUrl !== undefined) out.push(`  accepts links at ${site.linkUrl}`);

  out.push("", "Links");
  if (status.links.length === 0) out.push("  (none)");
  else {
    out.push(
      ...table(
        ["NAME", "DIRECTION", "STATUS", "PEER", "PEER CERT EXPIRES", "COST", "RTT", "STREAMS", "SINCE", "REASON"],
        status.links.map((l) => [
          l.name,
          l.direction,
          l.status,
          l.peer ?? "-",
          l.peerCertificateExpires === undefined ? "-" : `${l.peerCertificateExpires.slice(0, 16).replace("T", " ")}Z`,
          String(l.cost ?? "-"),
          l.rttMs === undefined ? "-" : `${l.rttMs} ms`,
          String(l.streams),
          ago(l.since, now) + " ago",
          l.reason,
        ]),
      ),
    );
  }

  out.push("", `Network (${status.network.length} site${status.network.length === 1 ? "" : "s"})`);
  out.push(
    ...table(
      ["SITE", "RUNTIME", "VERSION", "COST", "VIA", "LINKS (cost; * = reported by one end only, not used)"],
      status.network.map((n) => [
        n.site === site.name ? `${n.site} (this site)` : n.site,
        n.runtime,
        n.version,
        n.reachable ? String(n.cost) : "unreachable",
        n.path === undefined ? "-" : n.path.length === 0 ? "-" : n.path.length === 1 ? "direct" : n.path.slice(0, -1).join(" > "),
        n.links.map((l) => `${l.site}(${l.cost})${l.up ? "" : "*"}`).join(" ") || "-",
      ]),
    ),
  );

  out.push("", "Services");
  if (status.services.length === 0) out.push("  (none)");
  for (const service of status.services) {
    out.push(`  ${service.routingKey}`);
    for (const l of service.listeners) {
      const error = l.lastError === undefined ? "" : `; last error: ${l.lastError}`;
      out.push(`    listener  ${l.name} on ${l.host}:${l.port}: ${l.connections} connections, ${l.active} active, ${l.failed} failed${error}`);
    }
    for (const c of service.connectors) {
      const error = c.lastError === undefined ? "" : `; last error: ${c.lastError}`;
      out.push(`    connector ${c.name} to ${c.host}:${c.port}: ${c.connections} connections, ${c.active} active, ${c.errors} errors${error}`);
    }
    const remoteListeners = service.listenerSites.filter((l) => l.site !== site.name);
    if (remoteListeners.length > 0) {
      out.push(`    listeners elsewhere: ${remoteListeners.map((l) => `${l.site} (${l.listeners}, cost ${l.cost})`).join(", ")}`);
    }
    if (service.servedBy.length === 0) out.push("    served by: no reachable site has a connector for this key");
    else {
      const sites = service.servedBy.map((s) => `${s.site} (cost ${s.cost}, ${s.connectors} connector${s.connectors === 1 ? "" : "s"}, ${s.outstanding} open)`);
      out.push(`    served by: ${sites.join(", ")}`);
      out.push(`    new connections from here go to: ${service.newConnectionsGoTo.join(" or ")}`);
    }
  }
  const c = status.counters;
  out.push(
    "",
    `Streams: ${c.activeStreams} active, ${c.streamsForwarded} forwarded, ${c.streamsRefused} refused, ${c.noRoute} without a route, ${c.retries} retried elsewhere`,
    `Limits: ${c.limitRefusals} refused at this site's limits, ${c.linkStreamRefusals} over a link's stream limit; ` +
      `holding ${mib(c.pendingBytes)} for slow readers (limit ${mib(c.maxPendingBytes)})`,
  );
  return out.join("\n") + "\n";
}

function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => "  " + cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ");
  return [line(header), ...rows.map(line)];
}

function ago(iso: string, now: Date): string {
  let seconds = Math.max(0, Math.round((now.getTime() - new Date(iso).getTime()) / 1000));
  if (seconds < 60) return `${seconds}s`;
  const parts: string[] = [];
  const days = Math.floor(seconds / 86400);
  if (days > 0) parts.push(`${days}d`);
  seconds %= 86400;
  const hours = Math.floor(seconds / 3600);
  if (hours > 0) parts.push(`${hours}h`);
  seconds %= 3600;
  parts.push(`${Math.floor(seconds / 60)}m`);
  if (days === 0 && hours === 0) parts.push(`${seconds % 60}s`);
  return parts.join("");
}

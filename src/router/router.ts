// The router of one site: floods adverts, keeps the topology, picks a
// destination site for each new connection, carries streams hop by hop,
// and dials local connectors for streams that end here.

import type { Logger } from "../core/logger.ts";
import { errorMessage, ProtocolError } from "../errors.ts";
import type { LinkSession } from "../link/session.ts";
import { type MuxStream, StreamLimitError } from "../mux/mux.ts";
import { decodeJson, encodeJson } from "../protocol/frames.ts";
import { type Open, ResetCode, resetCodeName } from "../protocol/messages.ts";
import type { TcpSocket } from "../platform/types.ts";
import { bestCandidates, type Candidate, chooseBalanced, pickLeastLoaded } from "./balance.ts";
import { bridgeSocketToStream, bridgeSockets, bridgeStreams, type HeldBytes } from "./bridge.ts";
import { EarlyClient } from "./early-client.ts";
import { type Advert, AdvertSchema, diffRoutes, type Route, Topology } from "./topology.ts";

/** Default cap on the bytes one site holds for connections (see `RouterOptions.maxPendingBytes`). */
export const DEFAULT_MAX_PENDING_BYTES = 64 * 1024 * 1024;
/** Default number of sites a new connection tries before the client is told. */
export const DEFAULT_MAX_CONNECT_ATTEMPTS = 3;
/** Adverts not refreshed for this many advert intervals age out. */
export const AGE_OUT_INTERVALS = 3.5;

/**
 * Resets that arrive before the far end accepted a stream and leave the
 * client untouched: the connection is tried at another site that serves
 * the key, with the client's early bytes (early-client.ts).
 */
const RETRYABLE = new Set<number>([ResetCode.ConnectFailed, ResetCode.NoRoute, ResetCode.Limit, ResetCode.LinkLost, ResetCode.Shutdown]);
/**
 * Of those, the ones after which the far site may have reached its server
 * and written the client's early bytes to it: the link broke, or that site
 * stopped, before its Accept reached us. A server must not get a request
 * twice, so after these a connection is tried again only if its client had
 * sent nothing yet. The others come before any dial.
 */
const MAY_HAVE_DELIVERED = new Set<number>([ResetCode.LinkLost, ResetCode.Shutdown]);

export interface ConnectorSpec {
  name: string;
  routingKey: string;
  host: string;
  port: number;
}

export interface ConnectorStats extends ConnectorSpec {
  active: number;
  connections: number;
  errors: number;
  lastError?: string;
}

export interface ListenerSpec {
  name: string;
  routingKey: string;
}

export interface ListenerCounters {
  connections: number;
  active: number;
  failed: number;
  lastError?: string;
}

export interface RouterOptions {
  site: string;
  runtime: string;
  version: string;
  logger: Logger;
  dial(host: string, port: number): Promise<TcpSocket>;
  /** How often this site re-sends its advert. Adverts not refreshed for 3.5 intervals age out. */
  advertIntervalMs: number;
  /** How many sites a connection tries before giving up when connectors refuse. Default 3. */
  maxConnectAttempts?: number;
  /**
   * Most bytes this site holds for connections at once: bytes read from one
   * side and not yet taken by the other because a reader downstream is slow.
   * Flow control keeps each connection to about one window per direction;
   * while the total is at the cap, new connections and streams are refused
   * with reset reason Limit. Default 64 MiB.
   */
  maxPendingBytes?: number;
  /** For tests: the tie-break among equally good destinations. */
  random?: () => number;
}

interface SessionEntry {
  session: LinkSession;
  cost: number;
}

export interface RouterCounters {
  /** Streams carried on to the next hop. */
  streamsForwarded: number;
  /** Streams from links refused here (no route, no connector, limit, bad path). */
  streamsRefused: number;
  /** Client connections that found no reachable site serving their key. */
  noRoute: number;
  /** Connections tried again at another site after a refusal. */
  retries: number;
  /** Connections and streams refused because a limit was reached (pending bytes, streams per link). */
  limitRefusals: number;
}

/** One candidate site for a key, as status shows it. */
export interface Choice extends Candidate {
  /** True when the balanced rule would pick among these for the next connection. */
  next: boolean;
}

export class Router {
  readonly #options: RouterOptions;
  readonly topology: Topology;
  readonly #sessions = new Map<string, SessionEntry[]>();
  readonly #connectors: ConnectorStats[] = [];
  readonly #listeners: ListenerSpec[] = [];
  /** Connections in flight per destination site, for balancing. */
  readonly #outstanding = new Map<string, number>();
  /** Connections and forwarded streams being carried. */
  #activeBridges = 0;
  /** Bytes the bridges wrote to local sockets that push back. */
  readonly #socketBacklog: HeldBytes = { bytes: 0 };
  /** Clients whose early bytes are kept until the far end accepts (early-client.ts). */
  readonly #earlyClients = new Set<EarlyClient>();
  /** Streams whose connector is being dialed, holding the bytes that came with them. */
  readonly #dialing = new Set<MuxStream>();
  #routes: ReadonlyMap<string, Route> = new Map();
  #seq = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  readonly counters: RouterCounters = { streamsForwarded: 0, streamsRefused: 0, noRoute: 0, retries: 0, limitRefusals: 0 };

  constructor(options: RouterOptions) {
    this.#options = options;
    this.topology = new Topology(options.site, options.advertIntervalMs * AGE_OUT_INTERVALS);
    this.#advertiseLocal();
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => {
      const dropped = this.topology.expire(Date.now());
      for (const site of dropped) this.#options.logger.info("route.expired", `site ${site} is gone: its advert was not refreshed`, { peer: site });
      this.#advertiseLocal();
    }, this.#options.advertIntervalMs);
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  addConnector(spec: ConnectorSpec): void {
    this.#connectors.push({ ...spec, active: 0, connections: 0, errors: 0 });
    this.#advertiseLocal();
  }

  /** A listener on this site: advertised so every site's status shows where clients come in. */
  addListener(spec: ListenerSpec): void {
    this.#listeners.push({ name: spec.name, routingKey: spec.routingKey });
    this.#advertiseLocal();
  }

  get site(): string {
    return this.#options.site;
  }

  get version(): string {
    return this.#options.version;
  }

  get connectors(): readonly ConnectorStats[] {
    return this.#connectors;
  }

  /** Outstanding connections per destination site. */
  get outstanding(): ReadonlyMap<string, number> {
    return this.#outstanding;
  }

  get maxPendingBytes(): number {
    return this.#options.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES;
  }

  /**
   * Bytes this site holds for connections right now (see `RouterOptions.maxPendingBytes`).
   * Asked at every new connection, so it adds up running totals (per link,
   * and the sockets' backlog) and the connections being set up, never every
   * open connection: with 10,000 of them open, visiting each one made a new
   * connection cost about twice as much CPU (docs/benchmarks.md).
   */
  get pendingBytes(): number {
    let total = this.#socketBacklog.bytes;
    for (const entries of this.#sessions.values()) for (const { session } of entries) total += session.pendingBytes;
    for (const client of this.#earlyClients) total += client.keptBytes;
    for (const stream of this.#dialing) total += stream.heldBytes;
    return total;
  }

  /** Connections and forwarded streams this site carries right now. */
  get activeBridges(): number {
    return this.#activeBridges;
  }

  /**
   * The sites that serve `routingKey` as this site sees them, cheapest first,
   * with the ones the next new connection would go to marked `next`.
   */
  choices(routingKey: string): Choice[] {
    const candidates = this.#candidates(routingKey, new Set());
    const next = new Set(bestCandidates(candidates).map((c) => c.site));
    return candidates
      .map((c) => ({ ...c, next: next.has(c.site) }))
      .sort((a, b) => a.cost - b.cost || a.site.localeCompare(b.site));
  }

  // ---- links ----

  /** A link is ready: share everything we know, and announce the new link. */
  addSession(session: LinkSession, cost: number): void {
    const peer = session.peer!.site;
    const list = this.#sessions.get(peer) ?? [];
    list.push({ session, cost });
    this.#sessions.set(peer, list);
    const now = Date.now();
    for (const advert of this.topology.adverts()) {
      if (advert.site === this.#options.site) continue;
      const relayed = this.topology.relayable(advert.site, now);
      if (relayed !== undefined) session.sendAdvert(encodeJson(relayed));
    }
    this.#advertiseLocal();
  }

  removeSession(session: LinkSession): void {
    const peer = session.peer?.site;
    if (peer === undefined) return;
    const list = (this.#sessions.get(peer) ?? []).filter((e) => e.session !== session);
    if (list.length > 0) this.#sessions.set(peer, list);
    else this.#sessions.delete(peer);
    this.#advertiseLocal();
  }

  /** An advert from a peer: store it and flood it on if it is news. */
  receiveAdvert(from: LinkSession, payload: Uint8Array): void {
    const parsed = AdvertSchema.safeParse(decodeJson(payload, "Advert"));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ProtocolError(`malformed Advert at ${issue?.path.join(".") ?? "?"}: ${issue?.message ?? "invalid"}`);
    }
    const advert = parsed.data;
    const now = Date.now();
    if (!this.topology.accept(advert, now)) return;
    const relayed = this.topology.relayable(advert.site, now);
    if (relayed !== undefined) this.#flood(relayed, from);
    this.#routesMaybeChanged();
  }

  // ---- connections ----

  /**
   * A client connected to a listener for `routingKey`: find a site that
   * serves the key and carry the connection there. The client's first bytes
   * go out with the stream's Open and are kept until the far end has reached
   * its server (early-client.ts), so a refused dial can be retried elsewhere
   * without losing a byte.
   */
  connect(routingKey: string, socket: TcpSocket, counters: ListenerCounters): void {
    const client = new EarlyClient(socket);
    const tried = new Set<string>();
    const attempts = this.#options.maxConnectAttempts ?? DEFAULT_MAX_CONNECT_ATTEMPTS;
    const fail = (reason: string) => {
      counters.failed++;
      counters.lastError = reason;
      counters.active--;
      this.#earlyClients.delete(client);
      client.detach();
      client.destroy();
      this.#options.logger.warn("connection.failed", `connection for ${routingKey} from ${socket.remoteAddress}:${socket.remotePort} failed: ${reason}`, {
        routingKey,
      });
    };
    const retryOrFail = (reason: string) => {
      if (tried.size < attempts) attempt(reason);
      else fail(reason);
    };
    const attempt = (lastReason?: string) => {
      const destination = this.#choose(routingKey, tried);
      if (destination === undefined) {
        if (lastReason === undefined) this.counters.noRoute++;
        fail(lastReason ?? `no reachable site serves routing key "${routingKey}"`);
        return;
      }
      if (tried.size > 0) {
        this.counters.retries++;
        this.#options.logger.info("connection.retry", `connection for ${routingKey} tried again at ${destination.site}: ${lastReason}`, { routingKey });
      }
      tried.add(destination.site);
      if (destination.site === this.#options.site) {
        this.#connectLocally(routingKey, client, counters, retryOrFail);
        return;
      }
      let stream: MuxStream;
      try {
        stream = this.#open(routingKey, destination);
      } catch (err) {
        if (err instanceof StreamLimitError) this.counters.limitRefusals++;
        retryOrFail(`${destination.site}: ${errorMessage(err)}`);
        return;
      }
      this.#track(destination.site, +1);
      let accepted = false;
      /** The client went away before the far end accepted: this attempt is over, and there is no next one. */
      let abandoned = false;
      stream.setHandlers({
        data: () => {},
        end: () => {},
        drain: () => {},
        accepted: () => {
          if (abandoned) return;
          accepted = true;
          this.#earlyClients.delete(client);
          client.forgetKept();
          this.#activeBridges++;
          bridgeSocketToStream(
            client,
            stream,
            {
              done: () => {
                counters.active--;
                this.#track(destination.site, -1);
                this.#activeBridges--;
              },
            },
            this.#socketBacklog,
          );
        },
        reset: (code, reason) => {
          if (accepted || abandoned) return;
          client.detach();
          this.#track(destination.site, -1);
          const why = reason.startsWith(destination.site) ? reason : `${destination.site}: ${reason}`;
          if (!RETRYABLE.has(code)) fail(why);
          else if (MAY_HAVE_DELIVERED.has(code) && client.keptBytes > 0) {
            fail(`${why}; not tried elsewhere, as the server there may have received the client's first ${client.keptBytes} bytes`);
          } else retryOrFail(why);
        },
      });
      // Read no faster than the link sends, as the bridge will (bridgeSocketToStream).
      stream.paceToLink();
      this.#earlyClients.add(client);
      client.readEarly({
        data: (chunk) => void stream.write(chunk),
        end: () => stream.end(),
        closed: (error) => {
          abandoned = true;
          this.#earlyClients.delete(client);
          client.detach();
          const reason = error ? `connection error: ${error.message}` : "the client closed its connection before the far end accepted it";
          stream.reset(ResetCode.Cancelled, reason);
          counters.active--;
          this.#track(destination.site, -1);
        },
      });
    };
    counters.connections++;
    counters.active++;
    const full = this.#overPendingLimit();
    if (full !== undefined) {
      this.counters.limitRefusals++;
      fail(full);
      return;
    }
    attempt();
  }

  /** A stream arrived on a link: dial our connector, or pass it to the next hop. */
  acceptStream(_session: LinkSession, stream: MuxStream, open: Open): void {
    const [here, ...rest] = open.path;
    if (here !== this.#options.site) {
      this.#refuse(stream, ResetCode.Protocol, `stream addressed to ${here} arrived at ${this.#options.site}`);
      return;
    }
    const full = this.#overPendingLimit();
    if (full !== undefined) {
      this.counters.limitRefusals++;
      this.#refuse(stream, ResetCode.Limit, full);
      return;
    }
    if (rest.length === 0) {
      this.#dialConnector(open.routingKey, stream, open.origin);
      return;
    }
    const next = rest[0]!;
    const entry = this.#bestSession(next);
    if (entry === undefined) {
      this.#refuse(stream, ResetCode.NoRoute, `${this.#options.site} has no link to ${next} any more`);
      return;
    }
    let outbound: MuxStream;
    try {
      outbound = entry.session.openStream({ ...open, path: rest });
    } catch (err) {
      if (err instanceof StreamLimitError) this.counters.limitRefusals++;
      this.#refuse(stream, ResetCode.Limit, `${this.#options.site} cannot open a stream to ${next}: ${errorMessage(err)}`);
      return;
    }
    this.counters.streamsForwarded++;
    this.#activeBridges++;
    bridgeStreams(stream, outbound, { done: () => this.#activeBridges-- });
  }

  // ---- internals ----

  #overPendingLimit(): string | undefined {
    const max = this.maxPendingBytes;
    const pending = this.pendingBytes;
    if (pending < max) return undefined;
    return `site ${this.#options.site} is at its limit of ${mib(max)} held for connections whose readers are slow (${mib(pending)} now); try again later`;
  }

  #refuse(stream: MuxStream, code: number, reason: string): void {
    this.counters.streamsRefused++;
    this.#options.logger.warn("stream.refused", `refused a stream (${resetCodeName(code)}): ${reason}`);
    stream.reset(code, reason);
  }

  /** Sites that serve the key and can be reached now, with their balancing inputs. */
  #candidates(routingKey: string, exclude: Set<string>): (Candidate & { route: Route })[] {
    const found: (Candidate & { route: Route })[] = [];
    for (const { route, connectors } of this.topology.sitesServing(routingKey)) {
      if (exclude.has(route.site)) continue;
      if (route.site !== this.#options.site && this.#bestSession(route.path[0]!) === undefined) continue;
      found.push({ site: route.site, cost: route.cost, connectors, outstanding: this.#outstanding.get(route.site) ?? 0, route });
    }
    return found;
  }

  #choose(routingKey: string, exclude: Set<string>): Route | undefined {
    return chooseBalanced(this.#candidates(routingKey, exclude), this.#options.random)?.route;
  }

  #open(routingKey: string, route: Route): MuxStream {
    const entry = this.#bestSession(route.path[0]!);
    if (entry === undefined) throw new Error(`no link to ${route.path[0]}`);
    return entry.session.openStream({ routingKey, origin: this.#options.site, path: route.path });
  }

  /** Of several links to one peer, the cheapest, then the least busy. */
  #bestSession(peer: string): SessionEntry | undefined {
    let best: SessionEntry | undefined;
    for (const entry of this.#sessions.get(peer) ?? []) {
      if (entry.session.state !== "ready") continue;
      if (best === undefined || entry.cost < best.cost || (entry.cost === best.cost && entry.session.streamCount < best.session.streamCount)) {
        best = entry;
      }
    }
    return best;
  }

  #track(site: string, delta: number): void {
    const value = (this.#outstanding.get(site) ?? 0) + delta;
    if (value <= 0) this.#outstanding.delete(site);
    else this.#outstanding.set(site, value);
  }

  /**
   * Dial a local connector for `routingKey`: the least loaded first, and each
   * of the others in turn when one cannot reach its server.
   */
  #dialLocal(routingKey: string, forWhom: string, connected: (socket: TcpSocket, connector: ConnectorStats) => void, failed: (reason: string) => void): void {
    const tried = new Set<ConnectorStats>();
    let lastReason = `${this.#options.site} has no connector for routing key "${routingKey}"`;
    const next = () => {
      const connector = pickLeastLoaded(this.#connectors.filter((c) => c.routingKey === routingKey && !tried.has(c)));
      if (connector === undefined) {
        failed(lastReason);
        return;
      }
      tried.add(connector);
      connector.connections++;
      connector.active++;
      this.#options.dial(connector.host, connector.port).then(
        (socket) => connected(socket, connector),
        (err) => {
          connector.active--;
          connector.errors++;
          connector.lastError = errorMessage(err);
          lastReason = `connector ${connector.name} on ${this.#options.site}: ${connector.lastError}`;
          this.#options.logger.warn(
            "connector.dial_failed",
            `connector ${connector.name} (${routingKey}) could not reach ${connector.host}:${connector.port} for a client of ${forWhom}: ${connector.lastError}`,
            { connector: connector.name, routingKey },
          );
          next();
        },
      );
    };
    next();
  }

  #dialConnector(routingKey: string, stream: MuxStream, origin: string): void {
    // Until the dial ends the stream holds what came with it (early-client.ts), as much as its window allows.
    this.#dialing.add(stream);
    this.#dialLocal(
      routingKey,
      origin,
      (socket, connector) => {
        this.#dialing.delete(stream);
        if (stream.isDone) {
          socket.destroy();
          connector.active--;
          return;
        }
        stream.accept();
        this.#activeBridges++;
        bridgeSocketToStream(
          socket,
          stream,
          {
            done: () => {
              connector.active--;
              this.#activeBridges--;
            },
          },
          this.#socketBacklog,
        );
      },
      (reason) => {
        this.#dialing.delete(stream);
        if (this.#connectors.some((c) => c.routingKey === routingKey)) stream.reset(ResetCode.ConnectFailed, reason);
        else this.#refuse(stream, ResetCode.NoRoute, reason);
      },
    );
  }

  #connectLocally(routingKey: string, client: EarlyClient, counters: ListenerCounters, retry: (reason: string) => void): void {
    const self = this.#options.site;
    this.#track(self, +1);
    this.#dialLocal(
      routingKey,
      self,
      (server, connector) => {
        this.#earlyClients.delete(client);
        this.#activeBridges++;
        bridgeSockets(
          client,
          server,
          {
            done: () => {
              connector.active--;
              counters.active--;
              this.#track(self, -1);
              this.#activeBridges--;
            },
          },
          this.#socketBacklog,
        );
      },
      (reason) => {
        this.#track(self, -1);
        retry(reason);
      },
    );
  }

  #advertiseLocal(): void {
    const links = new Map<string, number>();
    for (const [peer, entries] of this.#sessions) {
      for (const e of entries) {
        if (e.session.state === "ready") links.set(peer, Math.min(links.get(peer) ?? Number.POSITIVE_INFINITY, e.cost));
      }
    }
    const services = new Map<string, number>();
    for (const c of this.#connectors) services.set(c.routingKey, (services.get(c.routingKey) ?? 0) + 1);
    const listeners = new Map<string, number>();
    for (const l of this.#listeners) listeners.set(l.routingKey, (listeners.get(l.routingKey) ?? 0) + 1);
    // Time-based sequence numbers: a restarted site's adverts are newer than its old ones.
    this.#seq = Math.max(this.#seq + 1, Date.now());
    const advert: Advert = {
      site: this.#options.site,
      seq: this.#seq,
      runtime: this.#options.runtime,
      version: this.#options.version,
      links: [...links].map(([site, cost]) => ({ site, cost })),
      services: [...services].map(([routingKey, connectors]) => ({ routingKey, connectors })),
      listeners: [...listeners].map(([routingKey, count]) => ({ routingKey, listeners: count })),
    };
    this.topology.setLocal(advert);
    this.#flood(advert, undefined);
    this.#routesMaybeChanged();
  }

  /** Log what changed in the route table since the last look (people and scripts read it). */
  #routesMaybeChanged(): void {
    const routes = this.topology.routes();
    if (routes === this.#routes) return;
    const { gained, lost, changed } = diffRoutes(this.#routes, routes);
    const first = this.#routes.size === 0;
    this.#routes = routes;
    if (first) return; // the table of this site alone, at start
    if (gained.length + lost.length + changed.length === 0) return;
    const parts = [`${routes.size - 1} other site${routes.size === 2 ? "" : "s"} reachable`];
    if (gained.length > 0) parts.push(`reachable now: ${gained.join(", ")}`);
    if (lost.length > 0) parts.push(`unreachable now: ${lost.join(", ")}`);
    if (changed.length > 0) parts.push(`new paths to: ${changed.join(", ")}`);
    this.#options.logger.info("routes.changed", `routes changed: ${parts.join("; ")}`);
  }

  #flood(advert: Advert, except: LinkSession | undefined): void {
    const payload = encodeJson(advert);
    for (const entries of this.#sessions.values()) {
      for (const { session } of entries) if (session !== except) session.sendAdvert(payload);
    }
  }
}

function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

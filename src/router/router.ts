// The router of one site: floods adverts, keeps the topology, picks a
// destination site for each new connection, carries streams hop by hop,
// and dials local connectors for streams that end here.

import type { Logger } from "../core/logger.ts";
import { errorMessage, ProtocolError } from "../errors.ts";
import type { LinkSession } from "../link/session.ts";
import type { MuxStream } from "../mux/mux.ts";
import { decodeJson, encodeJson } from "../protocol/frames.ts";
import { type Open, ResetCode, resetCodeName } from "../protocol/messages.ts";
import type { TcpSocket } from "../platform/types.ts";
import { bridgeSocketToStream, bridgeSockets, bridgeStreams } from "./bridge.ts";
import { type Advert, AdvertSchema, type Route, Topology } from "./topology.ts";

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
  /** How many sites a connection tries before giving up when connectors refuse. */
  maxConnectAttempts?: number;
}

interface SessionEntry {
  session: LinkSession;
  cost: number;
}

export interface RouterCounters {
  streamsForwarded: number;
  streamsRefused: number;
  noRoute: number;
  retries: number;
}

export class Router {
  readonly #options: RouterOptions;
  readonly topology: Topology;
  readonly #sessions = new Map<string, SessionEntry[]>();
  readonly #connectors: ConnectorStats[] = [];
  /** Connections in flight per destination site, for balancing. */
  readonly #outstanding = new Map<string, number>();
  #seq = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  readonly counters: RouterCounters = { streamsForwarded: 0, streamsRefused: 0, noRoute: 0, retries: 0 };

  constructor(options: RouterOptions) {
    this.#options = options;
    this.topology = new Topology(options.site, options.advertIntervalMs * 3.5);
    this.#advertiseLocal();
  }

  start(): void {
    this.#timer = setInterval(() => {
      const dropped = this.topology.expire(Date.now());
      for (const site of dropped) this.#options.logger.info("route.expired", `site ${site} is gone: its advert was not refreshed`, { peer: site });
      this.#advertiseLocal();
    }, this.#options.advertIntervalMs);
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
  }

  addConnector(spec: ConnectorSpec): void {
    this.#connectors.push({ ...spec, active: 0, connections: 0, errors: 0 });
    this.#advertiseLocal();
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

  // ---- links ----

  /** A link is ready: share everything we know, and announce the new link. */
  addSession(session: LinkSession, cost: number): void {
    const peer = session.peer!.site;
    const list = this.#sessions.get(peer) ?? [];
    list.push({ session, cost });
    this.#sessions.set(peer, list);
    for (const advert of this.topology.adverts()) {
      if (advert.site !== this.#options.site) session.sendAdvert(encodeJson(advert));
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
    if (!this.topology.accept(advert, Date.now())) return;
    this.#flood(advert, from);
  }

  // ---- connections ----

  /**
   * A client connected to a listener for `routingKey`: find a site that
   * serves the key and carry the connection there. The socket is read only
   * once the far end has reached its server, so a refused dial can be retried
   * elsewhere without losing a byte.
   */
  connect(routingKey: string, socket: TcpSocket, counters: ListenerCounters): void {
    const tried = new Set<string>();
    const attempts = this.#options.maxConnectAttempts ?? 3;
    const fail = (reason: string) => {
      counters.failed++;
      counters.lastError = reason;
      counters.active--;
      socket.destroy();
      this.#options.logger.warn("connection.failed", `connection for ${routingKey} from ${socket.remoteAddress}:${socket.remotePort} failed: ${reason}`, {
        routingKey,
      });
    };
    const attempt = (lastReason?: string) => {
      const destination = this.#choose(routingKey, tried);
      if (destination === undefined) {
        if (lastReason === undefined) this.counters.noRoute++;
        fail(lastReason ?? `no reachable site serves routing key "${routingKey}"`);
        return;
      }
      if (tried.size > 0) this.counters.retries++;
      tried.add(destination.site);
      if (destination.site === this.#options.site) {
        this.#connectLocally(routingKey, socket, counters, (reason) => (tried.size < attempts ? attempt(reason) : fail(reason)));
        return;
      }
      let stream: MuxStream;
      try {
        stream = this.#open(routingKey, destination);
      } catch (err) {
        attempt(errorMessage(err));
        return;
      }
      this.#track(destination.site, +1);
      let accepted = false;
      stream.setHandlers({
        data: () => {},
        end: () => {},
        drain: () => {},
        accepted: () => {
          accepted = true;
          bridgeSocketToStream(socket, stream, {
            done: () => {
              counters.active--;
              this.#track(destination.site, -1);
            },
          });
        },
        reset: (code, reason) => {
          if (accepted) return;
          this.#track(destination.site, -1);
          const why = `${destination.site}: ${reason}`;
          if (code === ResetCode.ConnectFailed && tried.size < attempts) attempt(why);
          else fail(why);
        },
      });
    };
    counters.connections++;
    counters.active++;
    attempt();
  }

  /** A stream arrived on a link: dial our connector, or pass it to the next hop. */
  acceptStream(session: LinkSession, stream: MuxStream, open: Open): void {
    const [here, ...rest] = open.path;
    if (here !== this.#options.site) {
      this.#refuse(stream, ResetCode.Protocol, `stream addressed to ${here} arrived at ${this.#options.site}`);
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
      this.#refuse(stream, ResetCode.Limit, `${this.#options.site} cannot open a stream to ${next}: ${errorMessage(err)}`);
      return;
    }
    this.counters.streamsForwarded++;
    bridgeStreams(stream, outbound, { done: () => {} });
    void session;
  }

  // ---- internals ----

  #refuse(stream: MuxStream, code: number, reason: string): void {
    this.counters.streamsRefused++;
    this.#options.logger.warn("stream.refused", `refused a stream (${resetCodeName(code)}): ${reason}`);
    stream.reset(code, reason);
  }

  /** Balanced choice: lowest (path cost + load per connector); ties broken at random. */
  #choose(routingKey: string, exclude: Set<string>): Route | undefined {
    let best: Route[] = [];
    let bestScore = Number.POSITIVE_INFINITY;
    for (const { route, connectors } of this.topology.sitesServing(routingKey)) {
      if (exclude.has(route.site)) continue;
      if (route.site !== this.#options.site && this.#bestSession(route.path[0]!) === undefined) continue;
      const score = route.cost + (this.#outstanding.get(route.site) ?? 0) / connectors;
      if (score < bestScore) {
        best = [route];
        bestScore = score;
      } else if (score === bestScore) best.push(route);
    }
    if (best.length === 0) return undefined;
    return best[Math.floor(Math.random() * best.length)];
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

  /** The least busy local connector for a key. */
  #pickConnector(routingKey: string): ConnectorStats | undefined {
    let best: ConnectorStats | undefined;
    for (const c of this.#connectors) {
      if (c.routingKey !== routingKey) continue;
      if (best === undefined || c.active < best.active) best = c;
    }
    return best;
  }

  #dialConnector(routingKey: string, stream: MuxStream, origin: string): void {
    const connector = this.#pickConnector(routingKey);
    if (connector === undefined) {
      this.#refuse(stream, ResetCode.NoRoute, `${this.#options.site} has no connector for routing key "${routingKey}"`);
      return;
    }
    connector.connections++;
    connector.active++;
    this.#options.dial(connector.host, connector.port).then(
      (socket) => {
        if (stream.isDone) {
          socket.destroy();
          connector.active--;
          return;
        }
        stream.accept();
        bridgeSocketToStream(socket, stream, { done: () => connector.active-- });
      },
      (err) => {
        connector.active--;
        connector.errors++;
        connector.lastError = errorMessage(err);
        this.#options.logger.warn(
          "connector.dial_failed",
          `connector ${connector.name} (${routingKey}) could not reach ${connector.host}:${connector.port} for a client of ${origin}: ${connector.lastError}`,
          { connector: connector.name, routingKey },
        );
        stream.reset(ResetCode.ConnectFailed, `connector ${connector.name} on ${this.#options.site}: ${connector.lastError}`);
      },
    );
  }

  #connectLocally(routingKey: string, client: TcpSocket, counters: ListenerCounters, retry: (reason: string) => void): void {
    const connector = this.#pickConnector(routingKey)!;
    connector.connections++;
    connector.active++;
    this.#track(this.#options.site, +1);
    this.#options.dial(connector.host, connector.port).then(
      (server) => {
        bridgeSockets(client, server, {
          done: () => {
            connector.active--;
            counters.active--;
            this.#track(this.#options.site, -1);
          },
        });
      },
      (err) => {
        connector.active--;
        connector.errors++;
        connector.lastError = errorMessage(err);
        this.#track(this.#options.site, -1);
        this.#options.logger.warn("connector.dial_failed", `connector ${connector.name} (${routingKey}) could not reach ${connector.host}:${connector.port}: ${connector.lastError}`, {
          connector: connector.name,
          routingKey,
        });
        retry(`connector ${connector.name} on ${this.#options.site}: ${connector.lastError}`);
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
    // Time-based sequence numbers: a restarted site's adverts are newer than its old ones.
    this.#seq = Math.max(this.#seq + 1, Date.now());
    const advert: Advert = {
      site: this.#options.site,
      seq: this.#seq,
      runtime: this.#options.runtime,
      version: this.#options.version,
      links: [...links].map(([site, cost]) => ({ site, cost })),
      services: [...services].map(([routingKey, connectors]) => ({ routingKey, connectors })),
    };
    this.topology.setLocal(advert);
    this.#flood(advert, undefined);
  }

  #flood(advert: Advert, except: LinkSession | undefined): void {
    const payload = encodeJson(advert);
    for (const entries of this.#sessions.values()) {
      for (const { session } of entries) if (session !== except) session.sendAdvert(payload);
    }
  }
}

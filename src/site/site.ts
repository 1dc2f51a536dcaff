// One running site: binds listeners, accepts and dials links, runs the
// router and the local admin endpoint, and stops all of it cleanly.

import type { Logger } from "../core/logger.ts";
import type { SiteConfig } from "../config/load.ts";
import { errorMessage, ErrorCode, SkiffError } from "../errors.ts";
import { type MessageChannel, WebSocketPipe } from "../link/channel.ts";
import { type ChannelSetup, LinkDialer } from "../link/dialer.ts";
import { isLoopback, plaintextRefusal, plaintextSetup } from "../link/plaintext.ts";
import { LinkSession } from "../link/session.ts";
import { MAX_MESSAGE_BYTES } from "../protocol/frames.ts";
import { LinkCloseCode } from "../protocol/messages.ts";
import type { HttpServer, Platform, RequestInfo, TcpListener, WebSocketHandlers } from "../platform/types.ts";
import { type ListenerCounters, Router } from "../router/router.ts";
import { createAdminApp } from "../api/admin.ts";
import { createLinkApp, LINK_PATH } from "../api/links.ts";
import { StateDir } from "./state.ts";
import { buildStatus, type SiteStatus } from "./status.ts";

export const SKIFF_VERSION = "0.1.0";

/** Room for the record layer's header and tag around a full link message. */
const MAX_WIRE_MESSAGE = MAX_MESSAGE_BYTES + 1024;
const ADVERT_INTERVAL_MS = 10_000;

export interface SiteOptions {
  platform: Platform;
  config: SiteConfig;
  logger: Logger;
  /** How links protect their messages. Defaults to plaintext, on loopback only. */
  channelSetup?: ChannelSetup;
}

export interface ListenerState {
  name: string;
  routingKey: string;
  host: string;
  port: number;
  counters: ListenerCounters;
}

export interface IncomingLink {
  session: LinkSession;
  remoteAddress: string;
}

export class Site {
  readonly config: SiteConfig;
  readonly platform: Platform;
  readonly logger: Logger;
  readonly router: Router;
  readonly state: StateDir;
  readonly startedAt = new Date();
  readonly listeners: ListenerState[] = [];
  readonly dialers: LinkDialer[] = [];
  readonly incoming = new Set<IncomingLink>();
  readonly #sessions = new Set<LinkSession>();
  readonly #dialerSessions = new Map<LinkDialer, LinkSession>();
  readonly #tcpListeners: TcpListener[] = [];
  readonly #servers: HttpServer[] = [];
  readonly #setup: ChannelSetup;
  #linkServer: HttpServer | undefined;
  #adminUrl: string | undefined;
  #stopping: Promise<void> | undefined;

  private constructor(options: SiteOptions) {
    this.config = options.config;
    this.platform = options.platform;
    this.logger = options.logger.with({ site: options.config.site.name });
    this.state = new StateDir(options.platform, options.config.site.stateDir);
    this.#setup = options.channelSetup ?? plaintextSetup;
    this.router = new Router({
      site: options.config.site.name,
      runtime: options.platform.runtime,
      version: SKIFF_VERSION,
      logger: this.logger,
      dial: (hostname, port) => options.platform.dialTcp({ hostname, port, timeoutMs: 10_000 }),
      advertIntervalMs: ADVERT_INTERVAL_MS,
    });
  }

  /** Start a site from its configuration. On failure everything started is stopped again. */
  static async start(options: SiteOptions): Promise<Site> {
    const site = new Site(options);
    try {
      await site.#start();
    } catch (err) {
      await site.stop();
      throw err;
    }
    return site;
  }

  get linkUrl(): string | undefined {
    const access = this.config.routerAccess;
    if (access === undefined || this.#linkServer === undefined) return undefined;
    // publicUrl names the site's base (e.g. wss://edge.example.com/skiff); links live under /v1/link.
    if (this.config.site.publicUrl !== undefined) return this.config.site.publicUrl + "/v1/link";
    const host = access.bindHost === "0.0.0.0" || access.bindHost === "::" ? "127.0.0.1" : access.bindHost;
    return `ws://${host}:${this.#linkServer.port}${LINK_PATH}`;
  }

  get adminUrl(): string | undefined {
    return this.#adminUrl;
  }

  /** The live session of an outgoing link, if it is up. */
  sessionFor(dialer: LinkDialer): LinkSession | undefined {
    const session = this.#dialerSessions.get(dialer);
    return session?.state === "closed" ? undefined : session;
  }

  status(): SiteStatus {
    return buildStatus(this);
  }

  /** Close listeners, links and servers; connections in flight are reset. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #start(): Promise<void> {
    const { config, platform, logger } = this;
    await this.state.prepare();

    for (const connector of config.connectors) {
      this.router.addConnector(connector);
      logger.info("connector.added", `connector ${connector.name} serves ${connector.routingKey} from ${connector.host}:${connector.port}`, {
        connector: connector.name,
      });
    }

    if (config.routerAccess !== undefined) {
      const access = config.routerAccess;
      this.#linkServer = await this.#serve("link port", {
        hostname: access.bindHost,
        port: access.port,
        maxMessageBytes: MAX_WIRE_MESSAGE,
        fetch: createLinkApp().fetch,
        upgrade: (request, info) => this.#acceptLink(request, info),
      });
      logger.info("links.accepting", `accepting links on ${access.bindHost}:${this.#linkServer.port} (${this.linkUrl})`);
    }

    for (const listener of config.listeners) {
      const counters: ListenerCounters = { connections: 0, active: 0, failed: 0 };
      let tcp: TcpListener;
      try {
        tcp = await platform.listenTcp({ hostname: listener.host, port: listener.port }, (socket) =>
          this.router.connect(listener.routingKey, socket, counters),
        );
      } catch (err) {
        throw new SkiffError(ErrorCode.Connect, `listener ${listener.name} cannot listen on ${listener.host}:${listener.port}: ${errorMessage(err)}`);
      }
      this.#tcpListeners.push(tcp);
      this.listeners.push({ ...listener, port: tcp.port, counters });
      logger.info("listener.bound", `listener ${listener.name} for ${listener.routingKey} is listening on ${listener.host}:${tcp.port}`, {
        listener: listener.name,
      });
    }

    for (const link of config.links) {
      const caCertificates = link.caFile === undefined ? undefined : [await platform.readTextFile(link.caFile)];
      const dialer = new LinkDialer({
        name: link.name,
        url: link.url,
        caCertificates,
        platform,
        setup: this.#setup,
        logger,
        precheck: this.#setup === plaintextSetup ? () => plaintextRefusal(link.url) : undefined,
        run: (channel, peerSite, onReady) => {
          const session = this.#runSession(channel, "dialer", link.cost, peerSite, onReady);
          this.#dialerSessions.set(dialer, session);
          return session.closed;
        },
      });
      this.dialers.push(dialer);
      dialer.start();
    }

    await this.#startAdmin();
    this.router.start();
    logger.info(
      "site.started",
      `site ${config.site.name} is running on ${platform.runtime} ${platform.version}: ` +
        `${config.listeners.length} listener(s), ${config.connectors.length} connector(s), ${config.links.length} link(s)`,
    );
  }

  async #startAdmin(): Promise<void> {
    const secret = await this.state.newAdminSecret();
    const server = await this.#serve("admin endpoint", {
      hostname: "127.0.0.1",
      port: this.config.site.adminPort,
      maxMessageBytes: 1024,
      fetch: createAdminApp({ secret, site: this }).fetch,
      upgrade: () => new Response("not found", { status: 404 }),
    });
    this.#adminUrl = `http://127.0.0.1:${server.port}`;
    await this.state.writeAdminEndpoint({
      url: this.#adminUrl,
      site: this.config.site.name,
      startedAt: this.startedAt.toISOString(),
    });
  }

  async #serve(what: string, options: Parameters<Platform["serveHttp"]>[0]): Promise<HttpServer> {
    try {
      const server = await this.platform.serveHttp(options);
      this.#servers.push(server);
      return server;
    } catch (err) {
      throw new SkiffError(ErrorCode.Connect, `cannot serve the ${what} on ${options.hostname}:${options.port}: ${errorMessage(err)}`);
    }
  }

  #acceptLink(request: Request, info: RequestInfo): WebSocketHandlers | Response {
    const path = new URL(request.url).pathname;
    if (path !== LINK_PATH) return new Response(`no link endpoint at ${path}; links use ${LINK_PATH}\n`, { status: 404 });
    if (this.#stopping !== undefined) return new Response("site is shutting down\n", { status: 503 });
    if (this.#setup === plaintextSetup && !isLoopback(info.remoteAddress)) {
      this.logger.warn("link.refused", `refused a plaintext link from ${info.remoteAddress}: plaintext links are allowed on loopback only`);
      return new Response("plaintext links are allowed on loopback only\n", { status: 403 });
    }
    const pipe = new WebSocketPipe();
    const handlers = pipe.handlers;
    return {
      ...handlers,
      open: (conn) => {
        handlers.open(conn);
        this.#setup(pipe, conn, "acceptor").then(
          ({ channel, peerSite }) => {
            const session = this.#runSession(channel, "acceptor", 1, peerSite, (peer) => {
              this.logger.info("link.up", `accepted a link from site ${peer} (${info.remoteAddress})`, { peer });
            });
            const entry: IncomingLink = { session, remoteAddress: info.remoteAddress };
            this.incoming.add(entry);
            void session.closed.then((reason) => {
              this.incoming.delete(entry);
              this.logger.info("link.down", `link from site ${session.peer?.site ?? info.remoteAddress} is down: ${reason}`);
            });
          },
          (err) => {
            this.logger.warn("link.refused", `link handshake from ${info.remoteAddress} failed: ${errorMessage(err)}`);
            conn.close(LinkCloseCode.PolicyViolation, errorMessage(err).slice(0, 120));
          },
        );
      },
    };
  }

  /** Start a link session on an established channel. */
  #runSession(
    channel: MessageChannel,
    role: "dialer" | "acceptor",
    cost: number,
    peerSite: string | undefined,
    onReady: (peer: string) => void,
  ): LinkSession {
    const { site } = this.config;
    const session = new LinkSession({
      channel,
      role,
      local: { name: site.name, runtime: this.platform.runtime, version: SKIFF_VERSION },
      expectedPeer: peerSite,
      windowBytes: site.streamWindowBytes,
      maxStreams: site.maxStreamsPerLink,
      linkCost: role === "dialer" ? cost : undefined,
      keepaliveIntervalMs: site.keepaliveIntervalMs,
      keepaliveTimeoutMs: site.keepaliveTimeoutMs,
      logger: this.logger,
      events: {
        ready: (s) => {
          this.router.addSession(s, role === "acceptor" ? (s.peer!.linkCost ?? 1) : cost);
          onReady(s.peer!.site);
        },
        stream: (s, stream, open) => this.router.acceptStream(s, stream, open),
        advert: (s, payload) => this.router.receiveAdvert(s, payload),
        closed: (s) => {
          this.#sessions.delete(s);
          this.router.removeSession(s);
        },
      },
    });
    this.#sessions.add(session);
    if (this.#stopping !== undefined) session.destroy(LinkCloseCode.GoingAway, "site is shutting down");
    else session.start();
    return session;
  }

  async #stop(): Promise<void> {
    const { logger } = this;
    logger.info("site.stopping", `site ${this.config.site.name} is stopping`);
    this.router.stop();
    await Promise.allSettled(this.#tcpListeners.map((l) => l.close()));
    for (const dialer of this.dialers) dialer.stop();
    const closing = [...this.#sessions].map((session) => {
      session.close(`site ${this.config.site.name} is shutting down`);
      return session.closed;
    });
    await Promise.all(closing); // each close gives up waiting for the peer after a short flush timeout
    await Promise.allSettled(this.#servers.map((s) => s.close()));
    await this.state.clearAdminEndpoint().catch(() => {});
    logger.info("site.stopped", `site ${this.config.site.name} stopped`);
  }
}

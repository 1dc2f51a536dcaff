// One running site: binds listeners, accepts and dials secure links, runs the
// router, grants tokens and serves the local admin endpoint, and stops all of
// it cleanly.

import type { Logger } from "../core/logger.ts";
import { parseAccessTokens, type AccessTokenConfig, type LinkConfig, type SiteConfig } from "../config/load.ts";
import { ErrorCode, errorMessage, SkiffError } from "../errors.ts";
import { type MessageChannel, WebSocketPipe } from "../link/channel.ts";
import { type ChannelSetup, LinkDialer } from "../link/dialer.ts";
import { establishSecureChannel } from "../link/secure-channel.ts";
import { LinkSession } from "../link/session.ts";
import { FrameType } from "../protocol/frames.ts";
import { LinkCloseCode } from "../protocol/messages.ts";
import type { HttpServer, Platform, RequestInfo, TcpListener, WebSocketHandlers } from "../platform/types.ts";
import { type ListenerCounters, Router } from "../router/router.ts";
import { createAdminApp, type TokenRequest } from "../api/admin.ts";
import { createLinkApp, LINK_PATH } from "../api/links.ts";
import { maxRecordBytes } from "../link/records.ts";
import { recordCipherChoice } from "../platform/aead.ts";
import type { PeerCertificate } from "../ca/validate.ts";
import { issueTlsServerCertificate } from "../ca/site-ca.ts";
import { parseDuration } from "../config/duration.ts";
import { GrantStore, RateLimiter } from "./grants.ts";
import { DEFAULT_LINK_CERT_VALIDITY_MS, SiteIdentity, type StoredLink } from "./identity.ts";
import { redeemToken, tokenFingerprint } from "./redeem.ts";
import { answerCertRequest, CertificateRenewer } from "./renewal.ts";
import { Revocations } from "./revocations.ts";
import { StateDir } from "./state.ts";
import { buildStatus, type SiteStatus } from "./status.ts";
import { TokenGranting } from "./granting.ts";

export const SKIFF_VERSION = "0.1.0";

const ADVERT_INTERVAL_MS = 10_000;
/** A link handshake that has not finished by then is dropped (Site settings: link-handshake-timeout). */
const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
/** Lifetime of a generated link-port TLS certificate; it is made anew at every start. */
const GENERATED_TLS_VALIDITY_MS = 90 * 24 * 3_600_000;
/** Handshakes in progress at once; more are refused until some finish. */
const MAX_PENDING_HANDSHAKES = 64;

export interface SiteOptions {
  platform: Platform;
  config: SiteConfig;
  logger: Logger;
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
  peerCertificate: PeerCertificate;
}

export interface OutgoingLink {
  dialer: LinkDialer;
  /** Credentials from a redeemed token; undefined until there are some. */
  stored?: StoredLink;
  session?: LinkSession;
  peerCertificate?: PeerCertificate;
  certificateExpires?: Date;
  renewer: CertificateRenewer;
}

export class Site {
  readonly config: SiteConfig;
  readonly platform: Platform;
  readonly logger: Logger;
  readonly router: Router;
  readonly state: StateDir;
  readonly startedAt = new Date();
  readonly listeners: ListenerState[] = [];
  readonly outgoing = new Map<string, OutgoingLink>();
  readonly incoming = new Set<IncomingLink>();
  identity!: SiteIdentity;
  #granting: TokenGranting | undefined;
  #revocations: Revocations | undefined;
  /** Redemption attempts per source address: enough for a burst of sites behind one NAT, too few to guess codes. */
  readonly #redeemLimiter = new RateLimiter({ attempts: 30, perMs: 60_000 });
  readonly #sessions = new Set<LinkSession>();
  /** Who answers certificate renewal frames on each session (the dialer's renewer, or the CA). */
  readonly #certificateHandlers = new WeakMap<LinkSession, (type: FrameType, payload: Uint8Array) => void>();
  readonly #tcpListeners: TcpListener[] = [];
  readonly #servers: HttpServer[] = [];
  #pendingHandshakes = 0;
  #handshakeTimeoutMs = DEFAULT_HANDSHAKE_TIMEOUT_MS;
  #linkServer: HttpServer | undefined;
  #adminUrl: string | undefined;
  #stopping: Promise<void> | undefined;

  private constructor(options: SiteOptions) {
    this.config = options.config;
    this.platform = options.platform;
    this.logger = options.logger.with({ site: options.config.site.name });
    this.state = new StateDir(options.platform, options.config.site.stateDir);
    this.router = new Router({
      site: options.config.site.name,
      runtime: options.platform.runtime,
      version: SKIFF_VERSION,
      logger: this.logger,
      dial: (hostname, port) => options.platform.dialTcp({ hostname, port, timeoutMs: 10_000 }),
      advertIntervalMs: ADVERT_INTERVAL_MS,
      maxPendingBytes: options.config.site.maxPendingBytes,
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

  /** Where other sites reach this site's link endpoint. */
  get linkUrl(): string | undefined {
    const access = this.config.routerAccess;
    if (access === undefined || this.#linkServer === undefined) return undefined;
    // publicUrl names the site's base (e.g. wss://edge.example.com/skiff); links live under /v1/link.
    if (this.config.site.publicUrl !== undefined) return this.config.site.publicUrl + "/v1/link";
    const host = access.bindHost === "0.0.0.0" || access.bindHost === "::" ? "127.0.0.1" : access.bindHost;
    const scheme = access.tls === undefined && access.generatedTls === undefined ? "ws" : "wss";
    return `${scheme}://${host.includes(":") ? `[${host}]` : host}:${this.#linkServer.port}${LINK_PATH}`;
  }

  get adminUrl(): string | undefined {
    return this.#adminUrl;
  }

  /** Link handshakes in progress (each is dropped at the handshake timeout). */
  get pendingHandshakes(): number {
    return this.#pendingHandshakes;
  }

  status(): SiteStatus {
    return buildStatus(this);
  }

  /** Close listeners, links and servers; connections in flight are reset. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  // ---- tokens ----

  /** Make a grant and the AccessToken that redeems it (the admin endpoint's `POST /v1/tokens`). */
  issueToken(request: TokenRequest): Promise<{ token: string; expiresAt: string; redemptionsAllowed: number }> {
    if (this.#granting === undefined) {
      throw new SkiffError(ErrorCode.Token, `site ${this.config.site.name} does not accept links; add a RouterAccess (or linkAccess: default) to issue tokens`);
    }
    return this.#granting.issue(request);
  }

  /** Redeem AccessToken YAML and start its link at once (`POST /v1/redeem`). */
  async redeemTokenText(text: string, file: string): Promise<{ links: { name: string; peer: string }[] }> {
    const tokens = parseAccessTokens(file, text);
    const links: { name: string; peer: string }[] = [];
    for (const token of tokens) {
      const stored = await this.#redeem(token);
      links.push({ name: stored.name, peer: stored.peerSite });
    }
    return { links };
  }

  /** Refuse `site` from now on and close its links (`POST /v1/revoke`). */
  async revoke(site: string): Promise<{ closedLinks: number }> {
    if (this.#revocations === undefined) throw new SkiffError(ErrorCode.Usage, `site ${this.config.site.name} does not accept links, so there is nothing to revoke`);
    await this.#revocations.revoke(site);
    let closedLinks = 0;
    for (const link of this.incoming) {
      if (link.peerCertificate.siteName === site) {
        link.session.destroy(LinkCloseCode.PolicyViolation, `site ${site} was revoked by ${this.config.site.name}`);
        closedLinks++;
      }
    }
    this.logger.warn("site.revoked", `revoked site ${site}: its links are refused from now on (${closedLinks} closed)`, { peer: site });
    return { closedLinks };
  }

  // ---- start and stop ----

  async #start(): Promise<void> {
    const { config, platform, logger } = this;
    await this.state.prepare();
    const validity = config.site.settings["link-certificate-validity"];
    const handshakeTimeout = config.site.settings["link-handshake-timeout"];
    if (handshakeTimeout !== undefined) this.#handshakeTimeoutMs = parseDuration(handshakeTimeout);
    this.identity = await SiteIdentity.load({
      platform,
      state: this.state,
      siteName: config.site.name,
      acceptsLinks: config.routerAccess !== undefined,
      certValidityMs: validity === undefined ? DEFAULT_LINK_CERT_VALIDITY_MS : parseDuration(validity),
    });

    for (const connector of config.connectors) {
      this.router.addConnector(connector);
      logger.info("connector.added", `connector ${connector.name} serves ${connector.routingKey} from ${connector.host}:${connector.port}`, {
        connector: connector.name,
      });
    }

    if (config.routerAccess !== undefined) await this.#startLinkServer();

    for (const listener of config.listeners) {
      const counters: ListenerCounters = { connections: 0, active: 0, failed: 0 };
      let tcp: TcpListener;
      try {
        tcp = await platform.listenTcp({ hostname: listener.host, port: listener.port }, (socket) => this.router.connect(listener.routingKey, socket, counters));
      } catch (err) {
        throw new SkiffError(ErrorCode.Connect, `listener ${listener.name} cannot listen on ${listener.host}:${listener.port}: ${errorMessage(err)}`);
      }
      this.#tcpListeners.push(tcp);
      this.listeners.push({ ...listener, port: tcp.port, counters });
      this.router.addListener({ name: listener.name, routingKey: listener.routingKey });
      logger.info("listener.bound", `listener ${listener.name} for ${listener.routingKey} is listening on ${listener.host}:${tcp.port}`, {
        listener: listener.name,
      });
    }

    for (const link of config.links) this.#startDialer(link.name, link);
    for (const stored of this.identity.links) if (!this.outgoing.has(stored.name)) this.#startDialer(stored.name, undefined);

    await this.#startAdmin();
    this.router.start();
    const cipher = await recordCipherChoice();
    logger.info(
      "site.started",
      `site ${config.site.name} is running on ${platform.runtime} ${platform.version}: ` +
        `${config.listeners.length} listener(s), ${config.connectors.length} connector(s), ${this.outgoing.size} link(s); ` +
        `link records sealed with ${cipher.aead.name}`,
    );
    if (cipher.fallback !== undefined) logger.warn("site.slow_cipher", cipher.fallback);
    void this.#redeemConfiguredTokens();
  }

  async #startLinkServer(): Promise<void> {
    const access = this.config.routerAccess!;
    this.#granting = new TokenGranting({
      config: this.config,
      grants: await GrantStore.load(this.platform, this.state),
      identity: this.identity,
      logger: this.logger,
      linkUrl: () => this.linkUrl,
    });
    this.#revocations = await Revocations.load(this.platform, this.state);
    await this.identity.acceptorIdentity(); // fail at start, not at the first link, if the CA is unusable
    let tls: { certificatePem: string; privateKeyPem: string } | undefined;
    if (access.tls !== undefined) {
      tls = {
        certificatePem: await this.platform.readTextFile(access.tls.certificateFile),
        privateKeyPem: await this.platform.readTextFile(access.tls.privateKeyFile),
      };
    } else if (access.generatedTls !== undefined) {
      // Made anew at every start from the site CA, which every token carries: dialers trust it as they are.
      const names = access.generatedTls.subjectAlternativeNames;
      const isIp = (n: string) => /^[\d.]+$/.test(n) || n.includes(":");
      tls = await issueTlsServerCertificate(this.identity.ca, {
        dnsNames: names.filter((n) => !isIp(n)),
        ipAddresses: names.filter(isIp),
        validityMs: GENERATED_TLS_VALIDITY_MS,
      });
    }
    const app = createLinkApp({
      allowAttempt: (source) => this.#redeemLimiter.allow(source),
      redeem: (grantId, request, source) => this.#granting!.answer(grantId, request, source),
    });
    this.#linkServer = await this.#serve("link port", {
      hostname: access.bindHost,
      port: access.port,
      tls,
      maxMessageBytes: maxRecordBytes,
      fetch: (request, info) => app.fetch(request, { remoteAddress: info.remoteAddress }),
      upgrade: (request, info) => this.#acceptLink(request, info),
    });
    this.logger.info("links.accepting", `accepting links on ${access.bindHost}:${this.#linkServer.port} (${this.linkUrl})`);
  }

  async #redeem(token: AccessTokenConfig): Promise<StoredLink> {
    const stored = await redeemToken(this.platform, token, this.config.site.name);
    // A Link resource of the same name in the config may override where and at what cost to dial.
    await this.identity.saveLink(stored);
    this.logger.info("token.redeemed", `redeemed token ${token.name}: link ${stored.name} to site ${stored.peerSite} at ${stored.url}`, { link: stored.name });
    const existing = this.outgoing.get(stored.name);
    existing?.dialer.stop();
    existing?.renewer.stop();
    this.outgoing.delete(stored.name);
    this.#startDialer(stored.name, this.config.links.find((l) => l.name === stored.name));
    return stored;
  }

  /** AccessTokens in the config are redeemed once; restarts find them in redeemed-tokens.json. */
  async #redeemConfiguredTokens(): Promise<void> {
    const file = this.state.file("redeemed-tokens.json");
    const done = new Set<string>(JSON.parse((await this.platform.readTextFileIfExists(file)) ?? "[]") as string[]);
    for (const token of this.config.accessTokens) {
      const fingerprint = await tokenFingerprint(token);
      if (done.has(fingerprint)) continue;
      try {
        await this.#redeem(token);
        done.add(fingerprint);
        await this.platform.writePrivateFile(file, JSON.stringify([...done], null, 2) + "\n");
      } catch (err) {
        this.logger.error("token.failed", `cannot redeem AccessToken ${token.name} from ${this.config.file}: ${errorMessage(err)}`);
      }
    }
  }

  #startDialer(name: string, configured: LinkConfig | undefined): void {
    // The dialer's callbacks run only after start(), by which time `entry` is set.
    let entry: OutgoingLink;
    const renewer = new CertificateRenewer(this.identity, name, this.logger);
    const credentials = () => this.identity.link(name);
    const url = configured?.url ?? credentials()?.url ?? "(no link URL yet)";
    const cost = () => configured?.cost ?? credentials()?.cost ?? 1;
    const setup: ChannelSetup = async (pipe, conn) => {
      const stored = credentials()!;
      const { identity, trust, notAfter } = await this.identity.dialerCredentials(stored);
      entry.certificateExpires = notAfter;
      const established = await establishSecureChannel(pipe, conn, {
        role: "dialer",
        identity,
        trust,
        expectedPeerName: stored.peerSite,
        timeoutMs: this.#handshakeTimeoutMs,
      });
      entry.peerCertificate = established.peer;
      return { channel: established.channel, peerSite: established.peer.siteName };
    };
    const dialer = new LinkDialer({
      name,
      url,
      caCertificates: credentials() === undefined ? undefined : [credentials()!.caPem],
      platform: this.platform,
      setup,
      logger: this.logger,
      precheck: () =>
        credentials() === undefined
          ? `no credentials for link ${name} in ${this.state.path}: redeem an access token from the other site (skiff token redeem TOKEN --config ${this.config.file})`
          : undefined,
      run: (channel, peerSite, onReady) => {
        const session = this.#runSession(channel, "dialer", cost(), peerSite, (peer) => {
          onReady(peer);
          renewer.watch(session);
        });
        this.#certificateHandlers.set(session, (type, payload) => {
          if (type !== FrameType.CertIssued) throw new SkiffError(ErrorCode.Protocol, "CertRequest from the site this site dials");
          void renewer.receive(payload).catch((err) => this.logger.warn("cert.renew_failed", `renewal of link ${name} failed: ${errorMessage(err)}`));
        });
        entry.session = session;
        return session.closed;
      },
    });
    if (configured?.caFile !== undefined) {
      // A link port behind a certificate from another CA (a proxy, a public CA): trust that too.
      void this.platform.readTextFile(configured.caFile).then((pem) => dialer.setCaCertificates([pem, ...(credentials() ? [credentials()!.caPem] : [])]));
    }
    entry = { dialer, renewer };
    this.outgoing.set(name, entry);
    dialer.start();
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
    await this.state.writeAdminEndpoint({ url: this.#adminUrl, site: this.config.site.name, startedAt: this.startedAt.toISOString() });
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
    if (this.#pendingHandshakes >= MAX_PENDING_HANDSHAKES) {
      this.logger.warn("link.refused", `refused a link from ${info.remoteAddress}: ${MAX_PENDING_HANDSHAKES} handshakes already in progress`);
      return new Response("too many link handshakes in progress; retry later\n", { status: 503 });
    }
    const pipe = new WebSocketPipe();
    const handlers = pipe.handlers;
    return {
      ...handlers,
      open: (conn) => {
        handlers.open(conn);
        this.#pendingHandshakes++;
        void this.identity
          .acceptorIdentity()
          .then((identity) =>
            establishSecureChannel(pipe, conn, {
              role: "acceptor",
              identity,
              trust: this.identity.trust,
              authorize: (peer) => this.#authorize(peer, info.remoteAddress),
              timeoutMs: this.#handshakeTimeoutMs,
            }),
          )
          .then(
            ({ channel, peer }) => {
              this.#pendingHandshakes--;
              const session = this.#runSession(channel, "acceptor", 1, peer.siteName, (name) => {
                this.logger.info("link.up", `accepted a link from site ${name} (${info.remoteAddress}), certificate valid until ${peer.notAfter.toISOString()}`, {
                  peer: name,
                });
              });
              this.#certificateHandlers.set(session, (type, payload) => {
                if (type !== FrameType.CertRequest) throw new SkiffError(ErrorCode.Protocol, "CertIssued from a site that dialed this one");
                void answerCertRequest(session, payload, this.identity, peer.siteName, this.logger).catch((err) =>
                  session.destroy(LinkCloseCode.PolicyViolation, `certificate renewal refused: ${errorMessage(err)}`),
                );
              });
              const entry: IncomingLink = { session, remoteAddress: info.remoteAddress, peerCertificate: peer };
              this.incoming.add(entry);
              void session.closed.then((reason) => {
                this.incoming.delete(entry);
                this.logger.info("link.down", `link from site ${peer.siteName} is down: ${reason}`, { peer: peer.siteName });
              });
            },
            (err) => {
              this.#pendingHandshakes--;
              this.logger.warn("link.refused", `refused a link from ${info.remoteAddress}: ${errorMessage(err)}`);
            },
          );
      },
    };
  }

  #authorize(peer: PeerCertificate, remoteAddress: string): boolean {
    const revokedAt = this.#revocations?.revokedAt(peer.siteName);
    if (revokedAt === undefined) return true;
    this.logger.warn("link.refused", `refused a link from site ${peer.siteName} (${remoteAddress}): it was revoked at ${revokedAt}`, { peer: peer.siteName });
    return false;
  }

  /** Start a link session on an authenticated channel. */
  #runSession(channel: MessageChannel, role: "dialer" | "acceptor", cost: number, peerSite: string | undefined, onReady: (peer: string) => void): LinkSession {
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
        certificate: (s, type, payload) => this.#certificateHandlers.get(s)?.(type, payload),
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
    for (const { dialer, renewer } of this.outgoing.values()) {
      dialer.stop();
      renewer.stop();
    }
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

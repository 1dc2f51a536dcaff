// Loads a Skiff configuration file (a YAML stream or JSON of Skupper-shaped resources)
// into a fully resolved SiteConfig, or throws one ConfigError listing every problem with
// its file, line, column, resource and field.

import { isMap, isSeq, LineCounter, parseAllDocuments, type Node } from "yaml";
import * as z from "zod";
import { ConfigError, type ConfigIssue } from "../errors.ts";
import { parseDuration } from "./duration.ts";
import { dirName, resolvePath } from "./paths.ts";
import { keyPositionOf, offsetPosition, positionOf, type Position } from "./positions.ts";
import {
  API_VERSION,
  ApiVersion,
  DEFAULT_LINK_PORT,
  isKind,
  KINDS,
  LINK_PATH,
  metaOf,
  RESOURCE_SCHEMAS,
  schemaAt,
  unwrapSchema,
  UNSUPPORTED_KINDS,
  type AccessGrantResource,
  type AccessTokenResource,
  type ConnectorResource,
  type FieldMeta,
  type Kind,
  type LinkResource,
  type ListenerResource,
  type RouterAccessResource,
  type SiteResource,
} from "./schema.ts";

export { parseDuration } from "./duration.ts";
export { resolvePath } from "./paths.ts";

export interface SiteSettings {
  name: string;
  linkAccess: "none" | "default";
  settings: Record<string, string>;
  /** Absolute when the config file's path (or `cwd`) is absolute. */
  stateDir: string;
  /** 0 means: pick a free loopback port. */
  adminPort: number;
  publicUrl?: string;
  keepaliveIntervalMs: number;
  keepaliveTimeoutMs: number;
  streamWindowBytes: number;
  maxStreamsPerLink: number;
  maxPendingBytes: number;
}

export interface RouterAccessConfig {
  name: string;
  bindHost: string;
  port: number;
  tls?: { certificateFile: string; privateKeyFile: string };
  /** Serve wss:// with a certificate from the site's own CA, for these names. */
  generatedTls?: { subjectAlternativeNames: string[] };
}

export interface ListenerConfig {
  name: string;
  routingKey: string;
  host: string;
  port: number;
}

export interface ConnectorConfig {
  name: string;
  routingKey: string;
  host: string;
  port: number;
}

export interface LinkConfig {
  name: string;
  /** ws:// or wss:// URL of the remote site's link endpoint. */
  url: string;
  cost: number;
  caFile?: string;
}

export interface AccessGrantConfig {
  name: string;
  redemptionsAllowed: number;
  expirationWindowMs: number;
  code?: string;
}

export interface AccessTokenConfig {
  name: string;
  url: string;
  code: string;
  ca: string;
  linkCost: number;
}

/** One site's configuration with every default applied and every path resolved. */
export interface SiteConfig {
  /** The file's path as given to parseConfig. */
  file: string;
  site: SiteSettings;
  /** Present when the site accepts links: from a RouterAccess, or made up for `linkAccess: default`. */
  routerAccess?: RouterAccessConfig;
  listeners: ListenerConfig[];
  connectors: ConnectorConfig[];
  links: LinkConfig[];
  accessGrants: AccessGrantConfig[];
  accessTokens: AccessTokenConfig[];
}

export interface ParseOptions {
  /**
   * Directory a relative `file` is relative to. With it, every path in the result is
   * absolute; without it, paths are relative to wherever `file` is relative to.
   */
  cwd?: string;
}

// ---- reading resources ----------------------------------------------------------------

interface ResourceOutput {
  Site: SiteResource;
  RouterAccess: RouterAccessResource;
  Listener: ListenerResource;
  Connector: ConnectorResource;
  Link: LinkResource;
  AccessGrant: AccessGrantResource;
  AccessToken: AccessTokenResource;
}

/** A document (or array item) whose kind is known, valid or not. */
interface Seen {
  kind: Kind;
  name?: string;
  label: string;
  node: Node | null;
  position: Position;
}

interface Valid<K extends Kind = Kind> extends Seen {
  data: ResourceOutput[K];
}

class Reader {
  readonly file: string;
  readonly lineCounter = new LineCounter();
  readonly issues: ConfigIssue[] = [];
  readonly seen: Seen[] = [];
  readonly valid: Valid[] = [];
  /** A document failed to parse, so its resources are unknown. */
  syntaxErrors = false;
  #format: "YAML" | "JSON";

  constructor(file: string, text: string) {
    this.file = file;
    const trimmed = text.trimStart();
    this.#format = file.toLowerCase().endsWith(".json") || trimmed.startsWith("{") || trimmed.startsWith("[") ? "JSON" : "YAML";
    this.#read(text);
  }

  add(position: Position, message: string, resource?: string, field?: string): void {
    const issue: ConfigIssue = { file: this.file, line: position.line, column: position.column, message };
    if (resource !== undefined) issue.resource = resource;
    if (field !== undefined && field !== "") issue.field = field;
    this.issues.push(issue);
  }

  /** Adds an issue about `path` inside a resource. */
  addAt(where: Seen, path: readonly PropertyKey[], message: string): void {
    this.add(positionOf(this.lineCounter, where.node, path, where.position), message, where.label, formatPath(path));
  }

  of<K extends Kind>(kind: K): Valid<K>[] {
    return this.valid.filter((r): r is Valid<K> => r.kind === kind);
  }

  sorted(): ConfigIssue[] {
    const seen = new Set<string>();
    return this.issues
      .map((issue, index) => ({ issue, index }))
      .sort((a, b) => a.issue.line - b.issue.line || a.issue.column - b.issue.column || a.index - b.index)
      .map(({ issue }) => issue)
      .filter((issue) => {
        const key = `${issue.line}:${issue.column}:${issue.resource}:${issue.field}:${issue.message}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      });
  }

  #read(text: string): void {
    const docs = parseAllDocuments(text, { lineCounter: this.lineCounter, prettyErrors: false });
    for (const doc of docs) {
      if (doc.errors.length > 0) {
        this.syntaxErrors = true;
        for (const error of doc.errors) {
          this.add(
            offsetPosition(this.lineCounter, error.pos[0]),
            `invalid ${this.#format}: ${error.message.replace(/\.$/, "")}; fix the syntax here`,
          );
        }
        continue;
      }
      const root = doc.contents as Node | null;
      if (root === null) continue;
      let value: unknown;
      try {
        value = doc.toJS({ maxAliasCount: 100 });
      } catch (error) {
        this.syntaxErrors = true;
        this.add(this.#start(root), `invalid ${this.#format}: ${error instanceof Error ? error.message : String(error)}`);
        continue;
      }
      if (value === null || value === undefined) continue;
      if (isSeq(root) && Array.isArray(value)) {
        root.items.forEach((item, index) => this.#resource(item as Node | null, value[index]));
      } else {
        this.#resource(root, value);
      }
    }
  }

  #start(node: Node | null): Position {
    return node?.range ? offsetPosition(this.lineCounter, node.range[0]) : { line: 1, column: 1 };
  }

  #resource(node: Node | null, value: unknown): void {
    const position = this.#start(node);
    if (!isMap(node) || !isPlainObject(value)) {
      this.add(position, `expected a resource: a mapping with apiVersion, kind, metadata and spec, found ${show(value)}`);
      return;
    }
    const kind = value["kind"];
    const metadata = value["metadata"];
    const rawName = isPlainObject(metadata) ? metadata["name"] : undefined;
    const name = typeof rawName === "string" ? rawName : undefined;
    const kindText = typeof kind === "string" ? kind : undefined;
    const label = kindText === undefined ? undefined : name === undefined ? kindText : `${kindText}/${name}`;
    const add = (path: PropertyKey[], message: string) =>
      this.add(positionOf(this.lineCounter, node, path, position), message, label, formatPath(path));

    if (!isKind(kind)) {
      if (!ApiVersion.safeParse(value["apiVersion"]).success) add(["apiVersion"], apiVersionMessage(value["apiVersion"]));
      const list = KINDS.join(", ");
      if (kind === undefined) add(["kind"], `missing; expected one of the kinds ${list}`);
      else {
        const note = typeof kind === "string" ? UNSUPPORTED_KINDS[kind] : undefined;
        add(["kind"], `unknown kind ${show(kind)}; expected one of ${list}` + (note ? ` (${note})` : ""));
      }
      return;
    }
    const where: Seen = { kind, label: name === undefined ? kind : `${kind}/${name}`, node, position };
    if (name !== undefined) where.name = name;
    this.seen.push(where);

    const schema = RESOURCE_SCHEMAS[kind] as z.ZodType;
    const result = schema.safeParse(value);
    if (!result.success) {
      for (const issue of result.error.issues) this.#zodIssue(where, schema, value, issue);
      return;
    }
    const valid = { ...where, data: result.data } as Valid;
    if (checkResource(this, valid)) this.valid.push(valid);
  }

  #zodIssue(where: Seen, schema: z.ZodType, value: unknown, issue: z.core.$ZodIssue): void {
    const path = issue.path;
    if (issue.code === "unrecognized_keys") {
      const accepted = acceptedFields(schemaAt(schema, path));
      for (const key of issue.keys) {
        const position = keyPositionOf(this.lineCounter, where.node, path, key, where.position);
        const guess = closest(key, accepted);
        const hint = guess === undefined ? "" : ` (did you mean ${guess}?)`;
        this.add(
          position,
          `unknown field ${JSON.stringify(key)}${hint}; accepted fields are ${accepted.join(", ")}`,
          where.label,
          formatPath([...path, key]),
        );
      }
      return;
    }
    if (issue.code === "custom" && issue.message !== "Invalid input") {
      this.addAt(where, path, issue.message);
      return;
    }
    const found = valueAt(value, path);
    if (path.length === 1 && path[0] === "apiVersion") {
      this.addAt(where, path, apiVersionMessage(found));
      return;
    }
    const meta = metaAt(schema, path);
    const expected = meta?.expected;
    let message: string;
    if (typeof found === "string" && meta?.valueNotes?.[found]) message = meta.valueNotes[found]!;
    else if (expected === undefined) message = issue.message;
    else if (found === undefined) message = `missing; expected ${expected}`;
    else message = `expected ${expected}, found ${show(found)}`;
    this.addAt(where, path, message);
  }
}

function apiVersionMessage(found: unknown): string {
  if (found === undefined) return `missing; expected apiVersion: ${API_VERSION}`;
  return `expected ${API_VERSION}, found ${show(found)}`;
}

// ---- checks inside one resource -------------------------------------------------------

/** Rules that involve several fields of one resource. Returns false when the resource is unusable. */
function checkResource(reader: Reader, resource: Valid): boolean {
  let ok = true;
  const fail = (path: PropertyKey[], message: string) => {
    reader.addAt(resource, path, message);
    ok = false;
  };
  switch (resource.kind) {
    case "Site": {
      const spec = (resource.data as SiteResource).spec;
      if (spec.keepaliveTimeoutSeconds <= spec.keepaliveIntervalSeconds) {
        fail(
          ["spec", "keepaliveTimeoutSeconds"],
          `expected more seconds than keepaliveIntervalSeconds (${spec.keepaliveIntervalSeconds}), found ${spec.keepaliveTimeoutSeconds}; raise the timeout or lower the interval`,
        );
      }
      break;
    }
    case "RouterAccess": {
      const spec = (resource.data as RouterAccessResource).spec;
      if (spec.roles.length > 1) {
        fail(["spec", "roles", 1], "a Skiff site has one link port; keep a single inter-router role");
      }
      break;
    }
    case "Link": {
      const spec = (resource.data as LinkResource).spec;
      const endpoints = spec.endpoints ?? [];
      if (spec.url !== undefined && spec.endpoints !== undefined) {
        fail(["spec", "url"], "give spec.url or spec.endpoints, not both");
      } else if (spec.url === undefined && endpoints.length === 0) {
        fail(
          spec.endpoints === undefined ? ["spec"] : ["spec", "endpoints"],
          "expected spec.url (the remote site's ws:// or wss:// link URL) or spec.endpoints: [{name: inter-router, host, port}], found neither",
        );
      } else if (endpoints.length > 1) {
        fail(["spec", "endpoints", 1], "a Skiff Link has one endpoint; write one Link per remote site");
      }
      if (spec.url !== undefined) {
        const scheme = new URL(spec.url).protocol;
        const raw = valueAt(rawSpec(resource), ["tls"]);
        if (typeof raw === "boolean" && raw !== (scheme === "wss:")) {
          fail(["spec", "tls"], `tls: ${raw} disagrees with the URL's ${scheme}// scheme; remove spec.tls (the URL decides)`);
        }
        if (spec.caFile !== undefined && scheme !== "wss:") {
          fail(["spec", "caFile"], "spec.caFile is used only with wss://; remove it or use a wss:// URL");
        }
      } else if (spec.caFile !== undefined && !spec.tls) {
        fail(["spec", "caFile"], "spec.caFile is used only with wss://; set spec.tls: true or remove spec.caFile");
      }
      break;
    }
    default:
      break;
  }
  return ok;
}

/** The spec as written, to tell a default from a value the user gave. */
function rawSpec(resource: Seen): unknown {
  const node = resource.node;
  if (!isMap(node)) return undefined;
  const json = node.toJSON() as Record<string, unknown>;
  return json["spec"];
}

// ---- checks across resources ----------------------------------------------------------

function checkAcross(reader: Reader): void {
  // Names: unique within a kind.
  const firstByName = new Map<string, Seen>();
  for (const resource of reader.seen) {
    if (resource.name === undefined) continue;
    const key = `${resource.kind}/${resource.name}`;
    const first = firstByName.get(key);
    if (first === undefined) {
      firstByName.set(key, resource);
      continue;
    }
    const here = positionOf(reader.lineCounter, resource.node, ["metadata", "name"], resource.position);
    const there = positionOf(reader.lineCounter, first.node, ["metadata", "name"], first.position);
    reader.add(
      here,
      `${key} is defined twice, at line ${there.line} and at line ${here.line}; give each ${resource.kind} its own name`,
      key,
      "metadata.name",
    );
  }

  // Exactly one Site, at most one RouterAccess.
  for (const kind of ["Site", "RouterAccess"] as const) {
    const all = reader.seen.filter((r) => r.kind === kind);
    for (const extra of all.slice(1)) {
      reader.addAt(
        extra,
        ["kind"],
        kind === "Site"
          ? `a file describes exactly one Site and ${all[0]!.label} is already at line ${all[0]!.position.line}; move ${extra.label} to a file of its own`
          : `a site has at most one RouterAccess and ${all[0]!.label} is already at line ${all[0]!.position.line}; remove ${extra.label} or merge the two`,
      );
    }
  }
  if (reader.seen.every((r) => r.kind !== "Site") && !reader.syntaxErrors) {
    reader.add(
      { line: 1, column: 1 },
      `no Site in this file; add a resource with kind: Site and metadata.name (the site's name), e.g. apiVersion: ${API_VERSION}, kind: Site, metadata: {name: west}`,
    );
  }

  // Ports: listeners must not collide with each other, the link port or the admin port.
  const site = reader.of("Site")[0];
  const routerAccess = reader.of("RouterAccess")[0];
  if (routerAccess?.data.spec.generateTlsCredentials && routerAccess.data.spec.tls !== undefined) {
    reader.addAt(routerAccess, ["spec", "generateTlsCredentials"], "choose one way to serve wss://: spec.generateTlsCredentials: true, or your own certificate in spec.tls, not both");
  }
  if (routerAccess !== undefined && !routerAccess.data.spec.generateTlsCredentials && routerAccess.data.spec.subjectAlternativeNames !== undefined) {
    reader.addAt(routerAccess, ["spec", "subjectAlternativeNames"], "spec.subjectAlternativeNames names the generated certificate; set spec.generateTlsCredentials: true as well");
  }
  const adminPort = site?.data.spec.adminPort ?? 0;
  const defaultAccess = site?.data.spec.linkAccess === "default" && reader.seen.every((r) => r.kind !== "RouterAccess");
  const linkPort = routerAccess?.data.spec.roles[0]?.port ?? (defaultAccess ? DEFAULT_LINK_PORT : undefined);
  const linkPortOwner = routerAccess
    ? `the link port of ${routerAccess.label} (line ${routerAccess.position.line})`
    : `the Site's link port (linkAccess: default listens on ${DEFAULT_LINK_PORT} without a RouterAccess)`;
  const listeners = reader.of("Listener");
  listeners.forEach((listener, index) => {
    const { host, port } = listener.data.spec;
    if (port === 0) return; // a free port, picked at start: it cannot clash
    const clash = listeners
      .slice(0, index)
      .find((other) => other.data.spec.port === port && hostsOverlap(other.data.spec.host, host));
    if (clash) {
      const line = positionOf(reader.lineCounter, clash.node, ["spec", "port"], clash.position).line;
      reader.addAt(
        listener,
        ["spec", "port"],
        `port ${port} on ${host} is already taken by ${clash.label} (line ${line}, host ${clash.data.spec.host}); give each Listener its own port`,
      );
    } else if (port === linkPort) {
      reader.addAt(listener, ["spec", "port"], `port ${port} is ${linkPortOwner}; choose another port for this Listener`);
    } else if (port === adminPort) {
      reader.addAt(
        listener,
        ["spec", "port"],
        `port ${port} is the Site's adminPort; choose another port for this Listener`,
      );
    }
  });
  if (site && adminPort !== 0 && adminPort === linkPort && linkPort !== 0) {
    reader.addAt(site, ["spec", "adminPort"], `port ${adminPort} is also ${linkPortOwner}; choose another adminPort`);
  }

  // A grant needs a site that accepts links.
  const acceptsLinks = reader.seen.some((r) => r.kind === "RouterAccess") || site?.data.spec.linkAccess === "default";
  if (site && !acceptsLinks) {
    for (const grant of reader.of("AccessGrant")) {
      reader.addAt(
        grant,
        ["kind"],
        "an AccessGrant needs a site that accepts links; set the Site's spec.linkAccess: default or add a RouterAccess",
      );
    }
  }
}

const WILDCARD_HOSTS = new Set(["0.0.0.0", "::", "[::]"]);

function hostsOverlap(a: string, b: string): boolean {
  return a === b || WILDCARD_HOSTS.has(a) || WILDCARD_HOSTS.has(b);
}

// ---- building the result -------------------------------------------------------------

function hostForUrl(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

function build(reader: Reader, file: string, baseDir: string): SiteConfig {
  const siteResource = reader.of("Site")[0]!;
  const name = siteResource.data.metadata.name;
  const spec = siteResource.data.spec;
  const site: SiteSettings = {
    name,
    linkAccess: spec.linkAccess,
    settings: { ...spec.settings },
    stateDir: resolvePath(baseDir, spec.stateDir ?? `.skiff/${name}`),
    adminPort: spec.adminPort,
    keepaliveIntervalMs: Math.round(spec.keepaliveIntervalSeconds * 1000),
    keepaliveTimeoutMs: Math.round(spec.keepaliveTimeoutSeconds * 1000),
    streamWindowBytes: spec.streamWindowBytes,
    maxStreamsPerLink: spec.maxStreamsPerLink,
    maxPendingBytes: spec.maxPendingBytes,
  };
  if (spec.publicUrl !== undefined) site.publicUrl = spec.publicUrl.replace(/\/+$/, "");

  const config: SiteConfig = {
    file,
    site,
    listeners: reader.of("Listener").map((r) => ({
      name: r.data.metadata.name,
      routingKey: r.data.spec.routingKey,
      host: r.data.spec.host,
      port: r.data.spec.port,
    })),
    connectors: reader.of("Connector").map((r) => ({
      name: r.data.metadata.name,
      routingKey: r.data.spec.routingKey,
      host: r.data.spec.host,
      port: r.data.spec.port,
    })),
    links: reader.of("Link").map((r) => {
      const s = r.data.spec;
      const endpoint = s.endpoints?.[0];
      const url =
        s.url ?? `${s.tls ? "wss" : "ws"}://${hostForUrl(endpoint!.host)}:${endpoint!.port}${LINK_PATH}`;
      const link: LinkConfig = { name: r.data.metadata.name, url, cost: s.cost };
      if (s.caFile !== undefined) link.caFile = resolvePath(baseDir, s.caFile);
      return link;
    }),
    accessGrants: reader.of("AccessGrant").map((r) => {
      const grant: AccessGrantConfig = {
        name: r.data.metadata.name,
        redemptionsAllowed: r.data.spec.redemptionsAllowed,
        expirationWindowMs: parseDuration(r.data.spec.expirationWindow),
      };
      if (r.data.spec.code !== undefined) grant.code = r.data.spec.code;
      return grant;
    }),
    accessTokens: reader.of("AccessToken").map((r) => tokenConfig(r.data)),
  };

  const access = reader.of("RouterAccess")[0];
  if (access) {
    const routerAccess: RouterAccessConfig = {
      name: access.data.metadata.name,
      bindHost: access.data.spec.bindHost,
      port: access.data.spec.roles[0]!.port,
    };
    const tls = access.data.spec.tls;
    if (tls) {
      routerAccess.tls = {
        certificateFile: resolvePath(baseDir, tls.certificateFile),
        privateKeyFile: resolvePath(baseDir, tls.privateKeyFile),
      };
    }
    if (access.data.spec.generateTlsCredentials) {
      routerAccess.generatedTls = { subjectAlternativeNames: access.data.spec.subjectAlternativeNames ?? defaultNames(routerAccess.bindHost, spec.publicUrl) };
    }
    config.routerAccess = routerAccess;
  } else if (spec.linkAccess === "default") {
    config.routerAccess = { name, bindHost: "0.0.0.0", port: DEFAULT_LINK_PORT };
  }
  return config;
}

function tokenConfig(data: AccessTokenResource): AccessTokenConfig {
  return {
    name: data.metadata.name,
    url: data.spec.url,
    code: data.spec.code,
    ca: data.spec.ca,
    linkCost: data.spec.linkCost,
  };
}

function baseDirOf(file: string, options: ParseOptions | undefined): string {
  const dir = dirName(file);
  return options?.cwd === undefined ? dir : resolvePath(options.cwd, dir);
}

/** Names for a generated link-port certificate when none are given. */
function defaultNames(bindHost: string, publicUrl: string | undefined): string[] {
  const names = new Set<string>(["127.0.0.1", "localhost"]);
  if (bindHost !== "0.0.0.0" && bindHost !== "::") names.add(bindHost);
  if (publicUrl !== undefined) names.add(new URL(publicUrl).hostname.replace(/^\[|\]$/g, ""));
  return [...names];
}

// ---- public entry points -------------------------------------------------------------

/**
 * Parses a site's configuration file. `file` names the file in messages and is the
 * base for relative paths; `text` is its content. Throws ConfigError with every
 * problem found, sorted by position.
 */
export function parseConfig(file: string, text: string, options?: ParseOptions): SiteConfig {
  const reader = new Reader(file, text);
  checkAcross(reader);
  const issues = reader.sorted();
  if (issues.length > 0) throw new ConfigError(issues);
  return build(reader, file, baseDirOf(file, options));
}

/**
 * Parses a token file: one or more AccessToken resources and nothing else
 * (what `skiff token redeem` reads). Throws ConfigError like parseConfig.
 */
export function parseAccessTokens(file: string, text: string): AccessTokenConfig[] {
  const reader = new Reader(file, text);
  for (const resource of reader.seen) {
    if (resource.kind !== "AccessToken") {
      reader.addAt(resource, ["kind"], `a token file holds only AccessToken resources, found ${resource.kind}; move it to the site's configuration`);
    }
  }
  if (reader.seen.length === 0 && !reader.syntaxErrors && reader.issues.length === 0) {
    reader.add({ line: 1, column: 1 }, "no AccessToken in this file; expected a resource with kind: AccessToken");
  }
  const issues = reader.sorted();
  if (issues.length > 0) throw new ConfigError(issues);
  return reader.of("AccessToken").map((r) => tokenConfig(r.data));
}

// ---- schema walking and formatting ---------------------------------------------------

function metaAt(schema: z.ZodType, path: readonly PropertyKey[]): FieldMeta | undefined {
  return metaOf(schemaAt(schema, path));
}

/** Fields of the object schema at hand that a file may use (refused Skupper fields left out). */
function acceptedFields(schema: z.ZodType | undefined): string[] {
  if (schema === undefined) return [];
  const inner = unwrapSchema(schema).at(-1);
  if (!(inner instanceof z.ZodObject)) return [];
  return Object.entries(inner.shape as Record<string, z.ZodType>)
    .filter(([, field]) => !metaOf(field)?.refused)
    .map(([key]) => key);
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let current = value;
  for (const segment of path) {
    if (Array.isArray(current) && typeof segment === "number") current = current[segment];
    else if (isPlainObject(current)) current = current[String(segment)];
    else return undefined;
  }
  return current;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The accepted name closest to a misspelt one (at most two edits, or a case difference), if any. */
function closest(name: string, accepted: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of accepted) {
    const distance = candidate.toLowerCase() === name.toLowerCase() ? 0 : editDistance(name, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** `spec.endpoints[0].port` */
function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else out += out === "" ? String(segment) : `.${String(segment)}`;
  }
  return out;
}

/** How a found value is named in a message. */
function show(value: unknown): string {
  if (value === null) return "an empty value";
  if (value === undefined) return "nothing";
  if (typeof value === "string") {
    const text = value.length > 60 ? value.slice(0, 57) + "..." : value;
    return JSON.stringify(text);
  }
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  if (Array.isArray(value)) return value.length === 0 ? "an empty list" : `a list of ${value.length} item${value.length === 1 ? "" : "s"}`;
  if (typeof value === "object") return "a mapping";
  return String(value);
}

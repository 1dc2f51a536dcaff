// The zod schemas of Skiff's configuration resources: the single source of truth for
// every field's type, default, description and the words used in its error messages.
// load.ts reads the `FieldMeta` attached here to say what was expected; docs.ts renders it.

import * as z from "zod";
import { isDuration, parseDuration } from "./duration.ts";

export const API_VERSION = "skupper.io/v2alpha1";

export const KINDS = ["Site", "RouterAccess", "Listener", "Connector", "Link", "AccessGrant", "AccessToken"] as const;
export type Kind = (typeof KINDS)[number];

/** Skupper kinds Skiff does not read, with what to do instead. */
export const UNSUPPORTED_KINDS: Readonly<Record<string, string>> = {
  MultiKeyListener: "Skiff has no MultiKeyListener; write one Listener per routing key",
  Secret:
    "Skiff reads no Kubernetes Secrets; a Link trusts a wss:// server through spec.caFile, and link credentials come from redeeming an AccessToken",
  Certificate: "Certificate is Kubernetes-only; Skiff keeps its site CA and certificates in the Site's stateDir",
  SecuredAccess: "SecuredAccess is Kubernetes-only; a site accepts links through a RouterAccess",
  AttachedConnector: "AttachedConnector is Kubernetes-only; write a Connector with spec.host",
  AttachedConnectorBinding: "AttachedConnectorBinding is Kubernetes-only; write a Connector with spec.host",
};

/** The default inter-router port, as in Skupper; used when `linkAccess: default` has no RouterAccess. */
export const DEFAULT_LINK_PORT = 55671;

/** The path of the link endpoint under a site's link port. */
export const LINK_PATH = "/skiff/v1/link";

/** Longest AccessGrant expiration window. */
export const MAX_EXPIRATION_WINDOW_MS = 24 * 3_600_000;
/** Shortest AccessGrant expiration window. */
export const MIN_EXPIRATION_WINDOW_MS = 1_000;

/**
 * Metadata attached to a schema with `.meta()`.
 * `expected` completes "expected ..., found ..." in error messages;
 * `type` is the type column of the field reference;
 * `defaultText` replaces the default column when the default is computed;
 * `valueNotes` replaces the message when the value found is one of its keys;
 * `refused` marks a Skupper field that Skiff does not accept (its description says why).
 */
export type FieldMeta = {
  expected?: string;
  type?: string;
  defaultText?: string;
  valueNotes?: Record<string, string>;
  refused?: boolean;
  description?: string;
};

/** Reads the FieldMeta of a schema (undefined when it has none). */
export function fieldMeta(schema: z.ZodType): FieldMeta | undefined {
  return z.globalRegistry.get(schema) as FieldMeta | undefined;
}

/** `schema` and the schemas it wraps (optional, nullable, default, prefault, pipe input), outermost first. */
export function unwrapSchema(schema: z.ZodType): z.ZodType[] {
  const chain: z.ZodType[] = [schema];
  let current: z.ZodType = schema;
  for (;;) {
    let next: z.ZodType | undefined;
    if (current instanceof z.ZodOptional || current instanceof z.ZodNullable) next = current.unwrap() as z.ZodType;
    else if (current instanceof z.ZodDefault || current instanceof z.ZodPrefault) next = current._zod.def.innerType as z.ZodType;
    else if (current instanceof z.ZodPipe) next = current._zod.def.in as z.ZodType;
    if (next === undefined) return chain;
    chain.push(next);
    current = next;
  }
}

/** The schema for `path` under `schema` (wrappers included), or undefined. */
export function schemaAt(schema: z.ZodType, path: readonly PropertyKey[]): z.ZodType | undefined {
  let current: z.ZodType | undefined = schema;
  for (const segment of path) {
    if (current === undefined) return undefined;
    const inner: z.ZodType = unwrapSchema(current).at(-1)!;
    if (inner instanceof z.ZodObject) current = inner.shape[String(segment)] as z.ZodType | undefined;
    else if (inner instanceof z.ZodArray) current = inner.element as z.ZodType;
    else if (inner instanceof z.ZodRecord) current = inner._zod.def.valueType as z.ZodType;
    else return undefined;
  }
  return current;
}

/** The first FieldMeta with `expected` on `schema` or the schemas it wraps. */
export function metaOf(schema: z.ZodType | undefined): FieldMeta | undefined {
  if (schema === undefined) return undefined;
  let found: FieldMeta | undefined;
  for (const layer of unwrapSchema(schema)) {
    const meta = fieldMeta(layer);
    if (meta === undefined) continue;
    found = found ? { ...meta, ...found } : meta;
  }
  return found;
}

function withMeta<T extends z.ZodType>(schema: T, meta: FieldMeta & { description: string }): T {
  return schema.meta(meta);
}

/** A Skupper field that Skiff refuses; `message` says what to use instead. */
function refused(message: string) {
  return z
    .unknown()
    .refine((value) => value === undefined, { error: message })
    .optional()
    .meta({ refused: true, description: message } satisfies FieldMeta);
}

// ---- shared field types -------------------------------------------------------------

const NAME_RE = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;
const HOST_RE = /^[A-Za-z0-9_.:%-]{1,253}$/;
const ROUTING_KEY_RE = /^\S{1,253}$/;
const CODE_RE = /^[A-Za-z0-9_-]{43,}$/;
const PEM_CERT_RE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;

function urlWithScheme(value: string, schemes: readonly string[]): boolean {
  try {
    const url = new URL(value);
    return schemes.includes(url.protocol) && url.hostname !== "" && url.hash === "";
  } catch {
    return false;
  }
}

const NAME_EXPECTED =
  "a name of at most 63 lowercase letters, digits and '-' that starts and ends with a letter or digit (a DNS-1123 label)";

const Name = withMeta(z.string().regex(NAME_RE), {
  type: "name",
  expected: NAME_EXPECTED,
  description:
    "The resource's name: at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit (a DNS-1123 label). Unique among resources of its kind.",
});

function port(description: string) {
  return withMeta(z.number().int().min(1).max(65535), {
    type: "integer 1-65535",
    expected: "an integer port between 1 and 65535",
    description,
  });
}

/** A port this site binds; 0 asks the system for a free one (the site logs the port it got). */
function bindPort(description: string) {
  return withMeta(z.number().int().min(0).max(65535), {
    type: "integer 0-65535",
    expected: "an integer port between 0 and 65535 (0 picks a free port)",
    description: description + " 0 picks a free port; the site logs the port it got and `skiff status` shows it.",
  });
}

function host(description: string, fallback?: string) {
  const base = z.string().regex(HOST_RE);
  const meta = { type: "host", expected: "a host name or IP address such as 127.0.0.1", description };
  return fallback === undefined ? withMeta(base, meta) : withMeta(base.default(fallback), meta);
}

function intIn(min: number, max: number, fallback: number, description: string, unit = "") {
  const suffix = unit ? ` ${unit}` : "";
  return withMeta(z.number().int().min(min).max(max).default(fallback), {
    type: `integer ${min}-${max}`,
    expected: `an integer between ${min} and ${max}${suffix}`,
    description,
  });
}

function seconds(fallback: number, description: string) {
  return withMeta(z.number().positive().max(3600).default(fallback), {
    type: "number of seconds (0-3600]",
    expected: "a number of seconds greater than 0 and at most 3600",
    description,
  });
}

function filePath(description: string) {
  return withMeta(z.string().min(1), {
    type: "path",
    expected: "a file path (relative paths are taken from the config file's directory)",
    description,
  });
}

const RoutingKey = withMeta(z.string().regex(ROUTING_KEY_RE), {
  type: "string",
  expected: "a routing key: 1 to 253 characters without spaces",
  description:
    "Matched exactly against the routing keys of Listeners and Connectors anywhere in the network.",
});

/** Settings Skiff reads, all durations; any other name is kept and ignored, as in Skupper. */
export const DURATION_SETTINGS: Readonly<Record<string, string>> = {
  "link-certificate-validity": "lifetime of the link certificates this site's CA issues (default 24h; renewed over the link at half-life)",
  "link-handshake-timeout": "how long a link handshake may take before it is dropped (default 10s)",
};

const Settings = withMeta(
  z
    .record(
      z.string(),
      withMeta(z.string(), {
        type: "string",
        expected: "a string (quote numbers and booleans, e.g. \"4\")",
        description: "A setting's value.",
      }),
    )
    .superRefine((map, ctx) => {
      for (const [name, value] of Object.entries(map)) {
        if (Object.hasOwn(DURATION_SETTINGS, name) && !isDuration(value)) {
          ctx.addIssue({ code: "custom", path: [name], message: `expected a duration such as 10s, 15m or 24h, found "${value}"` });
        }
      }
    }),
  {
    type: "map of string to string",
    expected: "a mapping of setting names to string values",
    description:
      "Free-form settings, as in Skupper: names with string values. Skiff reads `link-certificate-validity` (default 24h) and `link-handshake-timeout` (default 10s), both durations.",
  },
);

const APPLICATION_TLS =
  "Skiff does not terminate application TLS; remove it and let the client and the server speak TLS to each other (Skiff carries the bytes unchanged)";

const TcpType = withMeta(z.literal("tcp").optional(), {
  type: "`tcp`",
  expected: "tcp",
  valueNotes: { udp: "Skiff carries TCP only; remove spec.type or set it to tcp" },
  description: "Accepted for Skupper files; Skiff carries TCP only, so the only value is `tcp`.",
});

// ---- resource specs -----------------------------------------------------------------

export const SiteSpec = withMeta(
  z.strictObject({
    linkAccess: withMeta(z.enum(["none", "default"]).default("none"), {
      type: "`none` or `default`",
      expected: "none or default",
      valueNotes: Object.fromEntries(
        ["route", "loadbalancer", "nodeport", "local", "ingress-nginx", "contour-http-proxy", "gateway"].map((v) => [
          v,
          `linkAccess: ${v} is Kubernetes-only; use default (and a RouterAccess to choose the address and port)`,
        ]),
      ),
      description:
        "`default` makes the site accept links from other sites. Without a RouterAccess it listens on 0.0.0.0:55671; a RouterAccess chooses the address and port (and also turns link access on by itself).",
    }),
    settings: Settings.default({}),
    stateDir: withMeta(z.string().min(1).optional(), {
      type: "path",
      expected: "a directory path",
      defaultText: "`.skiff/<site name>`",
      description:
        "Where the site keeps its CA, keys, certificates and admin port file. Relative to the config file's directory.",
    }),
    adminPort: withMeta(z.number().int().min(0).max(65535).default(0), {
      type: "integer 0-65535",
      expected: "an integer port between 0 and 65535 (0 picks a free port)",
      description:
        "Loopback port of the site's admin endpoint (status, token issue). 0 picks a free port; the running site writes the port it got into stateDir.",
    }),
    publicUrl: withMeta(
      z.string().refine((v) => urlWithScheme(v, ["ws:", "wss:"]) && !v.includes("?")).optional(),
      {
        type: "ws:// or wss:// URL",
        expected: "a ws:// or wss:// URL without query, such as wss://edge.example.com/skiff",
        description:
          "The URL at which other sites reach this site's link port when a proxy or load balancer sits in front. It stands for `ws://<host>:<port>/skiff`: Skiff appends its paths (`/v1/link`) to it. Used in the tokens this site issues.",
      },
    ),
    keepaliveIntervalSeconds: seconds(1, "How often an idle link sends a ping."),
    keepaliveTimeoutSeconds: seconds(
      5,
      "A link that receives nothing for this long is declared down (and redialled if this site made it). Must be greater than keepaliveIntervalSeconds.",
    ),
    streamWindowBytes: intIn(
      16_384,
      16_777_216,
      1_048_576,
      "Credit window each stream starts with, in bytes: how much one connection may have in flight on a link before the receiver grants more. While the receiving side passes every byte straight on, the window grows up to 16 times this (the streams of one link by 15 times this together); a reader that pushes back keeps it here.",
      "bytes",
    ),
    maxStreamsPerLink: intIn(1, 1_000_000, 4096, "Most streams (TCP connections) open at once on one link."),
    maxPendingBytes: intIn(
      1_048_576,
      68_719_476_736,
      67_108_864,
      "Most bytes this site holds at once for connections whose readers are slow; beyond it new connections are refused (reason Limit) and counted.",
      "bytes",
    ),
    edge: refused("Skiff has no edge routers: every site routes and may accept links; remove spec.edge"),
    ha: refused(
      "spec.ha is Kubernetes-only; for a second router run a second Skiff site and link it to the same sites",
    ),
    defaultIssuer: refused("spec.defaultIssuer is Kubernetes-only; Skiff keeps the site CA in spec.stateDir"),
    serviceAccount: refused("spec.serviceAccount is Kubernetes-only; remove it"),
  }),
  {
    type: "mapping",
    expected: "a mapping of Site fields",
    description: "The site this file describes. Exactly one per file; its name identifies the site in the network.",
  },
);

const RouterRole = withMeta(
  z.strictObject({
    name: withMeta(z.literal("inter-router"), {
      type: "`inter-router`",
      expected: "inter-router",
      valueNotes: {
        edge: "Skiff has no edge routers; use name: inter-router",
        normal: "the local management role has no place in Skiff; the admin endpoint is set by the Site's spec.adminPort",
      },
      description: "The role. Skiff has one: `inter-router`.",
    }),
    port: bindPort("The TCP port on which the site accepts links (WebSocket upgrades)."),
  }),
  { type: "mapping", expected: "a mapping with name and port", description: "One role." },
);

export const RouterAccessSpec = withMeta(
  z.strictObject({
    bindHost: host("The address the link port listens on.", "0.0.0.0"),
    roles: withMeta(z.array(RouterRole).min(1), {
      type: "list of {name, port}",
      expected: "a list with one role, e.g. [{name: inter-router, port: 55671}]",
      description: "Exactly one role, `inter-router`, with the port on which other sites link to this one.",
    }),
    tls: withMeta(
      z
        .strictObject({
          certificateFile: filePath("PEM certificate chain served on the link port."),
          privateKeyFile: filePath("PEM private key of that certificate."),
        })
        .optional(),
      {
        type: "{certificateFile, privateKeyFile}",
        expected: "a mapping with certificateFile and privateKeyFile",
        description:
          "Serve wss:// on the link port with this certificate. Without it the port serves ws://; the link is still authenticated and encrypted inside the WebSocket.",
      },
    ),
    accessType: refused(
      "spec.accessType is Kubernetes-only; Skiff listens on spec.bindHost and the inter-router port, and the Site's spec.publicUrl names the address in front of it",
    ),
    generateTlsCredentials: withMeta(z.boolean().default(false), {
      type: "boolean",
      expected: "true or false",
      description:
        "Serve wss:// on the link port with a server certificate this site's CA issues at start. Sites that redeem this site's tokens get the CA with the token, so they trust it with no further set-up. Cannot be combined with spec.tls.",
    }),
    subjectAlternativeNames: withMeta(z.array(z.string().regex(HOST_RE)).optional(), {
      type: "list of host names or IP addresses",
      expected: "a list of host names or IP addresses, e.g. [skiff.example.com, 10.0.0.5]",
      description:
        "With generateTlsCredentials: the names the generated certificate covers. Default: the host of the Site's publicUrl, bindHost when it is an address other than 0.0.0.0, 127.0.0.1 and localhost.",
    }),
    issuer: refused("spec.issuer is Kubernetes-only; Skiff issues link certificates from the site CA in the Site's stateDir"),
    tlsCredentials: refused(
      "spec.tlsCredentials names a Kubernetes Secret; to serve wss:// set spec.generateTlsCredentials: true, or spec.tls.certificateFile and spec.tls.privateKeyFile",
    ),
  }),
  {
    type: "mapping",
    expected: "a mapping of RouterAccess fields",
    description:
      "Where this site accepts links from other sites. At most one per file; having one turns link access on.",
  },
);

export const ListenerSpec = withMeta(
  z.strictObject({
    routingKey: RoutingKey,
    host: host("The address the listener binds for local clients.", "127.0.0.1"),
    port: bindPort("The port local clients connect to."),
    type: TcpType,
    tlsCredentials: refused(APPLICATION_TLS),
    exposePodsByName: refused(
      "spec.exposePodsByName is Kubernetes-only; write one Listener per server, each with its own routingKey",
    ),
    observer: refused("Skiff has no protocol observer; remove spec.observer"),
  }),
  {
    type: "mapping",
    expected: "a mapping with routingKey, host and port",
    description:
      "Accepts client TCP connections on this site and carries each to a Connector with the same routing key, on any site.",
  },
);

export const ConnectorSpec = withMeta(
  z.strictObject({
    routingKey: RoutingKey,
    host: host("The server's address. Required: Skiff dials it for each connection."),
    port: port("The server's port."),
    type: TcpType,
    selector: refused("selector is Kubernetes-only; set spec.host to the server's address"),
    includeNotReadyPods: refused("spec.includeNotReadyPods is Kubernetes-only; remove it (Skiff dials spec.host)"),
    exposePodsByName: refused(
      "spec.exposePodsByName is Kubernetes-only; write one Connector per server, each with its own routingKey",
    ),
    tlsCredentials: refused(APPLICATION_TLS),
    useClientCert: refused(APPLICATION_TLS),
    verifyHostname: refused(APPLICATION_TLS),
    observer: refused("Skiff has no protocol observer; remove spec.observer"),
  }),
  {
    type: "mapping",
    expected: "a mapping with routingKey, host and port",
    description: "Dials the real server on this site for connections that arrive with its routing key.",
  },
);

const LinkEndpoint = withMeta(
  z.strictObject({
    name: withMeta(z.literal("inter-router"), {
      type: "`inter-router`",
      expected: "inter-router",
      valueNotes: { edge: "Skiff has no edge routers; use name: inter-router" },
      description: "The role of the remote port. Skiff has one: `inter-router`.",
    }),
    host: host("The remote site's host."),
    port: port("The remote site's link port."),
  }),
  { type: "mapping", expected: "a mapping with name, host and port", description: "One endpoint." },
);

export const LinkSpec = withMeta(
  z.strictObject({
    endpoints: withMeta(z.array(LinkEndpoint).optional(), {
      type: "list of {name, host, port}",
      expected: "a list with one endpoint, e.g. [{name: inter-router, host: west.example.com, port: 55671}]",
      description: `The remote site's link port, as in Skupper. The link URL is then \`ws://<host>:<port>${LINK_PATH}\` (\`wss://\` with \`tls: true\`). Give this or \`url\`, not both.`,
    }),
    url: withMeta(
      z.string().refine((v) => urlWithScheme(v, ["ws:", "wss:"])).optional(),
      {
        type: "ws:// or wss:// URL",
        expected: `a ws:// or wss:// URL such as wss://west.example.com${LINK_PATH}`,
        description: "The remote site's link URL, used as given (for a site behind a proxy). Give this or `endpoints`, not both.",
      },
    ),
    tls: withMeta(z.boolean().default(false), {
      type: "boolean",
      expected: "true or false",
      description: "Build a wss:// URL from the endpoint. With `url`, it must agree with the URL's scheme.",
    }),
    caFile: withMeta(z.string().min(1).optional(), {
      type: "path",
      expected: "a file path (relative paths are taken from the config file's directory)",
      description:
        "PEM certificates to trust for the wss:// server, in addition to the system's. Only with wss://.",
    }),
    cost: intIn(1, 1_000_000, 1, "Routing cost of the link; paths with a lower total cost are preferred."),
    tlsCredentials: refused(
      "spec.tlsCredentials names a Kubernetes Secret; a Skiff link authenticates with the key and certificate this site got by redeeming an AccessToken; to trust a wss:// server set spec.caFile",
    ),
  }),
  {
    type: "mapping",
    expected: "a mapping with endpoints or url",
    description:
      "A link this site dials to another site. Its credentials come from redeeming an AccessToken (stored in stateDir under the same name); a Link resource may change the URL and cost of such a link.",
  },
);

export const AccessGrantSpec = withMeta(
  z.strictObject({
    redemptionsAllowed: intIn(1, 1_000_000, 1, "How many times tokens of this grant may be redeemed."),
    expirationWindow: withMeta(
      z
        .string()
        .refine((v) => {
          if (!isDuration(v)) return false;
          const ms = parseDuration(v);
          return ms >= MIN_EXPIRATION_WINDOW_MS && ms <= MAX_EXPIRATION_WINDOW_MS;
        })
        .default("15m"),
      {
        type: "duration 1s-24h",
        expected: "a duration from 1s to 24h such as 90s, 15m or 1h30m (units h, m, s, ms)",
        description:
          "How long the grant's tokens can be redeemed, counted from when the site first takes up the grant.",
      },
    ),
    code: withMeta(z.string().regex(CODE_RE).optional(), {
      type: "string",
      expected: "at least 43 base64url characters (A-Z, a-z, 0-9, '-', '_'), i.e. 256 bits",
      defaultText: "generated",
      description:
        "The secret code of the grant's tokens. Without it the site generates a random 256-bit code.",
    }),
    issuer: refused("spec.issuer is Kubernetes-only; Skiff signs link certificates with the site CA in the Site's stateDir"),
  }),
  {
    type: "mapping",
    expected: "a mapping of AccessGrant fields",
    description:
      "Lets this site issue AccessTokens that other sites redeem to link to it. Needs link access (a RouterAccess or `linkAccess: default`).",
  },
);

export const AccessTokenSpec = withMeta(
  z.strictObject({
    url: withMeta(z.string().refine((v) => urlWithScheme(v, ["https:", "http:"])), {
      type: "https:// URL",
      expected: "an https:// URL of the grant (http:// only on loopback for tests)",
      description: "The grant's redemption URL, from the issuing site.",
    }),
    code: withMeta(z.string().min(1), {
      type: "string",
      expected: "the grant's secret code",
      description: "The grant's secret code.",
    }),
    ca: withMeta(z.string().regex(PEM_CERT_RE), {
      type: "PEM",
      expected: "a PEM certificate (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----)",
      description: "The issuing site's CA certificate; the grant server and the link are checked against it.",
    }),
    linkCost: intIn(1, 1_000_000, 1, "Cost of the Link made when the token is redeemed."),
  }),
  {
    type: "mapping",
    expected: "a mapping with url, code and ca",
    description: "A token from another site's AccessGrant; the site redeems it at start and links to the issuer.",
  },
);

export const SPEC_SCHEMAS = {
  Site: SiteSpec,
  RouterAccess: RouterAccessSpec,
  Listener: ListenerSpec,
  Connector: ConnectorSpec,
  Link: LinkSpec,
  AccessGrant: AccessGrantSpec,
  AccessToken: AccessTokenSpec,
} as const satisfies Record<Kind, z.ZodType>;

export const ApiVersion = withMeta(z.literal(API_VERSION), {
  type: "`skupper.io/v2alpha1`",
  expected: API_VERSION,
  description: "Always `skupper.io/v2alpha1`, as in Skupper v2.",
});

export const Metadata = withMeta(
  z.strictObject({
    name: Name,
    namespace: refused("Skiff has no namespaces: one file describes one site; remove metadata.namespace"),
  }),
  { type: "mapping", expected: "a mapping with name", description: "The resource's metadata." },
);

/** Message for a `status` block copied from Skupper output. */
export const STATUS_REFUSED = "status is written by a running site, not read from its configuration; remove it";

function resourceSchema<K extends Kind, S extends z.ZodType>(kind: K, spec: S) {
  return z.strictObject({
    apiVersion: ApiVersion,
    kind: z.literal(kind),
    metadata: Metadata,
    spec,
    status: refused(STATUS_REFUSED),
  });
}

/** Whole resources by kind. Site and AccessGrant may leave out spec: every field has a default. */
export const RESOURCE_SCHEMAS = {
  Site: resourceSchema("Site", SiteSpec.prefault({})),
  RouterAccess: resourceSchema("RouterAccess", RouterAccessSpec),
  Listener: resourceSchema("Listener", ListenerSpec),
  Connector: resourceSchema("Connector", ConnectorSpec),
  Link: resourceSchema("Link", LinkSpec),
  AccessGrant: resourceSchema("AccessGrant", AccessGrantSpec.prefault({})),
  AccessToken: resourceSchema("AccessToken", AccessTokenSpec),
} as const;

export type SiteResource = z.output<(typeof RESOURCE_SCHEMAS)["Site"]>;
export type RouterAccessResource = z.output<(typeof RESOURCE_SCHEMAS)["RouterAccess"]>;
export type ListenerResource = z.output<(typeof RESOURCE_SCHEMAS)["Listener"]>;
export type ConnectorResource = z.output<(typeof RESOURCE_SCHEMAS)["Connector"]>;
export type LinkResource = z.output<(typeof RESOURCE_SCHEMAS)["Link"]>;
export type AccessGrantResource = z.output<(typeof RESOURCE_SCHEMAS)["AccessGrant"]>;
export type AccessTokenResource = z.output<(typeof RESOURCE_SCHEMAS)["AccessToken"]>;

export function isKind(value: unknown): value is Kind {
  return typeof value === "string" && (KINDS as readonly string[]).includes(value);
}

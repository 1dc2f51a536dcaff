import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../src/config/load.ts";
import { ConfigError, ErrorCode } from "../../../src/errors.ts";
import { badFixture, problems } from "./fixtures.ts";

const NAME_RULE =
  "a name of at most 63 lowercase letters, digits and '-' that starts and ends with a letter or digit (a DNS-1123 label)";
const KIND_LIST = "Site, RouterAccess, Listener, Connector, Link, AccessGrant, AccessToken";
const DURATION_RULE = "a duration from 1s to 24h such as 90s, 15m or 1h30m (units h, m, s, ms)";

describe("parseConfig() rejects invalid files, naming file, line, column, resource and field", () => {
  it("throws a ConfigError with code ERR_CONFIG and one line per problem", () => {
    let thrown: unknown;
    try {
      parseConfig("no-site.yaml", "");
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    const error = thrown as ConfigError;
    expect(error.code).toBe(ErrorCode.Config);
    expect(error.issues).toEqual([
      {
        file: "no-site.yaml",
        line: 1,
        column: 1,
        message:
          "no Site in this file; add a resource with kind: Site and metadata.name (the site's name), e.g. apiVersion: skupper.io/v2alpha1, kind: Site, metadata: {name: west}",
      },
    ]);
    expect(error.message).toBe(
      "Configuration has 1 problem:\n  no-site.yaml:1:1: no Site in this file; add a resource with kind: Site and metadata.name (the site's name), e.g. apiVersion: skupper.io/v2alpha1, kind: Site, metadata: {name: west}",
    );
  });

  it("reports a YAML syntax error at its position", () => {
    expect(badFixture("syntax.yaml")).toEqual([
      "syntax.yaml:7:3: invalid YAML: Flow map in block collection must be sufficiently indented and end with a }; fix the syntax here",
    ]);
  });

  it("reports a JSON syntax error as JSON", () => {
    expect(problems("site.json", '{"apiVersion": "skupper.io/v2alpha1",\n "kind": "Site"\n "metadata": {}}')).toEqual([
      "site.json:3:2: invalid JSON: Missing , between flow map items; fix the syntax here",
    ]);
  });

  it("reports a duplicate YAML key", () => {
    expect(problems("a.yaml", "apiVersion: skupper.io/v2alpha1\nkind: Site\nkind: Site\nmetadata: {name: a}\n")).toEqual([
      "a.yaml:3:1: invalid YAML: Map keys must be unique; fix the syntax here",
    ]);
  });

  it("lists the kinds it knows for an unknown kind, with advice for Skupper kinds Skiff lacks", () => {
    expect(badFixture("unknown-kind.yaml")).toEqual([
      `unknown-kind.yaml:7:7: Service/web kind: unknown kind "Service"; expected one of ${KIND_LIST}`,
      `unknown-kind.yaml:12:7: MultiKeyListener/db kind: unknown kind "MultiKeyListener"; expected one of ${KIND_LIST} (Skiff has no MultiKeyListener; write one Listener per routing key)`,
    ]);
  });

  it("says which apiVersion it expects when it is wrong or missing", () => {
    expect(badFixture("api-version.yaml")).toEqual([
      'api-version.yaml:1:13: Site/west apiVersion: expected skupper.io/v2alpha1, found "skupper.io/v1alpha1"',
      "api-version.yaml:6:1: Listener/web apiVersion: missing; expected apiVersion: skupper.io/v2alpha1",
    ]);
  });

  it("points a missing spec.port at its spec key, and a missing spec at the resource's start", () => {
    expect(badFixture("missing-port.yaml")).toEqual([
      "missing-port.yaml:10:1: Listener/backend spec.port: missing; expected an integer port between 0 and 65535 (0 picks a free port)",
      "missing-port.yaml:14:1: Connector/backend spec: missing; expected a mapping with routingKey, host and port",
    ]);
  });

  it("refuses ports that are not integers between 1 and 65535, quoted ones included", () => {
    expect(badFixture("port-range.yaml")).toEqual([
      'port-range.yaml:12:9: Listener/backend spec.port: expected an integer port between 0 and 65535 (0 picks a free port), found "80a"',
      "port-range.yaml:21:9: Connector/backend spec.port: expected an integer port between 1 and 65535, found 70000",
      'port-range.yaml:31:13: Link/to-east spec.endpoints[0].port: expected an integer port between 1 and 65535, found "55671"',
    ]);
  });

  it("gives positions inside JSON, tabs included", () => {
    expect(badFixture("port.json")).toEqual([
      "port.json:5:24: Site/tabbed spec.adminPort: expected an integer port between 0 and 65535 (0 picks a free port), found 70000",
    ]);
  });

  it("names an unknown field, suggests a near spelling and lists the accepted fields", () => {
    expect(badFixture("unknown-field.yaml")).toEqual([
      'unknown-field.yaml:5:3: Site/west metadata.labels: unknown field "labels"; accepted fields are name',
      'unknown-field.yaml:8:3: Site/west spec.linkAcess: unknown field "linkAcess" (did you mean linkAccess?); accepted fields are linkAccess, settings, stateDir, adminPort, publicUrl, keepaliveIntervalSeconds, keepaliveTimeoutSeconds, streamWindowBytes, maxStreamsPerLink, maxPendingBytes',
      "unknown-field.yaml:17:13: Listener/web spec.observer: Skiff has no protocol observer; remove spec.observer",
    ]);
  });

  it("refuses a Connector's Kubernetes selector and asks for spec.host", () => {
    expect(badFixture("selector.yaml")).toEqual([
      "selector.yaml:10:1: Connector/backend spec.host: missing; expected a host name or IP address such as 127.0.0.1",
      "selector.yaml:12:13: Connector/backend spec.selector: selector is Kubernetes-only; set spec.host to the server's address",
    ]);
  });

  it("refuses exposePodsByName and includeNotReadyPods as Kubernetes-only", () => {
    expect(badFixture("expose-pods.yaml")).toEqual([
      "expose-pods.yaml:13:21: Listener/db spec.exposePodsByName: spec.exposePodsByName is Kubernetes-only; write one Listener per server, each with its own routingKey",
      "expose-pods.yaml:23:21: Connector/db spec.exposePodsByName: spec.exposePodsByName is Kubernetes-only; write one Connector per server, each with its own routingKey",
      "expose-pods.yaml:24:24: Connector/db spec.includeNotReadyPods: spec.includeNotReadyPods is Kubernetes-only; remove it (Skiff dials spec.host)",
    ]);
  });

  it("refuses an edge role and Kubernetes-only RouterAccess fields", () => {
    expect(badFixture("router-access.yaml")).toEqual([
      "router-access.yaml:11:15: RouterAccess/west-access spec.accessType: spec.accessType is Kubernetes-only; Skiff listens on spec.bindHost and the inter-router port, and the Site's spec.publicUrl names the address in front of it",
      "router-access.yaml:12:19: RouterAccess/west-access spec.tlsCredentials: spec.tlsCredentials names a Kubernetes Secret; to serve wss:// set spec.generateTlsCredentials: true, or spec.tls.certificateFile and spec.tls.privateKeyFile",
      "router-access.yaml:16:13: RouterAccess/west-access spec.roles[1].name: Skiff has no edge routers; use name: inter-router",
    ]);
  });

  it("names both lines of a duplicate Listener name, while a Connector may share it", () => {
    expect(badFixture("duplicate-names.yaml")).toEqual([
      "duplicate-names.yaml:26:9: Listener/web metadata.name: Listener/web is defined twice, at line 9 and at line 26; give each Listener its own name",
    ]);
  });

  it("refuses listeners that share a port on one address, or with a wildcard, or with the link or admin port", () => {
    expect(badFixture("same-port.yaml")).toEqual([
      "same-port.yaml:32:9: Listener/web-again spec.port: port 8080 on 127.0.0.1 is already taken by Listener/web (line 23, host 127.0.0.1); give each Listener its own port",
      "same-port.yaml:41:9: Listener/everywhere spec.port: port 8080 on 0.0.0.0 is already taken by Listener/web (line 23, host 127.0.0.1); give each Listener its own port",
      "same-port.yaml:67:9: Listener/on-link-port spec.port: port 55671 is the link port of RouterAccess/links (line 8); choose another port for this Listener",
      "same-port.yaml:75:9: Listener/on-admin-port spec.port: port 7000 is the Site's adminPort; choose another port for this Listener",
    ]);
  });

  it("refuses a second Site and a second RouterAccess", () => {
    expect(badFixture("two-sites.yaml")).toEqual([
      "two-sites.yaml:7:7: Site/east kind: a file describes exactly one Site and Site/west is already at line 1; move Site/east to a file of its own",
      "two-sites.yaml:19:7: RouterAccess/b kind: a site has at most one RouterAccess and RouterAccess/a is already at line 11; remove RouterAccess/b or merge the two",
    ]);
  });

  it("asks for a Site when the file has none", () => {
    expect(badFixture("no-site.yaml")).toEqual([
      "no-site.yaml:1:1: no Site in this file; add a resource with kind: Site and metadata.name (the site's name), e.g. apiVersion: skupper.io/v2alpha1, kind: Site, metadata: {name: west}",
    ]);
  });

  it("explains the naming rule for a bad or missing metadata.name", () => {
    expect(badFixture("bad-name.yaml")).toEqual([
      `bad-name.yaml:4:9: Site/West_Coast metadata.name: expected ${NAME_RULE}, found "West_Coast"`,
      `bad-name.yaml:9:9: Listener/this-name-is-far-too-long-for-a-dns-label-because-it-has-64-chars metadata.name: expected ${NAME_RULE}, found "this-name-is-far-too-long-for-a-dns-label-because-it-has-..."`,
      `bad-name.yaml:16:1: Connector metadata.name: missing; expected ${NAME_RULE}`,
    ]);
  });

  it("refuses durations without a unit, with an unknown unit, or longer than 24h", () => {
    expect(badFixture("bad-duration.yaml")).toEqual([
      `bad-duration.yaml:13:21: AccessGrant/two-days spec.expirationWindow: expected ${DURATION_RULE}, found "2d"`,
      `bad-duration.yaml:20:21: AccessGrant/too-long spec.expirationWindow: expected ${DURATION_RULE}, found "25h"`,
      `bad-duration.yaml:27:21: AccessGrant/number spec.expirationWindow: expected ${DURATION_RULE}, found 15`,
    ]);
  });

  it("checks Links: url or endpoint, not both; caFile only with wss; no Kubernetes Secret; grants need link access", () => {
    expect(badFixture("links.yaml")).toEqual([
      "links.yaml:11:3: Link/neither spec: expected spec.url (the remote site's ws:// or wss:// link URL) or spec.endpoints: [{name: inter-router, host, port}], found neither",
      "links.yaml:18:8: Link/both spec.url: give spec.url or spec.endpoints, not both",
      "links.yaml:30:11: Link/plain-with-ca spec.caFile: spec.caFile is used only with wss://; remove it or use a wss:// URL",
      "links.yaml:37:19: Link/secret spec.tlsCredentials: spec.tlsCredentials names a Kubernetes Secret; a Skiff link authenticates with the key and certificate this site got by redeeming an AccessToken; to trust a wss:// server set spec.caFile",
      'links.yaml:38:8: Link/secret spec.url: expected a ws:// or wss:// URL such as wss://west.example.com/skiff/v1/link, found "https://east.example.com/skiff/v1/link"',
      "links.yaml:41:7: AccessGrant/nobody-can-link kind: an AccessGrant needs a site that accepts links; set the Site's spec.linkAccess: default or add a RouterAccess",
    ]);
  });

  it("reports every problem of every resource at once, in file order", () => {
    expect(badFixture("many.yaml")).toEqual([
      "many.yaml:6:15: Site/west spec.linkAccess: linkAccess: loadbalancer is Kubernetes-only; use default (and a RouterAccess to choose the address and port)",
      "many.yaml:14:9: Listener/web spec.port: expected an integer port between 0 and 65535 (0 picks a free port), found 70000",
      "many.yaml:20:1: Connector/db spec.host: missing; expected a host name or IP address such as 127.0.0.1",
      "many.yaml:22:13: Connector/db spec.selector: selector is Kubernetes-only; set spec.host to the server's address",
      "many.yaml:30:9: Link/to-east spec.cost: expected an integer between 1 and 1000000, found 0",
      "many.yaml:36:1: AccessToken/from-east spec.ca: missing; expected a PEM certificate (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----)",
      'many.yaml:37:8: AccessToken/from-east spec.url: expected an https:// URL of the grant (http:// only on loopback for tests), found "ftp://east.example.com/grant"',
    ]);
  });
});

describe("parseConfig() rules inside one resource", () => {
  const site = "apiVersion: skupper.io/v2alpha1\nkind: Site\nmetadata: {name: a}\n";

  it("wants keepaliveTimeoutSeconds greater than keepaliveIntervalSeconds", () => {
    expect(problems("a.yaml", site + "spec: {keepaliveIntervalSeconds: 5, keepaliveTimeoutSeconds: 5}\n")).toEqual([
      "a.yaml:4:62: Site/a spec.keepaliveTimeoutSeconds: expected more seconds than keepaliveIntervalSeconds (5), found 5; raise the timeout or lower the interval",
    ]);
  });

  it("bounds streamWindowBytes between 16 KiB and 16 MiB", () => {
    expect(problems("a.yaml", site + "spec: {streamWindowBytes: 1024}\n")).toEqual([
      "a.yaml:4:27: Site/a spec.streamWindowBytes: expected an integer between 16384 and 16777216 bytes, found 1024",
    ]);
  });

  it("wants publicUrl to be a ws:// or wss:// URL", () => {
    expect(problems("a.yaml", site + "spec: {publicUrl: https://edge.example.com}\n")).toEqual([
      'a.yaml:4:19: Site/a spec.publicUrl: expected a ws:// or wss:// URL without query, such as wss://edge.example.com/skiff, found "https://edge.example.com"',
    ]);
  });

  it("refuses Skupper's edge, ha and Kubernetes namespaces on a Site", () => {
    const text =
      "apiVersion: skupper.io/v2alpha1\nkind: Site\nmetadata: {name: a, namespace: shop}\nspec: {edge: true, ha: false}\n";
    expect(problems("a.yaml", text)).toEqual([
      "a.yaml:3:32: Site/a metadata.namespace: Skiff has no namespaces: one file describes one site; remove metadata.namespace",
      "a.yaml:4:14: Site/a spec.edge: Skiff has no edge routers: every site routes and may accept links; remove spec.edge",
      "a.yaml:4:24: Site/a spec.ha: spec.ha is Kubernetes-only; for a second router run a second Skiff site and link it to the same sites",
    ]);
  });

  it("refuses a status block copied from Skupper output", () => {
    expect(problems("a.yaml", site + "status: {status: Ready}\n")).toEqual([
      "a.yaml:4:9: Site/a status: status is written by a running site, not read from its configuration; remove it",
    ]);
  });

  it("wants a quoted string for every settings value", () => {
    expect(problems("a.yaml", site + "spec:\n  settings:\n    router-data-connection-count: 4\n")).toEqual([
      'a.yaml:6:35: Site/a spec.settings.router-data-connection-count: expected a string (quote numbers and booleans, e.g. "4"), found 4',
    ]);
  });

  it("refuses a RouterAccess with two inter-router roles", () => {
    const text = site + "---\napiVersion: skupper.io/v2alpha1\nkind: RouterAccess\nmetadata: {name: r}\nspec:\n  roles:\n    - {name: inter-router, port: 1}\n    - {name: inter-router, port: 2}\n";
    expect(problems("a.yaml", text)).toEqual([
      "a.yaml:11:7: RouterAccess/r spec.roles[1]: a Skiff site has one link port; keep a single inter-router role",
    ]);
  });

  it("refuses a Link whose tls disagrees with its URL", () => {
    const text = site + "---\napiVersion: skupper.io/v2alpha1\nkind: Link\nmetadata: {name: l}\nspec: {url: 'ws://b:1/skiff/v1/link', tls: true}\n";
    expect(problems("a.yaml", text)).toEqual([
      "a.yaml:8:44: Link/l spec.tls: tls: true disagrees with the URL's ws:// scheme; remove spec.tls (the URL decides)",
    ]);
  });

  it("wants an AccessGrant code of at least 256 bits in base64url", () => {
    const text = site.replace("{name: a}", "{name: a}\nspec: {linkAccess: default}") + "---\napiVersion: skupper.io/v2alpha1\nkind: AccessGrant\nmetadata: {name: g}\nspec: {code: short}\n";
    expect(problems("a.yaml", text)).toEqual([
      "a.yaml:9:14: AccessGrant/g spec.code: expected at least 43 base64url characters (A-Z, a-z, 0-9, '-', '_'), i.e. 256 bits, found \"short\"",
    ]);
  });

  it("points an empty value at its key", () => {
    const text = site + "---\napiVersion: skupper.io/v2alpha1\nkind: Listener\nmetadata: {name: l}\nspec:\n  routingKey: k\n  port:\n";
    expect(problems("a.yaml", text)).toEqual([
      "a.yaml:10:3: Listener/l spec.port: expected an integer port between 0 and 65535 (0 picks a free port), found an empty value",
    ]);
  });

  it("refuses a document that is not a mapping", () => {
    expect(problems("a.yaml", site + "---\n- just a list item\n")).toEqual([
      'a.yaml:5:3: expected a resource: a mapping with apiVersion, kind, metadata and spec, found "just a list item"',
    ]);
  });

  it("does not report a missing Site when a document could not be parsed", () => {
    expect(problems("a.yaml", "kind: Site\nmetadata: {name: a\n")).toEqual([
      "a.yaml:3:1: invalid YAML: Flow map in block collection must be sufficiently indented and end with a }; fix the syntax here",
    ]);
  });
});

describe("parseConfig() port checks against the link port", () => {
  it("counts 55671 as taken when linkAccess: default has no RouterAccess", () => {
    const text =
      "apiVersion: skupper.io/v2alpha1\nkind: Site\nmetadata: {name: a}\nspec: {linkAccess: default, adminPort: 55671}\n---\n" +
      "apiVersion: skupper.io/v2alpha1\nkind: Listener\nmetadata: {name: l}\nspec: {routingKey: k, port: 55671}\n";
    expect(problems("a.yaml", text)).toEqual([
      "a.yaml:4:40: Site/a spec.adminPort: port 55671 is also the Site's link port (linkAccess: default listens on 55671 without a RouterAccess); choose another adminPort",
      "a.yaml:9:29: Listener/l spec.port: port 55671 is the Site's link port (linkAccess: default listens on 55671 without a RouterAccess); choose another port for this Listener",
    ]);
  });
});

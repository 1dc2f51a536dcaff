import { describe, expect, it } from "vitest";
import { parseConfig, type SiteConfig } from "../../../src/config/load.ts";
import { fixture } from "./fixtures.ts";

describe("parseConfig() on valid files", () => {
  it("fills every default for a file holding only a Site", () => {
    const config = parseConfig("/etc/skiff/west.yaml", fixture("minimal.yaml"));
    expect(config).toEqual({
      file: "/etc/skiff/west.yaml",
      site: {
        name: "west",
        linkAccess: "none",
        settings: {},
        stateDir: "/etc/skiff/.skiff/west",
        adminPort: 0,
        keepaliveIntervalMs: 1000,
        keepaliveTimeoutMs: 5000,
        streamWindowBytes: 1048576,
        maxStreamsPerLink: 4096,
        maxPendingBytes: 67108864,
      },
      listeners: [],
      connectors: [],
      links: [],
      accessGrants: [],
      accessTokens: [],
    } satisfies SiteConfig);
  });

  it("resolves every kind of resource, with paths taken from the config file's directory", () => {
    const config = parseConfig("/srv/east/site.yaml", fixture("full.yaml"));
    expect(config.site).toEqual({
      name: "east",
      linkAccess: "default",
      settings: { "router-logging": "info" },
      stateDir: "/var/lib/skiff/east",
      adminPort: 9090,
      publicUrl: "wss://edge.example.com/skiff",
      keepaliveIntervalMs: 500,
      keepaliveTimeoutMs: 3000,
      streamWindowBytes: 65536,
      maxStreamsPerLink: 100,
      maxPendingBytes: 67108864,
    });
    expect(config.routerAccess).toEqual({
      name: "east-access",
      bindHost: "10.0.0.5",
      port: 55671,
      tls: { certificateFile: "/srv/east/certs/server.crt", privateKeyFile: "/srv/keys/server.key" },
    });
    expect(config.listeners).toEqual([
      { name: "orders-db", routingKey: "orders-db", host: "127.0.0.1", port: 15432 },
      { name: "web", routingKey: "web", host: "0.0.0.0", port: 8080 },
    ]);
    expect(config.connectors).toEqual([{ name: "backend", routingKey: "backend", host: "127.0.0.1", port: 9000 }]);
    expect(config.links).toEqual([
      {
        name: "to-west",
        url: "wss://west.example.com:55671/skiff/v1/link",
        cost: 2,
        caFile: "/srv/east/certs/west-ca.pem",
      },
      { name: "to-north", url: "wss://north.example.com/tunnel/skiff/v1/link", cost: 1 },
      { name: "to-south", url: "ws://[::1]:55672/skiff/v1/link", cost: 1 },
    ]);
    expect(config.accessGrants).toEqual([
      {
        name: "for-west",
        redemptionsAllowed: 3,
        expirationWindowMs: 90 * 60_000,
        code: "6f3xQm2Vb9-Jk_Lr4Tn8Wc1Yd5Ze7Af0Bg2Ch4Di6Ek",
      },
      { name: "default-window", redemptionsAllowed: 1, expirationWindowMs: 15 * 60_000 },
    ]);
    expect(config.accessTokens).toHaveLength(1);
    expect(config.accessTokens[0]).toMatchObject({
      name: "from-north",
      url: "https://north.example.com:8443/skiff/v1/grants/3f2a",
      code: "Zx8yW7vU6tS5rQ4pO3nM2lK1jI0hG9fE8dC7bA6zY5x",
      linkCost: 5,
    });
    expect(config.accessTokens[0]!.ca).toMatch(/^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n$/);
  });

  it("reads a JSON array of resources", () => {
    const config = parseConfig("site.json", fixture("site.json"));
    expect(config.site.name).toBe("json-site");
    expect(config.site.stateDir).toBe(".skiff/json-site");
    expect(config.connectors).toEqual([{ name: "db", routingKey: "db", host: "db.internal", port: 5432 }]);
  });

  it("reads a single JSON object and a YAML flow mapping alike", () => {
    const json = '{"apiVersion": "skupper.io/v2alpha1", "kind": "Site", "metadata": {"name": "a"}}';
    expect(parseConfig("a.json", json).site.name).toBe("a");
    expect(parseConfig("a.yaml", json).site.name).toBe("a");
  });

  it("makes up a RouterAccess on 0.0.0.0:55671 for linkAccess: default without one", () => {
    const text = "apiVersion: skupper.io/v2alpha1\nkind: Site\nmetadata: {name: hub}\nspec: {linkAccess: default}\n";
    expect(parseConfig("hub.yaml", text).routerAccess).toEqual({ name: "hub", bindHost: "0.0.0.0", port: 55671 });
  });

  it("turns on link access when a RouterAccess is present, whatever linkAccess says", () => {
    const text = [
      "apiVersion: skupper.io/v2alpha1\nkind: Site\nmetadata: {name: hub}",
      "apiVersion: skupper.io/v2alpha1\nkind: RouterAccess\nmetadata: {name: hub}\nspec: {roles: [{name: inter-router, port: 8443}]}",
    ].join("\n---\n");
    const config = parseConfig("hub.yaml", text);
    expect(config.site.linkAccess).toBe("none");
    expect(config.routerAccess).toEqual({ name: "hub", bindHost: "0.0.0.0", port: 8443 });
  });

  it("makes paths absolute against options.cwd when the file path is relative", () => {
    const config = parseConfig("conf/site.yaml", fixture("minimal.yaml"), { cwd: "/home/ada" });
    expect(config.file).toBe("conf/site.yaml");
    expect(config.site.stateDir).toBe("/home/ada/conf/.skiff/west");
  });

  it("keeps a relative file's paths relative when no cwd is given", () => {
    expect(parseConfig("site.yaml", fixture("minimal.yaml")).site.stateDir).toBe(".skiff/west");
    expect(parseConfig("../conf/site.yaml", fixture("minimal.yaml")).site.stateDir).toBe("../conf/.skiff/west");
  });

  it("accepts Skupper's spec.type: tcp on listeners and connectors", () => {
    const text = [
      "apiVersion: skupper.io/v2alpha1\nkind: Site\nmetadata: {name: a}",
      "apiVersion: skupper.io/v2alpha1\nkind: Connector\nmetadata: {name: c}\nspec: {routingKey: k, host: h, port: 1, type: tcp}",
    ].join("\n---\n");
    expect(parseConfig("a.yaml", text).connectors).toEqual([{ name: "c", routingKey: "k", host: "h", port: 1 }]);
  });

  it("skips empty documents and comments between resources", () => {
    const text = "# west\n---\n---\napiVersion: skupper.io/v2alpha1\nkind: Site\nmetadata: {name: west}\n---\n# end\n";
    expect(parseConfig("a.yaml", text).site.name).toBe("west");
  });

  it("builds a wss:// URL from an endpoint when tls is true", () => {
    const text = [
      "apiVersion: skupper.io/v2alpha1\nkind: Site\nmetadata: {name: a}",
      "apiVersion: skupper.io/v2alpha1\nkind: Link\nmetadata: {name: l}\nspec:\n  tls: true\n  endpoints: [{name: inter-router, host: b.example, port: 443}]",
    ].join("\n---\n");
    expect(parseConfig("a.yaml", text).links).toEqual([{ name: "l", url: "wss://b.example:443/skiff/v1/link", cost: 1 }]);
  });
});

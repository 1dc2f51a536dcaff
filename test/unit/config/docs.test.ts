import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { fieldTable, renderFieldReference } from "../../../src/config/docs.ts";
import { parseConfig } from "../../../src/config/load.ts";

const DOC = fileURLToPath(new URL("../../../docs/configuration.md", import.meta.url));
const START = "<!-- fields:start -->\n";
const END = "<!-- fields:end -->";

describe("docs/configuration.md", () => {
  it("holds the field reference generated from the schemas (UPDATE_DOCS=1 rewrites it)", () => {
    const doc = readFileSync(DOC, "utf8");
    const from = doc.indexOf(START) + START.length;
    const to = doc.indexOf(END);
    expect(from).toBeGreaterThan(START.length - 1);
    expect(to).toBeGreaterThan(from - 1);
    const generated = renderFieldReference() + "\n";
    if (process.env["UPDATE_DOCS"] === "1") {
      writeFileSync(DOC, doc.slice(0, from) + generated + doc.slice(to));
      return;
    }
    expect(doc.slice(from, to)).toBe(generated);
  });

  it("has examples that parseConfig accepts", () => {
    const doc = readFileSync(DOC, "utf8");
    const examples = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(examples.length).toBeGreaterThanOrEqual(2);
    const [east, west] = examples.map((text, i) => parseConfig(`/etc/skiff/example-${i}.yaml`, text));
    expect(east!.routerAccess).toEqual({ name: "east-links", bindHost: "0.0.0.0", port: 55671 });
    expect(east!.connectors).toEqual([{ name: "orders-db", routingKey: "orders-db", host: "127.0.0.1", port: 5432 }]);
    expect(west!.links).toEqual([]);
    expect(west!.accessTokens).toEqual([
      expect.objectContaining({ name: "to-east", url: "http://east.example.com:55671/skiff/v1/redeem/2Ty2hRKb3Oq9n8BX0cW3mg", linkCost: 1 }),
    ]);
    expect(west!.listeners).toEqual([{ name: "orders-db", routingKey: "orders-db", host: "127.0.0.1", port: 15432 }]);
  });
});

describe("fieldTable()", () => {
  it("describes every accepted field with a type, a default and a meaning", () => {
    const { rows } = fieldTable();
    for (const row of rows) {
      expect(row.type, row.field).not.toBe("");
      expect(row.description, row.field).not.toBe("");
    }
    expect(rows.find((r) => r.kind === "Listener" && r.field === "spec.host")).toMatchObject({ default: "`127.0.0.1`" });
    expect(rows.find((r) => r.kind === "Site" && r.field === "spec.stateDir")).toMatchObject({ default: "`.skiff/<site name>`" });
  });

  it("lists the refused Skupper fields with their messages", () => {
    const { refused } = fieldTable();
    expect(refused).toContainEqual({
      kind: "Connector",
      field: "spec.selector",
      message: "selector is Kubernetes-only; set spec.host to the server's address",
    });
  });
});

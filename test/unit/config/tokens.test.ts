import { describe, expect, it } from "vitest";
import { parseAccessTokens } from "../../../src/config/load.ts";
import { ConfigError, formatConfigIssue } from "../../../src/errors.ts";

const CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const token = (name: string) =>
  `apiVersion: skupper.io/v2alpha1\nkind: AccessToken\nmetadata: {name: ${name}}\nspec:\n  url: https://east.example.com/skiff/v1/grants/1\n  code: secret\n  ca: |\n${CA.split("\n").filter(Boolean).map((l) => "    " + l).join("\n")}\n`;

function tokenProblems(text: string): string[] {
  try {
    parseAccessTokens("token.yaml", text);
  } catch (error) {
    if (error instanceof ConfigError) return error.issues.map(formatConfigIssue);
    throw error;
  }
  throw new Error("accepted");
}

describe("parseAccessTokens()", () => {
  it("reads a token file without a Site", () => {
    expect(parseAccessTokens("token.yaml", token("to-east"))).toEqual([
      { name: "to-east", url: "https://east.example.com/skiff/v1/grants/1", code: "secret", ca: CA, linkCost: 1 },
    ]);
  });

  it("refuses other kinds in a token file", () => {
    const text = token("t") + "---\napiVersion: skupper.io/v2alpha1\nkind: Site\nmetadata: {name: a}\n";
    expect(tokenProblems(text)).toEqual([
      "token.yaml:13:7: Site/a kind: a token file holds only AccessToken resources, found Site; move it to the site's configuration",
    ]);
  });

  it("refuses an empty token file", () => {
    expect(tokenProblems("# nothing\n")).toEqual([
      "token.yaml:1:1: no AccessToken in this file; expected a resource with kind: AccessToken",
    ]);
  });
});

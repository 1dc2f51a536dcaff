// `skiff run` command lines read without commander, and everything else left to it.

import { describe, expect, it } from "vitest";
import { plainRunOptions } from "../../../src/cli/main.ts";

describe("plainRunOptions", () => {
  it("reads well-formed run command lines", () => {
    expect(plainRunOptions(["run", "--config", "site.yaml"])).toEqual({ config: "site.yaml", logFormat: "text", logLevel: "info" });
    expect(plainRunOptions(["run", "-c", "a.yaml", "--log-format", "json", "--log-level=debug"])).toEqual({
      config: "a.yaml",
      logFormat: "json",
      logLevel: "debug",
    });
    expect(plainRunOptions(["run", "--config=x.yaml", "--config", "y.yaml"])?.config).toBe("y.yaml");
  });

  it("leaves other commands, mistakes and help to commander", () => {
    for (const args of [
      ["status", "--config", "site.yaml"],
      ["run"],
      ["run", "--config"],
      ["run", "--config", "--help"],
      ["run", "--help", "--config", "site.yaml"],
      ["run", "--config", "site.yaml", "--log-format", "xml"],
      ["run", "--config", "site.yaml", "--log-level", "verbose"],
      ["run", "--config", "site.yaml", "extra"],
      ["run", "-c=site.yaml"],
      ["run", "--config="],
    ]) {
      expect(plainRunOptions(args)).toBeUndefined();
    }
  });
});

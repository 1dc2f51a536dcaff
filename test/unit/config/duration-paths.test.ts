import { describe, expect, it } from "vitest";
import { formatDuration, isDuration, parseDuration } from "../../../src/config/duration.ts";
import { dirName, normalizePath, resolvePath } from "../../../src/config/paths.ts";

describe("parseDuration()", () => {
  it.each([
    ["500ms", 500],
    ["90s", 90_000],
    ["15m", 900_000],
    ["1h", 3_600_000],
    ["1h30m", 5_400_000],
    ["1m30s250ms", 90_250],
    ["1.5h", 5_400_000],
    ["0s", 0],
  ])("reads %s as %i ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
    expect(isDuration(text)).toBe(true);
  });

  it.each(["", "15", "2d", "1 h", "h1", "-5m", "1h 30m", "1.m"])("throws a RangeError for %j", (text) => {
    expect(() => parseDuration(text)).toThrow(
      new RangeError(`expected a duration such as 90s, 15m or 1h30m, found ${JSON.stringify(text)}`),
    );
    expect(isDuration(text)).toBe(false);
  });

  it("formatDuration() writes the shortest form that parses back to the same value", () => {
    for (const ms of [0, 1, 999, 1000, 61_000, 5_400_000, 86_400_000, 3_723_004]) {
      expect(parseDuration(formatDuration(ms))).toBe(ms);
    }
    expect(formatDuration(5_400_000)).toBe("1h30m");
  });
});

describe("resolvePath()", () => {
  it("keeps an absolute path, normalized", () => {
    expect(resolvePath("/etc/skiff", "/var/lib//skiff/./west/")).toBe("/var/lib/skiff/west");
  });

  it("takes a relative path from the base directory", () => {
    expect(resolvePath("/etc/skiff", "certs/ca.pem")).toBe("/etc/skiff/certs/ca.pem");
    expect(resolvePath("/etc/skiff", "../keys/k.pem")).toBe("/etc/keys/k.pem");
    expect(resolvePath(".", ".skiff/west")).toBe(".skiff/west");
    expect(resolvePath("..", "a/../../b")).toBe("../../b");
  });

  it("does not climb above the root", () => {
    expect(resolvePath("/", "../../x")).toBe("/x");
  });

  it("dirName() gives the directory of a file path", () => {
    expect(dirName("/etc/skiff/site.yaml")).toBe("/etc/skiff");
    expect(dirName("/site.yaml")).toBe("/");
    expect(dirName("site.yaml")).toBe(".");
    expect(dirName("./conf/site.yaml")).toBe("conf");
    expect(normalizePath("a/./b/../c")).toBe("a/c");
  });
});

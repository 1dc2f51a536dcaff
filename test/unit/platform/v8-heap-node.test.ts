// Node sites set V8's heap growing factor, unless whoever started the process chose one.

import { afterEach, describe, expect, it } from "vitest";
import { tuneHeapGrowth } from "../../../src/platform/v8-heap-node.ts";

describe("tuneHeapGrowth", () => {
  const saved = process.env.NODE_OPTIONS;
  afterEach(() => {
    if (saved === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = saved;
  });

  it("sets the factor in a process started without one", () => {
    delete process.env.NODE_OPTIONS;
    expect(tuneHeapGrowth()).toBe(process.execArgv.every((arg) => !arg.includes("heap-growing-percent")));
  });

  it("leaves a --heap-growing-percent given in NODE_OPTIONS alone", () => {
    process.env.NODE_OPTIONS = "--max-old-space-size=512 --heap-growing-percent=50";
    expect(tuneHeapGrowth()).toBe(false);
  });
});

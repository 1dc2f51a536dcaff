// One bulk transfer through one link, per runtime, next to a direct TCP copy
// measured in the same run. With --before REF, the same transfer through sites
// built from an earlier commit too (e.g. the last one before links were
// encrypted), in the same run:
//   node bin/run-ts.mjs scripts/throughput.ts [--size-mib 1024] [--runs 3] [--runtimes node,deno,bun] [--before REF]

import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { GiB, MiB, ROOT, resource, type Runtime, runtimeCommand, startPair, startSink, summary } from "./bench/lib.ts";
import { bulk as sendBulk } from "./bench/load.ts";

const { values } = parseArgs({
  options: {
    "size-mib": { type: "string", default: String(GiB / MiB) },
    runs: { type: "string", default: "3" },
    runtimes: { type: "string", default: "node,deno,bun" },
    before: { type: "string" },
  },
});
const size = Number(values["size-mib"]) * MiB;
const runs = Number(values.runs);
const runtimes = values.runtimes!.split(",") as Runtime[];

/** A checkout of `ref` beside this one, sharing node_modules. */
function checkout(ref: string): { root: string; remove(): void } {
  const root = mkdtempSync(path.join(tmpdir(), "skiff-before-"));
  execFileSync("git", ["-C", ROOT, "worktree", "add", "--detach", root, ref], { stdio: "ignore" });
  symlinkSync(path.join(ROOT, "node_modules"), path.join(root, "node_modules"));
  return {
    root,
    remove: () => {
      execFileSync("git", ["-C", ROOT, "worktree", "remove", "--force", root], { stdio: "ignore" });
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Two sites from an older tree whose links were plain `Link` resources with a URL. */
async function startOldPair(root: string, runtime: Runtime, targetPort: number): Promise<{ port: number; stop(): Promise<void> }> {
  const dir = mkdtempSync(path.join(tmpdir(), "skiff-before-sites-"));
  const children: ReturnType<typeof spawn>[] = [];
  const run = (name: string, yaml: string) => {
    const file = path.join(dir, `${name}.yaml`);
    writeFileSync(file, yaml);
    const [cmd, ...args] = runtimeCommand(runtime);
    const child = spawn(cmd!, [...args, path.join(root, "src/cli.ts"), "run", "--config", file], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout!.on("data", (d) => (output += d.toString()));
    child.stderr!.on("data", (d) => (output += d.toString()));
    children.push(child);
    return async (pattern: RegExp) => {
      for (let i = 0; i < 600; i++) {
        const m = output.match(pattern);
        if (m) return m;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`${name} never logged ${pattern}:\n${output}`);
    };
  };
  const east = run(
    "east",
    [
      resource("Site", "east", "  {}"),
      resource("RouterAccess", "east-access", "  bindHost: 127.0.0.1\n  roles:\n    - name: inter-router\n      port: 0"),
      resource("Connector", "bulk", `  routingKey: bulk\n  host: 127.0.0.1\n  port: ${targetPort}`),
    ].join("---\n"),
  );
  const url = (await east(/accepting links on \S+ \((ws:\/\/[^)]+)\)/))[1]!;
  const west = run(
    "west",
    [
      resource("Site", "west", "  {}"),
      resource("Link", "to-east", `  url: ${url}`),
      resource("Listener", "bulk", "  routingKey: bulk\n  host: 127.0.0.1\n  port: 0"),
    ].join("---\n"),
  );
  const port = Number((await west(/listener bulk for \S+ is listening on [\d.]+:(\d+)/))[1]);
  await west(/link to-east is up/);
  for (let i = 0; ; i++) {
    try {
      await sendBulk(port, 1024);
      break;
    } catch (err) {
      if (i > 100) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    port,
    stop: async () => {
      await Promise.all(children.map((c) => (c.exitCode !== null ? undefined : new Promise((r) => (c.once("exit", r), c.kill("SIGTERM"))))));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const before = values.before === undefined ? undefined : checkout(values.before);
if (before !== undefined && existsSync(path.join(before.root, "src/link/secure-channel.ts"))) {
  before.remove();
  throw new Error(`--before ${values.before}: that tree already has secure links; give a commit from before them`);
}
const sink = await startSink();
const rows: string[][] = [];
try {
  for (const runtime of runtimes) {
    const now = await startPair(runtime, sink.port);
    const old = before === undefined ? undefined : await startOldPair(before.root, runtime, sink.port);
    const direct: number[] = [];
    const linked: number[] = [];
    const earlier: number[] = [];
    for (let i = 0; i < runs; i++) {
      direct.push(await sendBulk(sink.port, size));
      linked.push(await sendBulk(now.port, size));
      if (old !== undefined) earlier.push(await sendBulk(old.port, size));
    }
    await Promise.all([...now.sites.map((s) => s.stop()), old?.stop()]);
    const row = [runtime, summary(direct), summary(linked), summary(linked.map((v, i) => (v / direct[i]!) * 100)) + " %"];
    if (old !== undefined) row.push(summary(earlier), summary(linked.map((v, i) => v / earlier[i]!), 2) + "x");
    rows.push(row);
    process.stdout.write(`${runtime}: direct ${summary(direct)} MiB/s, one link ${summary(linked)} MiB/s${old ? `, before ${summary(earlier)} MiB/s` : ""}\n`);
  }
} finally {
  sink.close();
  before?.remove();
}

const header = ["runtime", "direct TCP MiB/s", "one link MiB/s", "link / direct"];
if (before !== undefined) header.push(`one link at ${values.before} MiB/s`, "now / before");
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) => "| " + cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ") + " |";
process.stdout.write(`\n${size / MiB} MiB per transfer, ${runs} runs, median (min-max)\n`);
process.stdout.write([line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n") + "\n");

// The platform contract on every runtime in SITE_RUNTIMES: contract-main.ts runs the
// checks inside Node, Deno and Bun and reports JSON lines; each check is one test here.

import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { RUNTIMES, runScript, spawnScript, stopProcess, waitForLine, type RuntimeName } from "../helpers/runtimes.ts";
import { checkNames } from "./contract.ts";

const MAIN = "test/platform/contract-main.ts";

let workDir = "";
let tlsDir = "";

/** A private CA and a server certificate for 127.0.0.1 signed by it, made with the openssl CLI. */
function makeTls(dir: string): void {
  const ssl = (...args: string[]): void => void execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  ssl("req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=Skiff Test CA");
  ssl("req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1");
  writeFileSync(
    path.join(dir, "ext.cnf"),
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
  );
  ssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
    "-out", "server.pem", "-days", "1", "-extfile", "ext.cnf");
}

beforeAll(() => {
  workDir = mkdtempSync(path.join(tmpdir(), "skiff-platform-"));
  tlsDir = path.join(workDir, "tls");
  mkdirSync(tlsDir);
  makeTls(tlsDir);
});

afterAll(() => {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

interface CheckResult {
  check: string;
  ok: boolean;
  ms: number;
  error?: string;
}

interface ChecksRun {
  results: Map<string, CheckResult>;
  /** Exit code, or "hung" when the process did not exit by itself after the last check. */
  exit: number | "hung" | null;
  output: string;
}

/** Run every check on `runtime` in one process; give it 5 s to exit by itself afterwards. */
function runChecks(runtime: RuntimeName): Promise<ChecksRun> {
  const child = spawnScript(runtime, MAIN, ["checks", tlsDir, path.join(workDir, runtime)], {
    env: { ...process.env, SKIFF_CONTRACT_ENV: "present" },
  });
  const results = new Map<string, CheckResult>();
  let output = "";
  let buffered = "";
  return new Promise((resolve) => {
    let hangTimer: ReturnType<typeof setTimeout> | undefined;
    const overall = setTimeout(() => child.kill("SIGKILL"), 55_000);
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      output += chunk;
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (line.startsWith("{")) {
          const result = JSON.parse(line) as CheckResult;
          results.set(result.check, result);
        } else if (line === "done") {
          hangTimer = setTimeout(() => {
            clearTimeout(overall);
            child.kill("SIGKILL");
            resolve({ results, exit: "hung", output });
          }, 5000);
        }
      }
    });
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    child.on("exit", (code) => {
      clearTimeout(hangTimer);
      clearTimeout(overall);
      resolve({ results, exit: code, output });
    });
  });
}

describe.each(RUNTIMES)("platform contract on %s", (runtime) => {
  let run: ChecksRun;
  beforeAll(async () => {
    run = await runChecks(runtime);
  }, 60_000);

  test.each(checkNames)("%s", (name) => {
    const result = run.results.get(name);
    if (result === undefined) throw new Error(`no result for this check; output:\n${run.output}`);
    if (!result.ok) throw new Error(result.error);
  });

  test("the process exits by itself once the checks closed every server and socket", () => {
    expect(run.exit, run.output).toBe(0);
  });

  test("writeStdout() before exit() is not lost", async () => {
    const result = await runScript(runtime, MAIN, ["last-words", String(1 << 20)], { timeoutMs: 20_000 });
    expect(result.code).toBe(3);
    expect(result.stdout.length).toBe((1 << 20) + 1);
  });

  test("onSignal(SIGTERM) lets a server stop cleanly and the process exit", async () => {
    const child = spawnScript(runtime, MAIN, ["serve"]);
    try {
      const [, port] = await waitForLine(child, /^listening (\d+)$/);
      const body = await (await fetch(`http://127.0.0.1:${port}/`)).text();
      expect(body).toBe(runtime);
      let stdout = "";
      child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
      expect(await stopProcess(child)).toBe(0);
      expect(stdout).toContain("stopped");
    } finally {
      await stopProcess(child, 0);
    }
  });
});

/** [client, server] pairs: every ordered pair of distinct runtimes under test. */
const pairs: [RuntimeName, RuntimeName][] = RUNTIMES.flatMap((client) =>
  RUNTIMES.filter((server) => server !== client).map((server): [RuntimeName, RuntimeName] => [client, server]),
);

describe.skipIf(pairs.length === 0)("WebSocket across runtimes", () => {
  test.each(pairs)("a %s client echoes through a %s server", async (client, server) => {
    const child = spawnScript(server, MAIN, ["serve"]);
    try {
      const [, port] = await waitForLine(child, /^listening (\d+)$/);
      const result = await runScript(client, MAIN, ["client", `ws://127.0.0.1:${port}/link`], { timeoutMs: 20_000 });
      expect(result.stdout + result.stderr).toContain(`ok ${client}`);
      expect(result.code).toBe(0);
    } finally {
      await stopProcess(child);
    }
  });
});

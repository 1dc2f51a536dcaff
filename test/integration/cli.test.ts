// The command line as a person uses it: check, run, status, token issue and
// redeem, exit codes, log formats and the admin endpoint's secret.

import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ChildProcess, spawn } from "node:child_process";
import { REPO_ROOT, RUNTIMES, runScript, runtimeCommand, spawnScript, stopProcess, waitForLine } from "../helpers/runtimes.ts";
import { SiteProcess, siteYaml, startSites } from "../helpers/sites.ts";
import { echoServer, exchange, pattern, sha256, type TestServer, waitForRoute } from "../helpers/traffic.ts";

const skiff = (...args: string[]) => runScript("node", "src/cli.ts", args, { timeoutMs: 30_000 });

describe("skiff on the command line", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), "skiff-cli-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("check reports every problem with file, line and field, and exits 2", async () => {
    const file = path.join(dir, "bad.yaml");
    writeFileSync(
      file,
      "apiVersion: skupper.io/v2alpha1\nkind: Site\nmetadata:\n  name: West\n---\napiVersion: skupper.io/v2alpha1\nkind: Connector\nmetadata:\n  name: db\nspec:\n  routingKey: db\n  port: 5432\n  selector: app=db\n",
    );
    const result = await skiff("check", "--config", file);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/Configuration has 3 problems:/);
    expect(result.stderr).toMatch(/bad\.yaml:4:9: Site\/West metadata\.name: /);
    expect(result.stderr).toMatch(/bad\.yaml:13:13: Connector\/db spec\.selector: selector is Kubernetes-only; set spec\.host/);
  });

  it("check says plainly when the file is missing", async () => {
    const result = await skiff("check", "--config", path.join(dir, "nope.yaml"));
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/cannot read configuration file .*nope\.yaml: no such file/);
  });

  it("status says plainly that no site is running, and exits 3", async () => {
    const file = path.join(dir, "idle.yaml");
    writeFileSync(file, siteYaml({ name: "idle", runtime: "node" }));
    const result = await skiff("status", "--config", file);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/site idle is not running .* Start it with: skiff run --config /);
  });

  it("rejects an unknown command with usage help, exit 2", async () => {
    const result = await skiff("frobnicate");
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/unknown command 'frobnicate'/);
  });

  it("run --log-format json prints one JSON object per line, and SIGINT stops the site with exit 0", async () => {
    const file = path.join(dir, "json.yaml");
    writeFileSync(file, siteYaml({ name: "json", runtime: "node", acceptLinks: true, listeners: [{ name: "web", routingKey: "web" }] }));
    const child = spawnScript("node", "src/cli.ts", ["run", "--config", file, "--log-format", "json"]);
    let out = "";
    child.stdout!.on("data", (d) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    for (let i = 0; i < 200 && !out.includes("site.started"); i++) await new Promise((r) => setTimeout(r, 50));
    child.kill("SIGINT");
    expect(await exited).toBe(0);
    const lines = out.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l.event)).toEqual(expect.arrayContaining(["listener.bound", "links.accepting", "site.started", "site.signal", "site.stopped"]));
    for (const line of lines) expect(line).toMatchObject({ time: expect.any(String), level: expect.any(String), msg: expect.any(String) });
    expect(lines.find((l) => l.event === "site.started")).toMatchObject({ site: "json" });
  });

  it.each(RUNTIMES)("stops a site that a signal reaches while it starts, once it has started, with exit 0 (%s)", async (runtime) => {
    const file = path.join(dir, `early-${runtime}.yaml`);
    writeFileSync(file, siteYaml({ name: "early", runtime, acceptLinks: true, listeners: [{ name: "web", routingKey: "web" }] }));
    const child = spawnScript(runtime, "src/cli.ts", ["run", "--config", file, "--log-format", "json"]);
    let out = "";
    let signalled = false;
    child.stdout!.on("data", (d) => {
      out += d.toString();
      // The first line comes while the site is still starting (links accepted, listeners bound).
      if (!signalled) child.kill("SIGTERM");
      signalled = true;
    });
    const exited = await new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    const events = out.trim().split("\n").map((l) => (JSON.parse(l) as { event: string }).event);
    expect(events[0]).not.toBe("site.started");
    expect(exited).toBe(0);
    expect(events).toEqual(expect.arrayContaining(["site.started", "site.signal", "site.stopped"]));
  });
});

describe("joining a site with the token commands", () => {
  let echo: TestServer;
  let east: SiteProcess;
  let west: SiteProcess | undefined;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "skiff-cli-"));
    echo = await echoServer();
    [east] = await startSites([{ name: "east", runtime: "node", acceptLinks: true, connectors: [{ name: "echo", routingKey: "echo", port: echo.port }] }]);
  });
  afterAll(async () => {
    await Promise.all([east?.stop(), west?.stop()]);
    await echo?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses admin requests without the site's secret", async () => {
    const state = path.join(east.dir, ".skiff", "east");
    const { url } = JSON.parse(readFileSync(path.join(state, "admin.json"), "utf8")) as { url: string };
    const none = await fetch(`${url}/v1/status`);
    const wrong = await fetch(`${url}/v1/tokens`, { method: "POST", headers: { authorization: "Bearer not-the-secret" }, body: "{}" });
    expect([none.status, wrong.status]).toEqual([401, 401]);
    expect(statSync(path.join(state, "admin-secret")).mode & 0o777).toBe(0o600);
    expect(new URL(url).hostname).toBe("127.0.0.1");
  });

  it("issues a token into an owner-only file, redeems it for a stopped site, and the site links when it starts", async () => {
    const tokenFile = path.join(dir, "to-east.yaml");
    const issued = await skiff("token", "issue", tokenFile, "--config", east.configFile, "--expiration-window", "5m");
    expect(issued.code).toBe(0);
    expect(issued.stdout).toMatch(/wrote .*to-east\.yaml: 1 redemption\(s\) until /);
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(tokenFile, "utf8")).toMatch(/kind: AccessToken/);

    const westDir = mkdtempSync(path.join(tmpdir(), "skiff-west-"));
    const westConfig = path.join(westDir, "site.yaml");
    writeFileSync(westConfig, siteYaml({ name: "west", runtime: "node", listeners: [{ name: "echo", routingKey: "echo" }] }));
    const redeemed = await skiff("token", "redeem", tokenFile, "--config", westConfig);
    expect(redeemed.code).toBe(0);
    expect(redeemed.stdout).toMatch(/link east to site east is stored in .*; it comes up when site west starts/);

    const again = await skiff("token", "redeem", tokenFile, "--config", westConfig);
    expect(again.code).toBe(4);
    expect(again.stderr).toMatch(/refused token east .*Ask that site for a new token/);

    west = new SiteProcess({ name: "west", runtime: "node" }, westDir);
    const port = await west.listenerPort("echo");
    await west.waitFor(/link east is up: linked to site east/);
    await waitForRoute(port);
    const request = pattern(5, 100_000);
    expect(sha256(await exchange(port, request))).toBe(sha256(request));

    const status = await skiff("status", "--config", westConfig, "--output", "json");
    const json = JSON.parse(status.stdout) as { links: { name: string; status: string; peer: string; peerCertificateExpires: string }[] };
    expect(json.links[0]).toMatchObject({ name: "east", status: "Ready", peer: "east" });
    expect(Date.parse(json.links[0]!.peerCertificateExpires)).toBeGreaterThan(Date.now());
    const text = await skiff("status", "--config", westConfig);
    expect(text.stdout).toMatch(/east\s+outgoing\s+Ready\s+east/);
  });
});

/** The log of site `name` (in `child`) until it has started and 200 ms more; the site is stopped then. */
async function logUntilStarted(child: ChildProcess, name: string): Promise<string> {
  let log = "";
  child.stdout!.on("data", (d) => (log += d.toString()));
  child.stderr!.on("data", (d) => (log += d.toString()));
  try {
    await waitForLine(child, new RegExp(`site ${name} is running`), 30_000);
    await new Promise((r) => setTimeout(r, 200));
  } finally {
    await stopProcess(child);
  }
  return log;
}

describe.skipIf(!RUNTIMES.includes("deno"))("skiff run on Deno: the record cipher", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), "skiff-deno-cipher-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Start a Deno site with these permission flags; resolve with its log once it has started, then stop it. */
  const startLog = async (name: string, permissions: string[]): Promise<string> => {
    const file = path.join(dir, `${name}.yaml`);
    writeFileSync(file, siteYaml({ name, runtime: "deno" }));
    const deno = runtimeCommand("deno")[0]!;
    return logUntilStarted(spawn(deno, ["run", ...permissions, "src/cli.ts", "run", "--config", file], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] }), name);
  };

  it("without FFI permission, says so at start and which cipher it uses instead", async () => {
    const log = await startLog("noffi", ["--allow-read", "--allow-write", "--allow-env", "--allow-net"]);
    expect(log).toMatch(/site noffi is running on deno .*; link records sealed with split/);
    expect(log).toMatch(/WARN .*OpenSSL could not be loaded \(FFI is not permitted\); run with -A or --allow-ffi/);
  });

  it("with -A, names OpenSSL, or says why libcrypto 3 could not be loaded", async () => {
    const log = await startLog("allperms", ["-A"]);
    const line = /site allperms is running on deno .*; link records sealed with (\S+)/.exec(log);
    expect(line).not.toBeNull();
    if (line![1] === "openssl") expect(log).not.toMatch(/WARN/);
    else expect(log).toMatch(/WARN .*libcrypto 3 was not found/);
  });
});

describe.skipIf(!RUNTIMES.includes("bun"))("skiff run on Bun: the record cipher", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), "skiff-bun-cipher-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Start a Bun site with this extra environment; resolve with its log once it has started, then stop it. */
  const startLog = async (name: string, env: Record<string, string>): Promise<string> => {
    const file = path.join(dir, `${name}.yaml`);
    writeFileSync(file, siteYaml({ name, runtime: "bun" }));
    return logUntilStarted(spawnScript("bun", "src/cli.ts", ["run", "--config", file], { env: { ...process.env, ...env } }), name);
  };

  it("seals with OpenSSL where libcrypto 3 loads, else with node:crypto, and warns of neither", async () => {
    const log = await startLog("bundefault", {});
    const line = /site bundefault is running on bun .*; link records sealed with (\S+)/.exec(log);
    expect(line).not.toBeNull();
    expect(["openssl", "node:crypto"]).toContain(line![1]);
    expect(log).not.toMatch(/WARN/);
  });

  it("takes node:crypto when SKIFF_AEAD asks for it", async () => {
    const log = await startLog("bunnode", { SKIFF_AEAD: "node:crypto" });
    expect(log).toMatch(/site bunnode is running on bun .*; link records sealed with node:crypto/);
  });
});

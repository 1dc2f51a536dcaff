// The C baseline: an stunnel client/server pair with mutual TLS (verify = 2 on
// both sides, EC P-256 certificates from a throwaway CA), set up as in
// reference/peers-bench (scenarios.sh, gen-certs.sh).

import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

export const stunnelInstallHint = "apt-get update && apt-get install -y stunnel4   (Debian/Ubuntu package stunnel4)";

/** The stunnel binary on PATH, or undefined. */
export function findStunnel(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    for (const name of ["stunnel4", "stunnel"]) {
      const file = path.join(dir, name);
      if (dir && existsSync(file)) return file;
    }
  }
  return undefined;
}

export function stunnelVersion(binary: string): string {
  // stunnel prints its version on stderr.
  const run = spawnSync(binary, ["-version"], { encoding: "utf8" });
  return /stunnel (\d\S*)/.exec(`${run.stdout}${run.stderr}`)?.[1] ?? "unknown";
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

async function waitPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port, host: "127.0.0.1" });
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`stunnel never listened on ${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function certificates(dir: string): void {
  const ssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  ssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key");
  ssl("req", "-x509", "-new", "-key", "ca.key", "-sha256", "-days", "2", "-subj", "/CN=bench-ca", "-out", "ca.crt",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
  for (const who of ["server", "client"]) {
    ssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", `${who}.key`);
    ssl("req", "-new", "-key", `${who}.key`, "-subj", `/CN=${who}.bench.test`, "-out", `${who}.csr`);
    writeFileSync(
      path.join(dir, `${who}.ext`),
      `subjectAltName=DNS:${who}.bench.test,IP:127.0.0.1\nextendedKeyUsage=${who === "server" ? "serverAuth" : "clientAuth"}\nbasicConstraints=CA:FALSE\n`,
    );
    ssl("x509", "-req", "-in", `${who}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-sha256",
      "-extfile", `${who}.ext`, "-out", `${who}.crt`);
  }
}

export interface StunnelPair {
  /** Client-side ports, by target name: connect here to reach the target through mutual TLS. */
  ports: Record<string, number>;
  pids: number[];
  stop(): Promise<void>;
}

/** Start an stunnel server and client with one service per target (name -> port). */
export async function startStunnel(binary: string, targets: Record<string, number>): Promise<StunnelPair> {
  const dir = mkdtempSync(path.join(tmpdir(), "skiff-bench-stunnel-"));
  certificates(dir);
  const serverConf = ["foreground = yes", "pid =", "debug = 3"];
  const clientConf = ["foreground = yes", "pid =", "debug = 3"];
  const ports: Record<string, number> = {};
  for (const [name, target] of Object.entries(targets)) {
    const inner = await freePort();
    const outer = await freePort();
    ports[name] = outer;
    serverConf.push(`[${name}]`, `accept = 127.0.0.1:${inner}`, `connect = 127.0.0.1:${target}`,
      `cert = ${dir}/server.crt`, `key = ${dir}/server.key`, `CAfile = ${dir}/ca.crt`, "verify = 2");
    clientConf.push(`[${name}]`, "client = yes", `accept = 127.0.0.1:${outer}`, `connect = 127.0.0.1:${inner}`,
      `cert = ${dir}/client.crt`, `key = ${dir}/client.key`, `CAfile = ${dir}/ca.crt`, "verify = 2", "checkHost = server.bench.test");
  }
  writeFileSync(path.join(dir, "server.conf"), serverConf.join("\n") + "\n");
  writeFileSync(path.join(dir, "client.conf"), clientConf.join("\n") + "\n");
  const children: ChildProcess[] = [
    spawn(binary, [path.join(dir, "server.conf")], { stdio: "ignore" }),
    spawn(binary, [path.join(dir, "client.conf")], { stdio: "ignore" }),
  ];
  for (const port of Object.values(ports)) await waitPort(port);
  return {
    ports,
    pids: children.map((c) => c.pid!),
    async stop() {
      await Promise.all(
        children.map((c) => (c.exitCode !== null ? undefined : new Promise((r) => { c.once("exit", r); c.kill("SIGTERM"); }))),
      );
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// The load the benchmark drives from its own process: bulk transfers, short
// connections, ping-pong, idle connections; and what it reads about other
// processes (CPU, RSS) and about the machine (CPU used by anything else).

import { readdirSync, readFileSync } from "node:fs";
import net from "node:net";
/** Local so that lib.ts can import this file without a cycle. */
const MiB = 1024 * 1024;

/** Send `total` bytes split over `streams` connections; resolves with MB/s (MiB/s) once the far end confirmed every byte. */
export async function bulk(port: number, total: number, streams = 1): Promise<number> {
  const chunk = Buffer.alloc(256 * 1024, 0x5a);
  const per = Math.floor(total / streams);
  const started = performance.now();
  await Promise.all(
    Array.from(
      { length: streams },
      () =>
        new Promise<void>((resolve, reject) => {
          const socket = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true });
          let sent = 0;
          let reply = "";
          const pump = () => {
            while (sent < per) {
              const piece = per - sent >= chunk.length ? chunk : chunk.subarray(0, per - sent);
              sent += piece.length;
              if (!socket.write(piece)) return;
            }
            socket.end();
          };
          socket.on("connect", pump);
          socket.on("drain", pump);
          socket.on("data", (d) => (reply += d.toString()));
          socket.on("end", () => {
            socket.end();
            if (Number(reply.trim()) !== per) reject(new Error(`the far end received ${reply.trim() || "nothing"} of ${per} bytes`));
            else resolve();
          });
          socket.on("error", reject);
        }),
    ),
  );
  return (per * streams) / MiB / ((performance.now() - started) / 1000);
}

export interface ConnRate {
  perSecond: number;
  p50: number;
  p99: number;
  errors: number;
  /** Connect to the first byte back, ms, in ascending order. */
  latencies: number[];
}

const quantile = (sorted: number[], q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : NaN);

/** `count` connections, `concurrency` at a time: connect, 1 byte out, 1 byte back, close. Latency is connect start to the echo. */
export async function connectionRate(port: number, count: number, concurrency: number): Promise<ConnRate> {
  const latencies: number[] = [];
  let errors = 0;
  let next = 0;
  const one = () =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      let done = false;
      const socket = net.connect({ port, host: "127.0.0.1" });
      const finish = (ok: boolean) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (!ok) errors++;
        resolve();
      };
      const timer = setTimeout(() => {
        socket.destroy();
        finish(false);
      }, 10_000);
      socket.setNoDelay(true);
      socket.on("connect", () => socket.write("x"));
      socket.once("data", () => {
        latencies.push(performance.now() - t0);
        socket.end();
      });
      socket.on("error", () => finish(false));
      socket.on("close", () => finish(latencies.length > 0));
    });
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next++;
        await one();
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { perSecond: latencies.length / seconds, p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), errors, latencies };
}

/** 1-byte ping-pong on one open connection: `count` round trips after a warm-up; p50 and p99 in ms. */
export async function pingPong(port: number, count: number): Promise<{ p50: number; p99: number }> {
  const socket = net.connect({ port, host: "127.0.0.1" });
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  const rtts: number[] = [];
  const warmup = 100;
  await new Promise<void>((resolve, reject) => {
    let i = 0;
    let t0 = 0;
    const send = () => {
      t0 = performance.now();
      socket.write("p");
    };
    socket.on("data", (d) => {
      if (d.length !== 1) return reject(new Error(`ping-pong got ${d.length} bytes`));
      if (i++ >= warmup) rtts.push(performance.now() - t0);
      if (i < warmup + count) send();
      else resolve();
    });
    socket.on("error", reject);
    send();
  });
  socket.destroy();
  rtts.sort((a, b) => a - b);
  return { p50: quantile(rtts, 0.5), p99: quantile(rtts, 0.99) };
}

/** Open `count` connections (`concurrency` connects at a time) and keep them open. */
export async function openIdle(port: number, count: number, concurrency = 128): Promise<net.Socket[]> {
  const sockets: net.Socket[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next++;
        const socket = net.connect({ port, host: "127.0.0.1" });
        socket.on("error", () => {});
        await new Promise<void>((resolve, reject) => {
          socket.once("connect", () => resolve());
          socket.once("error", reject);
        });
        sockets.push(socket);
      }
    }),
  );
  return sockets;
}

// ---- processes and the machine ------------------------------------------------

const TICKS = 100; // USER_HZ on Linux

/** CPU seconds used so far by process `pid` (user + system). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS;
  } catch {
    return 0;
  }
}

/** CPU seconds of each thread of `pid`, summed by thread name (e.g. main, tokio workers). */
export function cpuSecondsByThread(pid: number): Map<string, number> {
  const byName = new Map<string, number>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return byName;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const name = tid === String(pid) ? "main" : stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")).replace(/[-_ ]?\d+$/, "");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      byName.set(name, (byName.get(name) ?? 0) + (Number(fields[11]) + Number(fields[12])) / TICKS);
    } catch {
      // the thread ended between readdir and read
    }
  }
  return byName;
}

/** Minor page faults of `pid` so far (pages the kernel had to map in). */
export function minorFaults(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[7]);
  } catch {
    return 0;
  }
}

/** Read and write system calls `pid` has made (/proc/PID/io: reads, recvs, writes, sends, their vector forms). */
export function ioCalls(pid: number): { reads: number; writes: number } {
  try {
    const io = readFileSync(`/proc/${pid}/io`, "utf8");
    return { reads: Number(/^syscr: (\d+)/m.exec(io)?.[1] ?? 0), writes: Number(/^syscw: (\d+)/m.exec(io)?.[1] ?? 0) };
  } catch {
    return { reads: 0, writes: 0 };
  }
}

/** Resident set size of `pid` in bytes. */
export function rss(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = /VmRSS:\s+(\d+) kB/.exec(status);
    return kb ? Number(kb[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Busy and total CPU ticks of the whole machine. */
function machineTicks(): { busy: number; total: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - v[3]! - v[4]!, total };
}

export const cores = (() => {
  try {
    return readFileSync("/proc/cpuinfo", "utf8").split("\n").filter((l) => l.startsWith("processor")).length || 1;
  } catch {
    return 1;
  }
})();

/** CPU seconds of the given processes plus this one. */
export function oursCpu(pids: number[]): number {
  const self = process.cpuUsage();
  return pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0) + (self.user + self.system) / 1e6;
}

/**
 * Wait until the machine is quiet: everything else together uses less than
 * `threshold` of one core over a second (our processes are idle here). Gives up
 * after `maxWaitS`. Returns the load seen, in fractions of one core.
 */
export async function quietGate(threshold: number, maxWaitS: number): Promise<number> {
  let load = 0;
  for (let waited = 0; ; waited++) {
    const a = machineTicks();
    await new Promise((r) => setTimeout(r, 1000));
    const b = machineTicks();
    load = (cores * (b.busy - a.busy)) / Math.max(1, b.total - a.total);
    if (load <= threshold || waited >= maxWaitS) return load;
  }
}

/**
 * Run `work` and report, besides its result, the CPU that anything other than
 * `pids` and this process used meanwhile (fractions of one core): the noise of a shared machine.
 */
export async function withForeign<T>(pids: number[], work: () => Promise<T>): Promise<{ value: T; foreign: number; seconds: number; ours: number }> {
  const m0 = machineTicks();
  const o0 = oursCpu(pids);
  const t0 = performance.now();
  const value = await work();
  const seconds = (performance.now() - t0) / 1000;
  const m1 = machineTicks();
  const ours = oursCpu(pids) - o0;
  const machineBusy = ((m1.busy - m0.busy) / Math.max(1, m1.total - m0.total)) * cores * seconds;
  return { value, foreign: Math.max(0, machineBusy - ours) / seconds, seconds, ours };
}

import { readdirSync, readlinkSync } from "node:fs";
import type { Subprocess } from "bun";
import type { PlasmaClient } from "../../src/client/index.ts";
import { testEnv } from "../helpers/run.ts";

/** Open descriptors of a process, counted from /proc/<pid>/fd. */
export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** What each descriptor of a process points at (for failure messages). */
export function fdLinks(pid: number): string[] {
  return readdirSync(`/proc/${pid}/fd`).map((fd) => {
    try {
      return `${fd}->${readlinkSync(`/proc/${pid}/fd/${fd}`)}`;
    } catch {
      return `${fd}->?`;
    }
  });
}

/**
 * The store's invariants as the data path reports them: the documented last line of debugString()
 * ("invariants: ok", or "invariants: BROKEN: ..."; the store runs StoreCore.checkInvariants for it).
 * Other figures come from storeInfo() (used bytes, objects, clients) or the admin plane's stats
 * (objects being created, waiting gets and creates).
 */
export async function storeInvariants(client: PlasmaClient): Promise<string> {
  return /^invariants: (.*)$/m.exec(await client.debugString())?.[1] ?? "missing";
}

export interface ChildProcess {
  readonly proc: Subprocess<"ignore", "pipe", "pipe">;
  output(): string;
  errors(): string;
  /** Waits for a stdout line matching the pattern; fails if the process exits first. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts `bun script ...args` as a long-lived child whose stdout lines can be awaited. */
export function spawnChild(
  script: string,
  args: string[],
  options: { prefix?: string[]; env?: Record<string, string> } = {},
): ChildProcess {
  const proc = Bun.spawn([...(options.prefix ?? []), "bun", script, ...args], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: testEnv(options.env),
  });
  let out = "";
  let err = "";
  const listeners = new Set<() => void>();
  const pump = async (stream: ReadableStream<Uint8Array>, sink: (s: string) => void) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      sink(decoder.decode(chunk, { stream: true }));
      for (const l of listeners) l();
    }
  };
  const pumped = Promise.all([
    pump(proc.stdout, (s) => {
      out += s;
    }),
    pump(proc.stderr, (s) => {
      err += s;
    }),
  ]);
  return {
    proc,
    output: () => out,
    errors: () => err,
    waitForLine(pattern, timeoutMs = 30_000) {
      return new Promise<string>((resolve, reject) => {
        const check = () => {
          const m = pattern.exec(out);
          if (m !== null) {
            done();
            resolve(m[0]);
          }
        };
        const done = () => {
          listeners.delete(check);
          clearTimeout(timer);
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`timed out waiting for ${pattern}; stdout:\n${out}\nstderr:\n${err}`));
        }, timeoutMs);
        listeners.add(check);
        void proc.exited.then(() =>
          pumped.then(() => {
            if (!listeners.has(check)) return;
            check();
            if (!listeners.has(check)) return;
            done();
            reject(
              new Error(
                `child exited (${proc.exitCode ?? proc.signalCode}) before ${pattern}:\n${out}\n${err}`,
              ),
            );
          }),
        );
        check();
      });
    },
    async kill(signal = "SIGKILL") {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await proc.exited;
    },
  };
}

/** A small, fast, seeded PRNG (mulberry32): the same seed gives the same run. */
export class Rng {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(maxExclusive: number): number {
    return Math.floor(this.next() * maxExclusive);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.int(256);
    return out;
  }
}

/** Long mode (bun run soak): more frames, more clients, more time. */
export const LONG_MODE = process.env.PLASMA_HARDENING_LONG === "1";

/** What the hardening tests check after an attack, read through the public surface only. */
export interface StoreFigures {
  usedBytes: number;
  objects: number;
  clients: number;
  waitingGets: number;
  waitingCreates: number;
  invariants: string;
}

/** Used bytes, objects and clients from storeInfo(), waiting requests from the admin stats, the invariants line. */
export async function storeFigures(
  client: PlasmaClient,
  admin: { stats(): Promise<{ waitingGets: number; waitingCreates: number }> },
): Promise<StoreFigures> {
  const info = await client.storeInfo();
  const stats = await admin.stats();
  return {
    usedBytes: info.usedBytes,
    objects: info.objectCount,
    clients: info.clientCount,
    waitingGets: stats.waitingGets,
    waitingCreates: stats.waitingCreates,
    invariants: await storeInvariants(client),
  };
}

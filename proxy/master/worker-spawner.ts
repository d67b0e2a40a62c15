// Spawns the master's own workers and keeps their number up: a worker that exits is replaced,
// with a growing delay when workers keep dying young (a crash loop must not spin the CPU).
// Spawned workers join like any other: through the socket in the handoff directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { SPAWN_KEY_ENV } from '../handoff/host-identity';
import type { Logger } from '../observability/logger';
import type { ExitStatus } from './worker-link';

const YOUNG_DEATH_MS = 2_000;
const MAX_RESPAWN_DELAY_MS = 5_000;
/**
 * V8's young generation for Node workers, in MiB per semi-space. Node 20 lets it grow to 16
 * (48 MiB of new space) under a connection churn; a worker's per-request garbage dies young
 * either way, so a small one costs no measurable CPU (bench, side by side: keep-alive 30 µs per
 * request at 1 and at 4, new connection 126-145 vs 123-143). It matters for the buffers of
 * request bodies, which llhttp copies and which are freed only when the young generation is
 * collected: under the POST 64 KiB workload a worker peaks at 69 MiB of RSS with 1, 97 with 4.
 * It can only be set at process start (v8.setFlagsFromString later has no effect), hence here;
 * a flag the operator gives in NODE_OPTIONS wins.
 */
const WORKER_V8_FLAGS = ['--max-semi-space-size=1'];

export interface WorkerCommand {
  readonly file: string;
  readonly args: readonly string[];
}

export class WorkerSpawner {
  private readonly children = new Set<ChildProcess>();
  /** An older generation (before a reload): finishing their requests, never respawned. */
  private readonly retired = new Set<ChildProcess>();
  /** The config generation each child was spawned for (a respawn: its predecessor's). */
  private readonly generations = new Map<ChildProcess, number>();
  private generation = 1;
  private stopping = false;
  private respawnDelay = 0;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly command: WorkerCommand,
    /** Give each child Node's IPC channel (the "ipc" transport passes sockets over it). */
    private readonly withIpc: boolean,
    /** Repeated by each child in its REGISTER: "spawned by this master" (host-identity.ts). */
    private readonly spawnKey: number,
    /** Every child's exit, whatever its generation (the master says who left, and why). */
    private readonly onExit: (pid: number, exit: ExitStatus) => void,
    /** Whether a new worker could join this master now (the handoff directory is ours and intact). */
    private readonly canJoin: () => boolean,
    private readonly log: Logger,
  ) {}

  /** Our own child with this pid, when it has an IPC channel. */
  ipcChild(pid: number): ChildProcess | null {
    if (!this.withIpc) return null;
    for (const child of this.children) if (child.pid === pid) return child;
    return null;
  }

  /** A child of ours with this pid, of any generation, not yet exited. */
  isChild(pid: number): boolean {
    return this.pids.includes(pid) || this.isRetired(pid);
  }

  get pids(): number[] {
    return [...this.children].map((c) => c.pid).filter((p): p is number => p !== undefined);
  }

  /** `generation`: the config generation these workers (and their respawns) serve. */
  start(count: number, generation: number): void {
    this.generation = generation;
    for (let i = 0; i < count; i++) this.spawnOne();
  }

  /** The generation our child with this pid was spawned for; null: not a child of ours. */
  generationOf(pid: number): number | null {
    for (const [child, generation] of this.generations) if (child.pid === pid) return generation;
    return null;
  }

  /** Only for a Node binary (the command is `node [loader] cli.js worker ...`). */
  private v8Flags(): string[] {
    if (this.command.file !== process.execPath) return [];
    if ((process.env.NODE_OPTIONS ?? '').includes('semi-space-size')) return [];
    return WORKER_V8_FLAGS;
  }

  private spawnOne(): void {
    if (!this.canJoin()) {
      // It would wait for a master.sock that is not ours: try again later (the master said why).
      this.later(() => this.spawnOne(), MAX_RESPAWN_DELAY_MS);
      return;
    }
    const startedAt = Date.now();
    const child = spawn(this.command.file, [...this.v8Flags(), ...this.command.args], {
      stdio: this.withIpc ? ['ignore', 'inherit', 'inherit', 'ipc'] : ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, [SPAWN_KEY_ENV]: String(this.spawnKey) },
    });
    this.children.add(child);
    this.generations.set(child, this.generation);
    child.on('error', (err) => this.log.error(`a worker cannot be spawned (${err.message})`));
    child.on('exit', (code, signal) => {
      this.children.delete(child);
      this.generations.delete(child);
      const retired = this.retired.delete(child);
      if (child.pid !== undefined) this.onExit(child.pid, { code, signal });
      if (retired || this.stopping) return;
      const diedYoung = Date.now() - startedAt < YOUNG_DEATH_MS;
      this.respawnDelay = diedYoung ? Math.min(Math.max(this.respawnDelay * 2, 100), MAX_RESPAWN_DELAY_MS) : 0;
      this.later(() => this.spawnOne(), this.respawnDelay);
    });
  }

  /** A spawn for the current generation after a delay; cancelled by retire() and stop(). */
  private later(spawn: () => void, delayMs: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.stopping) spawn();
    }, delayMs);
    this.timers.add(timer);
  }

  /**
   * The current children become an old generation: still running, no longer replaced. Respawns
   * still pending were for that generation: cancelled, or they would add to the next one.
   */
  retire(): void {
    for (const child of this.children) this.retired.add(child);
    this.children.clear();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  /** One of ours from a generation a reload replaced. */
  isRetired(pid: number): boolean {
    for (const child of this.retired) if (child.pid === pid) return true;
    return false;
  }

  /** Signals every child and resolves when all have exited (SIGKILL after `graceMs`). */
  async stop(signal: NodeJS.Signals, graceMs: number): Promise<void> {
    this.stopping = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    const exits = [...this.children, ...this.retired].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
          child.once('exit', () => {
            clearTimeout(kill);
            resolve();
          });
          child.kill(signal);
        }),
    );
    await Promise.all(exits);
  }
}

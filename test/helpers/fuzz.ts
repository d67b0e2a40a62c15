// What the fuzz tests (test/fuzz) share: how many runs, which seed, and a watchdog. fast-check
// generates the inputs and shrinks a failure to a small one; its report names the seed and the
// path of the failing run, and this file adds the command that replays it.
//
// Synchronous code that loops forever cannot be interrupted on its own thread, so a pure
// property runs on a worker thread: it posts each input before trying it, and the test on the
// main thread terminates it (V8 can stop a busy thread) when one input takes longer than the
// stall limit, naming that input. A hang is then a failure with a counterexample, not a CI
// run that never ends.
import assert from 'node:assert/strict';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import fc from 'fast-check';

/** Runs of a cheap (in-process) property when HANDOFF_FUZZ_RUNS is not set: CI's bounded run. */
export const CI_RUNS = 1000;

/**
 * One seed for every property of a run: HANDOFF_FUZZ_SEED to replay one, else a new one each
 * run (so CI explores new inputs over time, and every failure says how to get it back).
 */
export const FUZZ_SEED: number = !isMainThread && typeof (workerData as { seed?: unknown } | null)?.seed === 'number'
  ? (workerData as { seed: number }).seed // the main thread's: one seed for the run
  : process.env.HANDOFF_FUZZ_SEED !== undefined
    ? Number(process.env.HANDOFF_FUZZ_SEED)
    : (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;

/**
 * How many runs a property gets: HANDOFF_FUZZ_RUNS (or CI_RUNS) divided by `cost`, what one run
 * costs next to a cheap one (a real proxy and sockets cost far more than a parse).
 */
export function fuzzRuns(cost = 1): number {
  const base = process.env.HANDOFF_FUZZ_RUNS !== undefined ? Number(process.env.HANDOFF_FUZZ_RUNS) : CI_RUNS;
  if (!Number.isFinite(base) || base < 1) throw new Error(`HANDOFF_FUZZ_RUNS must be a positive number, got ${process.env.HANDOFF_FUZZ_RUNS}`);
  return Math.max(1, Math.ceil(base / cost));
}

/** fast-check's parameters for a run: the seed, the runs, and the path when replaying one failure. */
export function fuzzParameters<T>(cost = 1): fc.Parameters<T> {
  const path = process.env.HANDOFF_FUZZ_PATH;
  return { seed: FUZZ_SEED, numRuns: fuzzRuns(cost), ...(path ? { path } : {}), endOnFailure: false };
}

/** What to type to get a failure back. */
export function replayHint(file: string): string {
  return `replay: HANDOFF_FUZZ_SEED=${FUZZ_SEED} node --test ${file} (add HANDOFF_FUZZ_PATH=<path above> for the shrunk case alone)`;
}

/** A synchronous property for the watchdog: its input, and the check that throws on a counterexample. */
export interface PureProperty<T> {
  readonly arbitrary: fc.Arbitrary<T>;
  readonly check: (input: T) => void;
  /** What one run costs next to the cheapest (fuzzRuns). */
  readonly cost?: number;
}

type WorkerReport = { kind: 'input'; input: string } | { kind: 'done'; runs: number } | { kind: 'failed'; report: string };

/**
 * In a test file: on the main thread, a node:test body per property that runs it on a worker
 * thread under the watchdog; on that worker thread (loaded with this file's name), the property
 * itself. `file` is the test file's __filename.
 */
export function runPureProperty<T>(file: string, name: string, property: PureProperty<T>, stallMs = 10_000): Promise<void> | void {
  if (!isMainThread) {
    if ((workerData as { property?: string } | null)?.property !== name) return;
    const port = parentPort!;
    let runs = 0;
    let firstFailure: string | null = null;
    const details = fc.check(
      fc.property(property.arbitrary, (input) => {
        runs++;
        const shown = fc.stringify(input).slice(0, 4000);
        port.postMessage({ kind: 'input', input: shown } satisfies WorkerReport);
        try {
          property.check(input);
        } catch (err) {
          firstFailure ??= `${shown}\n  ${describeError(err).split('\n')[0]}`;
          throw err;
        }
      }),
      fuzzParameters(property.cost),
    );
    const report = details.failed
      ? `${fc.defaultReportMessage(details) ?? 'failed'}\n${describeError(details.errorInstance)}\nfirst failing input, before shrinking: ${firstFailure}`
      : undefined;
    port.postMessage(report === undefined ? { kind: 'done', runs } : { kind: 'failed', report } satisfies WorkerReport);
    return;
  }
  return new Promise<void>((resolve, reject) => {
    const worker = new Worker(file, { workerData: { property: name, seed: FUZZ_SEED } });
    let last = '(none yet)';
    let settled = false;
    let stall: NodeJS.Timeout;
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(stall);
      void worker.terminate();
      if (err) reject(err);
      else resolve();
    };
    const arm = (): void => {
      clearTimeout(stall);
      stall = setTimeout(() => finish(new Error(`${name}: no answer within ${stallMs} ms to ${last}\n${replayHint(file)}`)), stallMs);
    };
    arm();
    worker.on('message', (msg: WorkerReport) => {
      if (msg.kind === 'input') {
        last = msg.input;
        arm();
      } else if (msg.kind === 'failed') finish(new Error(`${name}:\n${msg.report}\n${replayHint(file)}`));
      else {
        try {
          if (!process.env.HANDOFF_FUZZ_PATH) assert.ok(msg.runs >= fuzzRuns(property.cost), `${name}: ran ${msg.runs} inputs`);
          finish();
        } catch (err) {
          finish(err as Error);
        }
      }
    });
    worker.on('error', (err) => finish(new Error(`${name}: the property's thread failed on ${last}: ${err.stack ?? err}\n${replayHint(file)}`)));
    worker.on('exit', (code) => finish(new Error(`${name}: the property's thread exited (${code}) before it finished`)));
  });
}

function describeError(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}

/** On a worker thread started by runPureProperty: the test file must not declare node:test tests. */
export const onPropertyThread = !isMainThread;

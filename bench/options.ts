// Command-line options of `npm run bench` (node dist/bench/run.js).
import path from 'node:path';
import fs from 'node:fs';
import { BASELINE, CANDIDATES, type CandidateName } from './candidates';
import { MEMORY_WORKLOADS, type MemoryWorkloadName } from './memory';
import { WORKLOADS, type WorkloadName } from './wrk';

/** wrk workloads, then the memory workloads (bench/memory.ts), in the order they run. */
export const ALL_WORKLOADS = [...WORKLOADS, ...MEMORY_WORKLOADS] as const;
export type AnyWorkloadName = WorkloadName | MemoryWorkloadName;

export const USAGE = `Usage: node dist/bench/run.js [options]      (npm run bench -- [options])

  --full               3 rounds, 1 s warm-up + 10 s per run (the default)
  --quick              1 round, 0.5 s warm-up + 1.5 s per run, fewer idle connections and
                       WebSockets: about 2 minutes, for CI
  --rounds N           override the mode's rounds
  --duration S         measured seconds per run (fractions allowed)
  --warmup S           discarded warm-up seconds before each run (0 = none)
  --workers N          worker processes/threads of every candidate (default 2)
  --upstream-workers N nginx upstream worker_processes (default 1)
  --only a,b           candidates: ${CANDIDATES.join(', ')}
  --workloads a,b      workloads: ${ALL_WORKLOADS.join(', ')}
  --json PATH          JSON output (default bench/results/latest.json, quick mode: quick.json);
                       the markdown goes next to it (.md)
  --budget S           stop starting runs after S seconds and report what was measured
  --seed N             seed of the per-round shuffle (default: random, recorded in the output)
  --keep-tmp           keep the temp dir (configs, error logs) for inspection
  --baseline DIR       also run another built checkout of Handoff (DIR/dist/proxy/cli.js) as
                       ${BASELINE} (seqpacket), interleaved with the rest: an A/B of a change
`;

export interface Options {
  mode: 'full' | 'quick';
  rounds: number;
  duration: number;
  warmup: number;
  workers: number;
  upstreamWorkers: number;
  candidates: CandidateName[];
  /** --baseline: the other checkout's top folder, or null. */
  baseline: string | null;
  workloads: AnyWorkloadName[];
  json: string;
  markdown: string;
  budget: number;
  seed: number;
  keepTmp: boolean;
}

export class UsageError extends Error {}

const RESULTS = path.resolve(__dirname, '..', '..', 'bench', 'results');

function list<T extends string>(value: string, known: readonly T[], what: string): T[] {
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const i of items) if (!known.includes(i as T)) throw new UsageError(`unknown ${what} "${i}" (known: ${known.join(', ')})`);
  if (items.length === 0) throw new UsageError(`--${what}s needs at least one name`);
  return items as T[];
}

function positive(value: string, flag: string, integer: boolean, allowZero = false): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0) || (integer && !Number.isInteger(n))) {
    throw new UsageError(`${flag} needs a ${integer ? 'whole ' : ''}number${allowZero ? '' : ' above 0'}, got "${value}"`);
  }
  return n;
}

export function parseOptions(argv: string[]): Options | 'help' {
  const args = [...argv];
  const set: Partial<Options> = {};
  let mode: Options['mode'] = 'full';
  const value = (flag: string): string => {
    const v = args.shift();
    if (v === undefined) throw new UsageError(`${flag} needs a value`);
    return v;
  };
  while (args.length > 0) {
    const a = args.shift()!;
    switch (a) {
      case '--full': mode = 'full'; break;
      case '--quick': mode = 'quick'; break;
      case '--rounds': set.rounds = positive(value(a), a, true); break;
      case '--duration': set.duration = positive(value(a), a, false); break;
      case '--warmup': set.warmup = positive(value(a), a, false, true); break;
      case '--workers': set.workers = positive(value(a), a, true); break;
      case '--upstream-workers': set.upstreamWorkers = positive(value(a), a, true); break;
      case '--only': set.candidates = list(value(a), CANDIDATES, 'candidate'); break;
      case '--workloads': set.workloads = list(value(a), ALL_WORKLOADS, 'workload'); break;
      case '--json': set.json = path.resolve(value(a)); break;
      case '--budget': set.budget = positive(value(a), a, false); break;
      case '--seed': set.seed = positive(value(a), a, true, true); break;
      case '--keep-tmp': set.keepTmp = true; break;
      case '--baseline': {
        const dir = path.resolve(value(a));
        if (!fs.existsSync(path.join(dir, 'dist', 'proxy', 'cli.js'))) throw new UsageError(`--baseline ${dir}: no dist/proxy/cli.js there (build that checkout first)`);
        set.baseline = dir;
        break;
      }
      case '-h': case '--help': return 'help';
      default: throw new UsageError(`unknown option "${a}"`);
    }
  }
  const quick = mode === 'quick';
  const baseline: CandidateName[] = set.baseline ? [BASELINE] : [];
  // Quick runs (CI, smoke checks) must not overwrite the figures of the last full run.
  const json = set.json ?? path.join(RESULTS, quick ? 'quick.json' : 'latest.json');
  return {
    mode,
    rounds: set.rounds ?? (quick ? 1 : 3),
    duration: set.duration ?? (quick ? 1.5 : 10),
    warmup: set.warmup ?? (quick ? 0.5 : 1),
    workers: set.workers ?? 2,
    upstreamWorkers: set.upstreamWorkers ?? 1,
    candidates: [...(set.candidates ?? CANDIDATES), ...baseline],
    baseline: set.baseline ?? null,
    workloads: set.workloads ?? [...ALL_WORKLOADS],
    json,
    markdown: json.replace(/\.json$/, '') + '.md',
    // Quick mode is promised to CI as "about 2 minutes"; full mode is bounded at an hour.
    budget: set.budget ?? (quick ? 120 : 3600),
    seed: set.seed ?? Math.floor(Math.random() * 2 ** 31),
    keepTmp: set.keepTmp ?? false,
  };
}

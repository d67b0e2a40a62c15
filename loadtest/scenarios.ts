// The scenarios: what each requests, with which generator and how many connections.
import type { LoadtestOptions, ScenarioName } from './options';

export type GeneratorName = 'autocannon' | 'raw-socket loop';

export interface Scenario {
  readonly name: ScenarioName;
  readonly title: string;
  readonly path: string;
  readonly generator: GeneratorName;
  readonly connections: number;
  /** What the reader must know to read this scenario's numbers. */
  readonly note: string;
}

export const LARGE_BYTES = 1024 * 1024;
/** 1 MiB bodies at high concurrency measure memory and the generator more than the proxy. */
export const LARGE_MAX_CONNECTIONS = 10;

export function scenarios(opts: LoadtestOptions): Scenario[] {
  const all: Record<ScenarioName, Scenario> = {
    keepalive: {
      name: 'keepalive',
      title: 'keep-alive, small responses',
      path: '/',
      generator: 'autocannon',
      connections: opts.connections,
      note: 'GET / on keep-alive connections, one request in flight per connection.',
    },
    newconn: {
      name: 'newconn',
      title: 'new connection per request',
      path: '/',
      generator: 'raw-socket loop',
      connections: opts.connections,
      note:
        'Each request opens a TCP connection, sends Connection: close and reads until the server closes: ' +
        "through the proxy every request is accepted by the master and handed to a worker. Latency includes the TCP handshake. " +
        "(autocannon is not used here: it reuses connections, and -H Connection=close misbehaves.)",
    },
    large: {
      name: 'large',
      title: '1 MiB responses',
      path: `/bytes?n=${LARGE_BYTES}`,
      generator: 'autocannon',
      connections: Math.min(opts.connections, LARGE_MAX_CONNECTIONS),
      note:
        'autocannon spends about 24 ms of CPU per 1 MiB response (it appends body chunks to a string), so it ' +
        'measures itself here more than the proxy: compare its CPU time (load generator CPU) with the run time. Use wrk to compare proxies on large bodies.',
    },
    slow: {
      name: 'slow',
      title: `slow upstream (${opts.delayMs} ms)`,
      path: `/delay?ms=${opts.delayMs}`,
      generator: 'autocannon',
      connections: opts.connections,
      note: `The backend answers after ${opts.delayMs} ms: the proxy holds many requests open at once; the latency above ${opts.delayMs} ms is its cost.`,
    },
  };
  return opts.scenarios.map((name) => all[name]);
}

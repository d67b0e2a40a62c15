// The report: a console table, report.json, and a self-contained report.html (inline CSS and SVG,
// nothing loaded from elsewhere) charting latency percentiles per scenario, proxy vs direct.
import fs from 'node:fs';
import path from 'node:path';
import type { ScenarioName } from './options';
import type { LatencySummary } from './recorder';
import type { GeneratorName, Scenario } from './scenarios';
import { describeSpread, type WorkerShare } from './worker-spread';

export type TargetName = 'proxy' | 'direct';

export interface RunResult {
  scenario: ScenarioName;
  target: TargetName;
  url: string;
  /** The address actually connected to (the URL's host resolved once). */
  address: string;
  generator: GeneratorName;
  connections: number;
  elapsedS: number;
  /** Complete responses, any status. */
  responses: number;
  ok: number;
  non2xx: number;
  /** Socket errors, timeouts (also counted in `timeouts`) and truncated responses. */
  errors: number;
  timeouts: number;
  reqPerSec: number;
  mibPerSec: number;
  latencyMs: LatencySummary;
  /** CPU time of the load generator (this process) during the run. */
  loadgenCpuMs: { user: number; system: number };
  loadgenCpuUsPerRequest: number;
  /** Load generator CPU time / wall time: 1.0 = one core busy all along (then it is the bottleneck). */
  loadgenCores: number;
  /** Through the proxy, with --status: the requests each worker served during the run. */
  workers?: WorkerShare[];
}

export interface Comparison {
  scenario: ScenarioName;
  /** proxy req/s ÷ direct req/s. */
  throughputRatio: number;
  /** proxy − direct, in ms. */
  addedP50Ms: number;
  addedP99Ms: number;
}

export interface Report {
  tool: 'handoff-loadtest';
  formatVersion: 1;
  startedAt: string;
  finishedAt: string;
  options: { proxy: string; direct: string; durationS: number; connections: number; scenarios: ScenarioName[]; delayMs: number; status: string | null };
  environment: { node: string; platform: string; cpus: number; hostname: string };
  scenarios: Array<Pick<Scenario, 'name' | 'title' | 'path' | 'generator' | 'connections' | 'note'>>;
  results: RunResult[];
  comparisons: Comparison[];
  totals: { responses: number; failures: number };
  notes: string[];
}

export const NOTES = [
  'The proxy spreads requests over all of its upstream servers (three backends in the Docker lab), while the direct runs go to one backend: where the backend is the bottleneck, the proxy can even look faster.',
  'Both targets run on the same machine as the load generator; the numbers compare the proxy with the direct path under the same conditions, they are not absolute capacities.',
  'autocannon costs 45-75 µs of CPU per request and caps near 23k req/s on a 2-core machine, so it flatters slow proxies; compare proxies with wrk. The report states the load generator\'s own CPU use for every run.',
  'Latency percentiles come from every response time (sub-ms precision), not from autocannon\'s 1 ms histogram.',
];

export function compare(results: readonly RunResult[]): Comparison[] {
  const out: Comparison[] = [];
  for (const r of results) {
    if (r.target !== 'proxy') continue;
    const d = results.find((x) => x.scenario === r.scenario && x.target === 'direct');
    if (!d) continue;
    out.push({
      scenario: r.scenario,
      throughputRatio: d.reqPerSec > 0 ? r.reqPerSec / d.reqPerSec : 0,
      addedP50Ms: r.latencyMs.p50 - d.latencyMs.p50,
      addedP99Ms: r.latencyMs.p99 - d.latencyMs.p99,
    });
  }
  return out;
}

// ---- console ------------------------------------------------------------------------------------

function table(header: string[], rows: string[][], rightAlignFrom: number): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (cells: string[]): string =>
    cells.map((c, i) => (i >= rightAlignFrom ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt)].join('\n');
}

const num = (n: number, digits = 0): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ms = (n: number): string => (n >= 100 ? num(n, 0) : n >= 10 ? num(n, 1) : num(n, 2));

export function consoleReport(report: Report): string {
  const rows = report.results.map((r) => [
    r.scenario,
    r.target,
    String(r.connections),
    num(r.reqPerSec),
    num(r.mibPerSec, 1),
    ms(r.latencyMs.p50),
    ms(r.latencyMs.p90),
    ms(r.latencyMs.p99),
    ms(r.latencyMs.max),
    String(r.errors + r.non2xx),
    num(r.loadgenCpuUsPerRequest),
    num(r.loadgenCores, 2),
  ]);
  const main = table(
    ['scenario', 'target', 'conns', 'req/s', 'MiB/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'failed', 'gen µs/req', 'gen cores'],
    rows,
    2,
  );
  const cost = table(
    ['scenario', 'proxy ÷ direct req/s', '+p50 ms', '+p99 ms'],
    report.comparisons.map((c) => [c.scenario, num(c.throughputRatio, 2), ms(c.addedP50Ms), ms(c.addedP99Ms)]),
    1,
  );
  return [
    `Handoff load test — proxy ${report.options.proxy} vs direct ${report.options.direct}, ${report.options.durationS}s per run`,
    '',
    main,
    '',
    'What the proxy costs:',
    cost,
    '',
    `${num(report.totals.responses)} responses, ${report.totals.failures} failed.  gen = the load generator itself (this process).`,
    ...spreadLines(report),
  ].join('\n');
}

function spreadLines(report: Report): string[] {
  const runs = report.results.filter((r) => r.workers !== undefined);
  if (runs.length === 0) return [];
  return ['', "How the proxy's requests spread over its workers (from the master's status listener):", ...runs.map((r) => `  ${r.scenario.padEnd(10)} ${describeSpread(r.workers!)}`)];
}

function spreadHtml(report: Report): string {
  const runs = report.results.filter((r) => r.workers !== undefined);
  if (runs.length === 0) return '';
  const rows = runs.flatMap((r) =>
    r.workers!.map(
      (w) =>
        `<tr><td>${esc(r.scenario)}</td><td>${esc(w.id)}${w.left ? ' (left)' : ''}</td><td>${esc(w.origin)}</td><td>${esc(w.host ?? '?')}</td><td>${num(w.requests)}</td>` +
        `<td><span class="bar" style="width:${Math.round(w.share * 200)}px"></span> ${Math.round(w.share * 100)}%</td></tr>`,
    ),
  );
  return `<h2>How the proxy's requests spread over its workers</h2>
<table class="runs">
<thead><tr><th>scenario</th><th>worker</th><th>origin</th><th>host</th><th>requests</th><th>share</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>`;
}

// ---- HTML ---------------------------------------------------------------------------------------

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const COLORS: Record<TargetName, string> = { proxy: '#d9480f', direct: '#1c7ed6' };

/** A "nice" axis step (1, 2 or 5 times a power of ten) for about `ticks` ticks up to `max`. */
function niceStep(max: number, ticks: number): number {
  const raw = max / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

/** One scenario's panel: p50/p90/p99 groups, a proxy bar and a direct bar in each. */
function latencySvg(title: string, proxy: RunResult | undefined, direct: RunResult | undefined): string {
  const W = 340;
  const H = 230;
  const left = 52;
  const right = 10;
  const top = 34;
  const bottom = 34;
  const plotW = W - left - right;
  const plotH = H - top - bottom;
  const keys = ['p50', 'p90', 'p99'] as const;
  const values = [proxy, direct].flatMap((r) => (r ? keys.map((k) => r.latencyMs[k]) : []));
  const maxValue = Math.max(0.001, ...values);
  const step = niceStep(maxValue, 4);
  const yMax = Math.ceil(maxValue / step) * step;
  const tickDigits = Math.max(0, -Math.floor(Math.log10(step)));
  const y = (v: number): number => top + plotH - (v / yMax) * plotH;
  const parts: string[] = [];
  parts.push(`<text x="${W / 2}" y="18" text-anchor="middle" class="t">${esc(title)}</text>`);
  for (let v = 0; v <= yMax + step / 2; v += step) {
    const yy = y(v).toFixed(1);
    parts.push(`<line x1="${left}" x2="${W - right}" y1="${yy}" y2="${yy}" class="grid"/>`);
    parts.push(`<text x="${left - 6}" y="${yy}" dy="0.32em" text-anchor="end" class="ax">${esc(num(v, tickDigits))}</text>`);
  }
  parts.push(`<text x="12" y="${top + plotH / 2}" transform="rotate(-90 12 ${top + plotH / 2})" text-anchor="middle" class="ax">ms</text>`);
  const groupW = plotW / keys.length;
  const barW = Math.min(34, groupW / 3);
  keys.forEach((k, gi) => {
    const gx = left + gi * groupW + groupW / 2;
    ([['proxy', proxy], ['direct', direct]] as const).forEach(([name, r], bi) => {
      if (!r) return;
      const v = r.latencyMs[k];
      const x = gx - barW + bi * barW;
      const yy = y(v);
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${yy.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(top + plotH - yy).toFixed(1)}" fill="${COLORS[name]}"><title>${name} ${k}: ${esc(ms(v))} ms</title></rect>`,
      );
      parts.push(`<text x="${(x + barW / 2 - 1).toFixed(1)}" y="${(yy - 3).toFixed(1)}" text-anchor="middle" class="v">${esc(ms(v))}</text>`);
    });
    parts.push(`<text x="${gx.toFixed(1)}" y="${top + plotH + 16}" text-anchor="middle" class="ax">${k}</text>`);
  });
  parts.push(`<line x1="${left}" x2="${W - right}" y1="${top + plotH}" y2="${top + plotH}" class="axis"/>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)} latency percentiles">${parts.join('')}</svg>`;
}

export function htmlReport(report: Report): string {
  const panels = report.scenarios
    .map((s) => {
      const proxy = report.results.find((r) => r.scenario === s.name && r.target === 'proxy');
      const direct = report.results.find((r) => r.scenario === s.name && r.target === 'direct');
      return `<figure>${latencySvg(s.title, proxy, direct)}<figcaption>${esc(s.note)}</figcaption></figure>`;
    })
    .join('\n');
  const rows = report.results
    .map((r) => {
      const failed = r.errors + r.non2xx;
      return `<tr><td>${esc(r.scenario)}</td><td><span class="dot" style="background:${COLORS[r.target]}"></span>${r.target}</td><td>${esc(r.generator)}</td><td>${r.connections}</td><td>${num(r.responses)}</td><td>${num(r.reqPerSec)}</td><td>${num(r.mibPerSec, 1)}</td><td>${ms(r.latencyMs.p50)}</td><td>${ms(r.latencyMs.p90)}</td><td>${ms(r.latencyMs.p99)}</td><td>${ms(r.latencyMs.max)}</td><td class="${failed ? 'bad' : ''}">${failed}${r.timeouts ? ` (${r.timeouts} timeouts)` : ''}</td><td>${num(r.loadgenCpuMs.user + r.loadgenCpuMs.system)}</td><td>${num(r.loadgenCpuUsPerRequest)}</td><td>${num(r.loadgenCores, 2)}</td></tr>`;
    })
    .join('\n');
  const cost = report.comparisons
    .map((c) => `<tr><td>${esc(c.scenario)}</td><td>${num(c.throughputRatio, 2)}</td><td>${ms(c.addedP50Ms)}</td><td>${ms(c.addedP99Ms)}</td></tr>`)
    .join('\n');
  const o = report.options;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Handoff load test — ${esc(report.startedAt)}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#212529;max-width:1500px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}
.meta{color:#495057}.legend span{display:inline-block;margin-right:16px}
.dot{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px;vertical-align:baseline}
.charts{display:flex;flex-wrap:wrap;gap:16px}
figure{margin:0;width:340px;border:1px solid #dee2e6;border-radius:6px;padding:6px}
figcaption{font-size:12px;color:#495057;padding:4px 6px}
svg .t{font-size:13px;font-weight:600;fill:#212529}svg .ax{font-size:11px;fill:#495057}svg .v{font-size:10px;fill:#212529}
svg .grid{stroke:#e9ecef}svg .axis{stroke:#868e96}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}
th,td{border-bottom:1px solid #dee2e6;padding:4px 10px;text-align:right;white-space:nowrap}
th{background:#f1f3f5}td:first-child,th:first-child,.runs td:nth-child(-n+3),.runs th:nth-child(-n+3){text-align:left}
td.bad{color:#c92a2a;font-weight:600}
.bar{display:inline-block;height:10px;background:#d9480f;vertical-align:middle}
ul{padding-left:20px}
</style>
</head>
<body>
<h1>Handoff load test</h1>
<p class="meta">Proxy <code>${esc(o.proxy)}</code> vs one backend directly <code>${esc(o.direct)}</code> · ${o.durationS} s per run · ${o.connections} connections
 · started ${esc(report.startedAt)} · Node ${esc(report.environment.node)} on ${esc(report.environment.hostname)} (${report.environment.cpus} CPUs)
 · <b>${num(report.totals.responses)} responses, ${report.totals.failures} failed</b></p>
<h2>Latency percentiles (ms), proxy vs direct</h2>
<p class="legend"><span><span class="dot" style="background:${COLORS.proxy}"></span>through the proxy</span><span><span class="dot" style="background:${COLORS.direct}"></span>direct to one backend</span></p>
<div class="charts">
${panels}
</div>
<h2>All runs</h2>
<table class="runs">
<thead><tr><th>scenario</th><th>target</th><th>generator</th><th>conns</th><th>responses</th><th>req/s</th><th>MiB/s</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>max ms</th><th>failed</th><th>generator CPU ms</th><th>generator µs/req</th><th>generator cores</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
${spreadHtml(report)}
<h2>What the proxy costs</h2>
<table>
<thead><tr><th>scenario</th><th>proxy ÷ direct req/s</th><th>+p50 ms</th><th>+p99 ms</th></tr></thead>
<tbody>
${cost}
</tbody>
</table>
<h2>Read with care</h2>
<ul>
${report.notes.map((n) => `<li>${esc(n)}</li>`).join('\n')}
</ul>
</body>
</html>
`;
}

/** Writes report.json and report.html into `dir` (created if needed); returns their paths. */
export function writeReport(dir: string, report: Report): { json: string; html: string } {
  fs.mkdirSync(dir, { recursive: true });
  const json = path.join(dir, 'report.json');
  const html = path.join(dir, 'report.html');
  fs.writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
  fs.writeFileSync(html, htmlReport(report));
  return { json, html };
}

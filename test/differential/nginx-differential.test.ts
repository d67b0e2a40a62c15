// Differential testing against nginx: every request of the corpus goes, on a fresh connection,
// to nginx 1.22 and to Handoff (a real master and worker), each in front of its own recording
// origin. What the client got and what reached the origin must be the same, or differ only as
// intended-divergences.ts says and why. HANDOFF_DIFFERENTIAL_CLI=/path/to/dist/proxy/cli.js
// runs another build of Handoff against the same oracle.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startProxy, type RunningProxy } from '../helpers/proxy';
import { describe as describeSeen, divergence, printable, type Aspect } from './compare';
import { corpus, type Case } from './corpus';
import { INTENDED_DIVERGENCES, type IntendedDivergence } from './intended-divergences';
import { nginxMissing, startNginx, type RunningNginx } from './nginx-oracle';
import { observe, type Lane, type Seen } from './observe';
import { startRecordingOrigin, type RecordingOrigin } from './recording-origin';

/** Cases run this many at a time, each on its own lane (a proxy and an origin per side). */
const LANES = 4;
const missing = nginxMissing();

interface Outcome {
  readonly c: Case;
  readonly differs: Aspect[];
  readonly handoff: Seen;
  readonly nginx: Seen;
}

function covering(name: string): IntendedDivergence[] {
  return INTENDED_DIVERGENCES.filter((d) => d.cases.test(name));
}

function report(o: Outcome): string {
  return [
    `case ${o.c.name}: differs in ${o.differs.join(', ')}`,
    `  request ${printable(o.c.bytes.toString('latin1'), 400)}`,
    '  handoff:',
    ...describeSeen(o.handoff).split('\n').map((l) => `    ${l}`),
    '  nginx:',
    ...describeSeen(o.nginx).split('\n').map((l) => `    ${l}`),
  ].join('\n');
}

describe('differential against nginx', { skip: missing === null ? false : `nginx is missing: ${missing}` }, () => {
  const origins: RecordingOrigin[] = [];
  const proxies: RunningProxy[] = [];
  let nginx: RunningNginx | undefined;
  const handoffLanes: Lane[] = [];
  const nginxLanes: Lane[] = [];

  before(async () => {
    for (let i = 0; i < 2 * LANES; i++) origins.push(await startRecordingOrigin());
    const forNginx = origins.slice(0, LANES);
    const forHandoff = origins.slice(LANES);
    nginx = await startNginx(forNginx.map((o) => o.port));
    // One after another, each kept as soon as it runs, so that a failed start leaves none behind.
    for (const o of forHandoff) {
      proxies.push(
        await startProxy({ workers: 1, cli: process.env.HANDOFF_DIFFERENTIAL_CLI || undefined, upstreams: { origin: { servers: [`127.0.0.1:${o.port}`], keepalive: 8 } } }),
      );
    }
    for (let i = 0; i < LANES; i++) {
      nginxLanes.push({ port: nginx.ports[i], origin: forNginx[i] });
      handoffLanes.push({ port: proxies[i].port, origin: forHandoff[i] });
    }
  });

  after(async () => {
    await Promise.all(proxies.map((p) => p.stop()));
    await nginx?.stop();
    await Promise.all(origins.map((o) => o.close()));
  });

  it('answers and forwards every corpus request as nginx does, or as an intended divergence says', async (t) => {
    const cases = corpus();
    assert.ok(cases.length >= 300, `the corpus has ${cases.length} cases`);
    const startedAt = Date.now();
    const outcomes: Outcome[] = [];
    const queue = [...cases];
    const run = async (c: Case, lane: number): Promise<Outcome> => {
      const [handoff, ngx] = await Promise.all([observe(handoffLanes[lane], c.bytes), observe(nginxLanes[lane], c.bytes)]);
      return { c, differs: divergence(handoff, ngx), handoff, nginx: ngx };
    };
    await Promise.all(
      Array.from({ length: LANES }, async (_, lane) => {
        for (let c = queue.shift(); c !== undefined; c = queue.shift()) {
          let outcome = await run(c, lane);
          // A divergence must show twice: once may be this busy machine being slow to answer.
          if (outcome.differs.length > 0) outcome = await run(c, lane);
          outcomes.push(outcome);
        }
      }),
    );
    const elapsed = Date.now() - startedAt;

    const diverging = outcomes.filter((o) => o.differs.length > 0);
    const unexplained = diverging.filter((o) => {
      const allowed = new Set(covering(o.c.name).flatMap((d) => d.differs));
      return o.differs.some((a) => !allowed.has(a));
    });
    const used = new Set(diverging.flatMap((o) => covering(o.c.name)));
    const stale = INTENDED_DIVERGENCES.filter((d) => !used.has(d));

    t.diagnostic(`${cases.length} cases in ${elapsed} ms over ${LANES} lanes; ${diverging.length} diverge, ${unexplained.length} unexplained`);
    for (const d of INTENDED_DIVERGENCES) {
      const n = diverging.filter((o) => d.cases.test(o.c.name)).length;
      t.diagnostic(`${n} case(s): ${d.what}`);
    }
    // HANDOFF_DIFFERENTIAL_DUMP=FILE writes every divergence, listed or not, for review.
    const dump = process.env.HANDOFF_DIFFERENTIAL_DUMP;
    if (dump) fs.writeFileSync(dump, diverging.map((o) => `${report(o)}\n  listed as: ${covering(o.c.name).map((d) => d.what).join(' / ') || '(nothing)'}`).join('\n\n') + '\n');

    assert.equal(unexplained.length, 0, `${unexplained.length} case(s) diverge from nginx without an intended divergence:\n\n${unexplained.map(report).join('\n\n')}`);
    assert.equal(stale.length, 0, `intended divergences that no case shows any more (remove them): ${stale.map((d) => d.cases).join(', ')}`);
    assert.ok(elapsed < 60_000, `the corpus took ${elapsed} ms`);
  });
});

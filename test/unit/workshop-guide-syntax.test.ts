// The guide's <!-- ci: … --> comments are a small language (test/helpers/guide.ts): a typo in one
// must fail at once, not silently turn a check into prose. The Docker suite runs the guide; this
// reads it, so a broken directive is caught without a Docker engine.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseGuide } from '../helpers/guide';

const GUIDE = path.resolve(__dirname, '../../../docs/workshop');

describe('the workshop guide as a script', () => {
  it('reads commands, background jobs, skips and expectations in order', () => {
    const steps = parseGuide('t.md', [
      'Run it:',
      '```sh',
      'curl -si localhost:8080/',
      '```',
      '```text',
      'HTTP/1.1 200 OK',
      '```',
      '<!-- ci: expect /^HTTP\\/1.1 200/m -->',
      '<!-- ci: background load -->',
      '```sh',
      './lab load --duration 5',
      '```',
      '<!-- ci: skip opens a browser -->',
      '```sh',
      'xdg-open http://localhost:8081/',
      '```',
      '<!-- ci: wait load -->',
      '<!-- ci: eventually 10s -->',
      '<!-- ci: expect-not /failed/i -->',
    ].join('\n'));
    assert.deepEqual(steps.map((s) => s.kind), ['run', 'expect', 'run', 'skip', 'wait', 'expect']);
    assert.equal(steps[0]!.kind === 'run' && steps[0].command, 'curl -si localhost:8080/');
    assert.equal(steps[2]!.kind === 'run' && steps[2].background, 'load');
    const last = steps[5]!;
    assert.ok(last.kind === 'expect' && last.negate && last.eventuallyMs === 10_000 && last.pattern.flags === 'i');
  });

  it('refuses an unknown directive and a pattern that is not /…/', () => {
    assert.throws(() => parseGuide('t.md', '<!-- ci: expekt /x/ -->'), /t\.md:1: unknown directive ci: expekt/);
    assert.throws(() => parseGuide('t.md', 'x\n<!-- ci: expect x -->'), /t\.md:2: expected \/regex\/flags/);
    assert.throws(() => parseGuide('t.md', '```sh\nls\n'), /code block never closed/);
  });

  it('every module of docs/workshop parses, runs commands and asserts what it shows', () => {
    const modules = fs.readdirSync(GUIDE).filter((f) => /^\d\d-.*\.md$/.test(f));
    assert.ok(modules.length >= 6, `${modules.length} modules`);
    for (const m of modules) {
      const steps = parseGuide(path.join(GUIDE, m));
      assert.ok(steps.some((s) => s.kind === 'run'), `${m} runs no command`);
      assert.ok(steps.some((s) => s.kind === 'expect'), `${m} asserts nothing`);
    }
  });
});

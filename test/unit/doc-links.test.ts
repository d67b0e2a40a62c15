// The docs link into the source ("why: see dispatch() in dispatcher.ts"), and the source moves.
// Every relative link in the README and docs/ must reach a file of this repository, and a link
// whose text names code in backticks must reach a file that still has that name in it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

const ROOT = path.resolve(__dirname, '../../..');

function markdownFiles(): string[] {
  const out = [path.join(ROOT, 'README.md')];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.md')) out.push(p);
    }
  };
  walk(path.join(ROOT, 'docs'));
  for (const extra of ['bench/README.md']) if (fs.existsSync(path.join(ROOT, extra))) out.push(path.join(ROOT, extra));
  return out;
}

interface Link {
  file: string;
  line: number;
  text: string;
  target: string;
}

/** Inline links outside code blocks: [text](target). */
export function linksOf(file: string, markdown: string): Link[] {
  const links: Link[] = [];
  let inFence = false;
  markdown.split('\n').forEach((line, i) => {
    if (/^\s*```/.test(line)) inFence = !inFence;
    if (inFence) return;
    for (const m of line.matchAll(/\[((?:[^\]`]|`[^`]*`)+)\]\(([^)\s]+)\)/g)) links.push({ file, line: i + 1, text: m[1]!, target: m[2]! });
  });
  return links;
}

/** The identifiers a link's text names in backticks: `Dispatcher.dispatch()` → Dispatcher, dispatch. */
export function namedIdentifiers(text: string): string[] {
  const names: string[] = [];
  for (const m of text.matchAll(/`([^`]+)`/g)) {
    for (const part of m[1]!.replace(/\(.*\)$/, '').split(/[.#]/)) if (/^[A-Za-z_$][\w$]*$/.test(part)) names.push(part);
  }
  return names;
}

const SOURCE = /\.(ts|c|h|js|json|yml|yaml|sh|gyp)$|(^|\/)(Dockerfile|lab)$/;

describe('links from the docs into the repository', () => {
  const links = markdownFiles().flatMap((f) => linksOf(f, fs.readFileSync(f, 'utf8')));

  it('finds links to check (the checker reads the docs at all)', () => {
    assert.ok(links.filter((l) => !/^[a-z]+:/.test(l.target)).length > 10, `only ${links.length} links found`);
  });

  it('every relative link reaches a file or folder of the repository, never one outside it', () => {
    const broken: string[] = [];
    for (const l of links) {
      if (/^([a-z]+:|#)/.test(l.target)) continue;
      const target = path.resolve(path.dirname(l.file), decodeURIComponent(l.target.replace(/#.*$/, '')));
      const where = `${path.relative(ROOT, l.file)}:${l.line} [${l.text}](${l.target})`;
      if (!target.startsWith(ROOT + path.sep)) broken.push(`${where}: points outside the repository`);
      else if (!fs.existsSync(target)) broken.push(`${where}: no such file`);
    }
    assert.deepEqual(broken, []);
  });

  it('a link that names code in backticks reaches a file that still defines that name', () => {
    const stale: string[] = [];
    for (const l of links) {
      if (/^([a-z]+:|#)/.test(l.target)) continue;
      const target = path.resolve(path.dirname(l.file), decodeURIComponent(l.target.replace(/#.*$/, '')));
      if (!SOURCE.test(target) || !fs.existsSync(target) || fs.statSync(target).isDirectory()) continue;
      const source = fs.readFileSync(target, 'utf8');
      for (const name of namedIdentifiers(l.text)) {
        if (!new RegExp(`\\b${name.replace(/\$/g, '\\$')}\\b`).test(source)) stale.push(`${path.relative(ROOT, l.file)}:${l.line}: ${name} is not in ${path.relative(ROOT, target)}`);
      }
    }
    assert.deepEqual(stale, []);
  });

  it('the checker catches a stale name and a missing file (it can fail)', () => {
    const [link] = linksOf('x.md', 'see [`noSuchFunction()`](proxy/cli.ts) and [gone](proxy/gone.ts)');
    assert.deepEqual(namedIdentifiers(link!.text), ['noSuchFunction']);
    assert.doesNotMatch(fs.readFileSync(path.join(ROOT, 'proxy/cli.ts'), 'utf8'), /\bnoSuchFunction\b/);
    assert.equal(fs.existsSync(path.join(ROOT, 'proxy/gone.ts')), false);
  });
});

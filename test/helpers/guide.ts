// Reads the workshop guide (docs/workshop/*.md) as a script: its ```sh blocks are the commands a
// participant runs, and HTML comments of the form <!-- ci: … --> (invisible when the page is
// rendered) say what CI checks of them. The guide is the test, so it cannot drift from what runs.
//
//   <!-- ci: expect /re/flags -->        the last command's output (stdout + stderr) matches
//   <!-- ci: expect-not /re/flags -->    … does not match
//   <!-- ci: eventually 30s -->          the expects after it re-run the last command until they
//                                        hold, for at most that long (an observation that settles)
//   <!-- ci: background NAME -->         the next ```sh block starts and is not waited for
//   <!-- ci: wait NAME -->               waits for that block; its output becomes the last output
//   <!-- ci: fails -->                   the next ```sh block must exit non-zero
//   <!-- ci: skip REASON -->             the next ```sh block is not run in CI (say why)
import fs from 'node:fs';

export type GuideStep =
  | { kind: 'run'; line: number; command: string; background: string | null; fails: boolean }
  | { kind: 'skip'; line: number; command: string; reason: string }
  | { kind: 'wait'; line: number; name: string }
  | { kind: 'expect'; line: number; pattern: RegExp; negate: boolean; eventuallyMs: number };

export class GuideSyntaxError extends Error {
  constructor(file: string, line: number, message: string) {
    super(`${file}:${line}: ${message}`);
  }
}

const DIRECTIVE = /^<!--\s*ci:\s*([a-z-]+)\s*(.*?)\s*-->$/;

function parsePattern(file: string, line: number, text: string): RegExp {
  const m = /^\/(.*)\/([a-z]*)$/.exec(text);
  if (!m) throw new GuideSyntaxError(file, line, `expected /regex/flags, got ${JSON.stringify(text)}`);
  return new RegExp(m[1]!, m[2]);
}

function parseDuration(file: string, line: number, text: string): number {
  const m = /^(\d+)s$/.exec(text);
  if (!m) throw new GuideSyntaxError(file, line, `expected a duration such as 30s, got ${JSON.stringify(text)}`);
  return Number(m[1]) * 1000;
}

export function parseGuide(file: string, text = fs.readFileSync(file, 'utf8')): GuideStep[] {
  const steps: GuideStep[] = [];
  const lines = text.split('\n');
  let background: string | null = null;
  let fails = false;
  let skip: string | null = null;
  let eventuallyMs = 0;
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const trimmed = lines[i]!.trim();
    const fence = /^(```+)\s*(\S*)/.exec(trimmed);
    if (fence) {
      const body: string[] = [];
      let j = i + 1;
      for (; j < lines.length && !lines[j]!.trim().startsWith(fence[1]!); j++) body.push(lines[j]!);
      if (j === lines.length) throw new GuideSyntaxError(file, lineNo, 'code block never closed');
      i = j;
      if (fence[2] !== 'sh') continue;
      const command = body.join('\n').trim();
      if (skip !== null) steps.push({ kind: 'skip', line: lineNo, command, reason: skip });
      else steps.push({ kind: 'run', line: lineNo, command, background, fails });
      background = null;
      fails = false;
      skip = null;
      eventuallyMs = 0;
      continue;
    }
    const d = DIRECTIVE.exec(trimmed);
    if (!d) continue;
    const [, name, arg] = d as unknown as [string, string, string];
    switch (name) {
      case 'expect':
      case 'expect-not':
        steps.push({ kind: 'expect', line: lineNo, pattern: parsePattern(file, lineNo, arg), negate: name === 'expect-not', eventuallyMs });
        break;
      case 'eventually':
        eventuallyMs = parseDuration(file, lineNo, arg);
        break;
      case 'background':
        if (!arg) throw new GuideSyntaxError(file, lineNo, 'background needs a name');
        background = arg;
        break;
      case 'wait':
        if (!arg) throw new GuideSyntaxError(file, lineNo, 'wait needs a name');
        steps.push({ kind: 'wait', line: lineNo, name: arg });
        break;
      case 'fails':
        fails = true;
        break;
      case 'skip':
        if (!arg) throw new GuideSyntaxError(file, lineNo, 'skip needs a reason');
        skip = arg;
        break;
      default:
        throw new GuideSyntaxError(file, lineNo, `unknown directive ci: ${name}`);
    }
  }
  return steps;
}

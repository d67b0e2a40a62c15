// Reading a config file: read, parse JSON, validate. Every failure is a ConfigError naming the
// file, so the CLI has one error type to print (as `nginx -t` does for every kind of mistake).

import * as fs from 'fs';
import * as path from 'path';
import { ConfigError, SourceLocation } from './errors';
import { type ConfigOverride, applyOverrides, attributeProblems } from './overrides';
import type { Config } from './types';
import { validateConfig } from './validate';

/**
 * `overrides` (the command line's --set and its shortcuts) are applied to the file's JSON before
 * validation; the master's reload calls this again with the same ones.
 */
export function loadConfigFile(file: string, overrides: readonly ConfigOverride[] = []): Config {
  const absoluteFile = path.resolve(file);
  let text: string;
  try {
    text = fs.readFileSync(absoluteFile, 'utf8');
  } catch (err) {
    throw ConfigError.unreadable(absoluteFile, err);
  }
  const raw = applyOverrides(parseConfigJson(text, absoluteFile), overrides, absoluteFile);
  try {
    return validateConfig(raw, absoluteFile);
  } catch (err) {
    throw err instanceof ConfigError ? attributeProblems(err, overrides) : err;
  }
}

/** The repo's config/handoff.json, whether this runs compiled (dist/proxy/config) or from source (proxy/config). */
export function defaultConfigPath(): string {
  const fromSource = path.resolve(__dirname, '..', '..', 'config', 'handoff.json');
  const fromDist = path.resolve(__dirname, '..', '..', '..', 'config', 'handoff.json');
  // Prefer the layout we are in: a stray dist/config/handoff.json (tsc copies imported JSON) must not win.
  const compiled = path.basename(path.resolve(__dirname, '..', '..')) === 'dist';
  const candidates = compiled ? [fromDist, fromSource] : [fromSource, fromDist];
  return candidates.find((candidate) => fs.existsSync(candidate)) ?? candidates[0]!;
}

/** JSON.parse, with syntax errors turned into a ConfigError carrying line and column. */
export function parseConfigJson(text: string, file: string | null): unknown {
  // Editors on Windows may save a UTF-8 BOM, which JSON.parse rejects as an unexpected token.
  const json = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    return JSON.parse(json) as unknown;
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err;
    const offset = syntaxErrorOffset(err.message, json);
    const detail = describeSyntaxError(err.message) + (offset === null ? '' : syntaxHint(json, offset));
    throw ConfigError.syntax(file, offset === null ? null : locationOf(json, offset), detail, err);
  }
}

/**
 * Where the JSON goes wrong. V8 says "... in JSON at position 42" for most errors; for
 * "Unexpected token" and "Unexpected end of JSON input" (Node 20) it does not, so we find the
 * spot ourselves with a small scanner.
 */
function syntaxErrorOffset(message: string, json: string): number | null {
  const position = /at position (\d+)/.exec(message);
  if (position !== null) return Number(position[1]);
  return firstJsonErrorOffset(json);
}

/** V8's message without its position, and without the echo of the input ("..." is not valid JSON). */
function describeSyntaxError(message: string): string {
  return message
    .replace(/^(Unexpected token '.+?'), .* is not valid JSON$/s, '$1')
    .replace(/\s*(?:in JSON )?at position \d+.*$/s, '') // also drops Node 22's "(line 1 column 7)"
    // "Unexpected token '\n'" must stay on one line: the error message is one line per problem.
    .replace(/[\u0000-\u001f]/g, (char) => JSON.stringify(char).slice(1, -1));
}

/** The usual hand-written-JSON mistakes (comments, single quotes, trailing commas), named. */
function syntaxHint(json: string, offset: number): string {
  if (json.startsWith('//', offset) || json.startsWith('/*', offset)) return ' (JSON does not allow comments)';
  if (json[offset] === "'") return ' (JSON strings need double quotes)';
  const before = json.slice(0, offset).trimEnd();
  if ((json[offset] === '}' || json[offset] === ']') && before.endsWith(',')) {
    return ' (JSON does not allow a trailing comma)';
  }
  return '';
}

/** 1-based line and column of a UTF-16 offset. */
export function locationOf(text: string, offset: number): SourceLocation {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - (before.lastIndexOf('\n') + 1) + 1 };
}

/**
 * Offset of the first JSON syntax error (text.length for a premature end), or null if the text
 * is valid. A recursive-descent recogniser of RFC 8259: it accepts exactly what JSON.parse does.
 */
export function firstJsonErrorOffset(text: string): number | null {
  let i = 0;
  const fail = (): never => {
    throw new JsonScanError(i);
  };
  const skipWhitespace = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const expect = (char: string): void => {
    if (text[i] !== char) fail();
    i++;
  };
  const digits = (): void => {
    const start = i;
    while (i < text.length && text[i]! >= '0' && text[i]! <= '9') i++;
    if (i === start) fail();
  };
  const number = (): void => {
    if (text[i] === '-') i++;
    if (text[i] === '0') i++;
    else digits();
    if (text[i] === '.') {
      i++;
      digits();
    }
    if (text[i] === 'e' || text[i] === 'E') {
      i++;
      if (text[i] === '+' || text[i] === '-') i++;
      digits();
    }
  };
  const string = (): void => {
    expect('"');
    for (;;) {
      if (i >= text.length) fail();
      const code = text.charCodeAt(i);
      if (code === 0x22) return void i++;
      if (code < 0x20) fail();
      if (code !== 0x5c) {
        i++;
        continue;
      }
      i++; // backslash
      if (text[i] === 'u') {
        for (let k = 0; k < 4; k++) if (!/[0-9a-fA-F]/.test(text[++i] ?? '')) fail();
        i++;
      } else if (i < text.length && '"\\/bfnrt'.includes(text[i]!)) i++;
      else fail();
    }
  };
  const sequence = (close: string, item: () => void): void => {
    i++; // the opening bracket
    skipWhitespace();
    if (text[i] === close) return void i++;
    for (;;) {
      item();
      skipWhitespace();
      if (text[i] === close) return void i++;
      expect(',');
    }
  };
  const value = (): void => {
    skipWhitespace();
    const char = text[i];
    if (char === '{') {
      sequence('}', () => {
        skipWhitespace();
        string();
        skipWhitespace();
        expect(':');
        value();
      });
    } else if (char === '[') sequence(']', value);
    else if (char === '"') string();
    else if (char === '-' || (char !== undefined && char >= '0' && char <= '9')) number();
    else if (char === 't' || char === 'f' || char === 'n') {
      for (const expected of char === 't' ? 'true' : char === 'f' ? 'false' : 'null') expect(expected);
    } else fail();
  };
  try {
    value();
    skipWhitespace();
    if (i < text.length) fail();
    return null;
  } catch (err) {
    if (err instanceof JsonScanError) return err.offset;
    if (err instanceof RangeError) return null; // nested too deep for our stack: no position then
    throw err;
  }
}

class JsonScanError extends Error {
  constructor(readonly offset: number) {
    super(`JSON syntax error at offset ${offset}`);
  }
}

// The config's scalar parsers on their own: hosts, nginx-style durations and sizes. What each
// accepts, and the message for what it refuses.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseDuration, parseHost, parseSize } from '../../proxy/config/validate';

describe('parseHost', () => {
  test('accepts host names and IP addresses, IPv6 without its brackets', () => {
    const cases: [string, string][] = [
      ['backend.internal', 'backend.internal'], ['h', 'h'], ['my_host-1', 'my_host-1'], ['1.2.3.example', '1.2.3.example'],
      ['3com.com', '3com.com'], ['10.0.0.1', '10.0.0.1'], ['0.0.0.0', '0.0.0.0'], ['[::1]', '::1'], ['::', '::'],
    ];
    for (const [input, host] of cases) assert.equal(parseHost(input), host, input);
  });

  test('rejects dotted all-numeric hosts that are not valid IPv4 addresses', () => {
    for (const input of ['999.1.1.1', '1.2.3', '1.2.3.4.5', '256.0.0.1', '01.2.3.4', '1..2.3']) {
      assert.throws(() => parseHost(input), { message: `"${input}" is not a valid IPv4 address` }, input);
    }
  });
});

describe('parseDuration', () => {
  test('accepts milliseconds and nginx-style units', () => {
    const cases: [unknown, number][] = [
      [500, 500], ['500ms', 500], ['60s', 60_000], ['5m', 300_000], ['1h', 3_600_000], ['1d', 86_400_000],
      ['1m 30s', 90_000], [' 2s ', 2000],
    ];
    for (const [input, ms] of cases) assert.equal(parseDuration(input), ms, String(input));
  });

  test('rejects bad units, missing units, zero, negatives and fractions', () => {
    const cases: [unknown, RegExp][] = [
      ['5x', /unknown unit "x"/], ['60', /has no unit/], [0, /greater than 0/], ['0s', /greater than 0/],
      [-1, /greater than 0/], [1.5, /expected a duration/], ['1.5s', /expected a duration/], ['', /expected a duration/],
      [true, /expected a duration/], ['s', /expected a duration/], [2 ** 31, /at most 2147483647/],
    ];
    for (const [input, message] of cases) assert.throws(() => parseDuration(input), message, String(input));
  });
});

describe('parseSize', () => {
  test('accepts bytes and k/m/g suffixes in any case; 0 means unlimited', () => {
    const cases: [unknown, number][] = [[0, 0], [1024, 1024], ['2048', 2048], ['10k', 10_240], ['1m', 1_048_576], ['1G', 1_073_741_824], ['512K', 524_288]];
    for (const [input, bytes] of cases) assert.equal(parseSize(input), bytes, String(input));
  });

  test('rejects bad units, negatives and fractions', () => {
    const cases: [unknown, RegExp][] = [['10kb', /unknown unit "kb"/], ['5t', /unknown unit "t"/], [-1, /0 or more/], [1.5, /0 or more/], ['1.5m', /expected a size/], [null, /expected a size/]];
    for (const [input, message] of cases) assert.throws(() => parseSize(input), message, String(input));
  });
});

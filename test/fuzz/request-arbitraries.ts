// Generators of request bytes for the request-path fuzz tests: near-valid HTTP/1.1 requests whose
// framing is mutated where proxies and upstreams disagree (Content-Length and Transfer-Encoding
// spellings, whitespace, case, control bytes, chunk sizes, trailers, versions, absolute-form,
// pipelining), then perhaps a few random byte edits.
import fc from 'fast-check';

/** Bytes that parsers treat differently: controls, DEL, obs-text, the whitespace JS trims but HTTP does not. */
const oddByte = fc.constantFrom('\x00', '\x01', '\x08', '\x0b', '\x0c', '\x1f', '\x7f', '\x80', '\xa0', '\xff', '\t', ' ', '\r', '\n');

/** A printable ASCII character. */
const printable = fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c));

const token = fc.stringMatching(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,12}$/);

const method = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH') },
  { weight: 2, arbitrary: fc.constantFrom('CONNECT', 'get', 'Get', 'PRI', 'QUERY', 'TRACE', 'M-SEARCH') },
  { weight: 1, arbitrary: token },
);

const target = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('/', '/a', '/a/b?x=1&y=2', '/p#frag', '/%41dmin', '/a/../b', '//double', '/a%00b', '/%zz') },
  { weight: 2, arbitrary: fc.constantFrom('http://h.test/x', 'HTTP://H.test:8080', 'https://u@h.test/', 'http://h.test?q', '*', 'h.test:80', 'http://') },
  { weight: 2, arbitrary: fc.tuple(fc.constant('/'), fc.string({ unit: fc.oneof(printable, oddByte), maxLength: 12 })).map(([a, b]) => a + b) },
);

const version = fc.oneof(
  { weight: 8, arbitrary: fc.constant('HTTP/1.1') },
  { weight: 2, arbitrary: fc.constantFrom('HTTP/1.0', 'HTTP/0.9', 'HTTP/2.0', 'HTTP/1.2', 'http/1.1', 'HTTP/1.1 ', 'HTTP/01.1', 'HTTP/1.10') },
);

const lineEnd = fc.oneof({ weight: 12, arbitrary: fc.constant('\r\n') }, { weight: 1, arbitrary: fc.constantFrom('\n', '\r', ' \r\n', '\r\r\n', '\r\n ', '\r\n\t') });

/** Spellings of a header name: case, underscores for dashes, whitespace where none belongs. */
function spelled(name: string): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.constant(name) },
    { weight: 3, arbitrary: fc.constantFrom(name.toLowerCase(), name.toUpperCase()) },
    { weight: 1, arbitrary: fc.constantFrom(name.replace(/-/g, '_'), `${name} `, ` ${name}`, `${name}\t`, `${name}\x00`, `X-${name}`) },
  );
}

const clValue = fc.oneof(
  { weight: 4, arbitrary: fc.nat({ max: 12 }).map(String) },
  { weight: 2, arbitrary: fc.constantFrom('0', '05', '+5', '-1', ' 5', '5 ', '5,5', '5, 5', '1e1', '0x5', '5\x0b', '\x0c5', '99999999999999999999', '4294967296', '') },
);
const teValue = fc.constantFrom('chunked', 'Chunked', 'CHUNKED', ' chunked', 'chunked ', 'chunked\x0b', '\x0cchunked', 'gzip, chunked', 'chunked, gzip', 'identity', 'chunked,', ', chunked', 'chunked;q=1', 'x-chunked', '"chunked"');
const hostValue = fc.constantFrom('h.test', 'H.TEST:8080', 'h.test.', '', ' h.test', 'h.test ', 'a b', 'h.test\x0b', '[::1]:80', 'u@h.test', '..', 'h.test, other.test');
const connectionValue = fc.constantFrom('close', 'keep-alive', 'Upgrade', 'close, Content-Length', 'Host', 'Transfer-Encoding', 'keep-alive, x-a', ' close', 'CLOSE');
const expectValue = fc.constantFrom('100-continue', '100-Continue', 'x-y', '');
const upgradeValue = fc.constantFrom('websocket', 'h2c', 'websocket, h2c', 'WebSocket/13', '');
const anyValue = fc.string({ unit: fc.oneof({ weight: 8, arbitrary: printable }, { weight: 1, arbitrary: oddByte }), maxLength: 16 });

interface HeaderField {
  readonly name: string;
  readonly value: string;
}

const headerField: fc.Arbitrary<HeaderField> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ name: spelled('Host'), value: hostValue }) },
  { weight: 3, arbitrary: fc.record({ name: spelled('Content-Length'), value: clValue }) },
  { weight: 3, arbitrary: fc.record({ name: spelled('Transfer-Encoding'), value: teValue }) },
  { weight: 2, arbitrary: fc.record({ name: spelled('Connection'), value: connectionValue }) },
  { weight: 1, arbitrary: fc.record({ name: spelled('Expect'), value: expectValue }) },
  { weight: 1, arbitrary: fc.record({ name: spelled('Upgrade'), value: upgradeValue }) },
  { weight: 1, arbitrary: fc.record({ name: fc.constantFrom('Trailer', 'TE', 'Keep-Alive', 'X-Forwarded-For', 'X-Forwarded-Host', 'Via', 'Proxy-Connection'), value: anyValue }) },
  { weight: 3, arbitrary: fc.record({ name: token, value: anyValue }) },
);

const separator = fc.oneof({ weight: 10, arbitrary: fc.constantFrom(': ', ':') }, { weight: 1, arbitrary: fc.constantFrom(':\t', ':  ', ' :', ':\x0b', ':\x00') });

/** A chunk-size line's spellings: hex in either case, padding, extensions, junk. */
function chunkSizeLine(size: number): fc.Arbitrary<string> {
  const hex = size.toString(16);
  return fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(hex, hex.toUpperCase()) },
    { weight: 2, arbitrary: fc.constantFrom(`0${hex}`, `${hex};ext=1`, `${hex} ;a`, `${hex} `, ` ${hex}`, `0x${hex}`, `-${hex}`, `${hex}\x00`, `ffffffffffffffffff`, `${hex}g`, '') },
  );
}

const chunkedBody: fc.Arbitrary<string> = fc
  .array(fc.string({ unit: printable, minLength: 1, maxLength: 9 }), { maxLength: 4 })
  .chain((chunks) =>
    fc.tuple(
      fc.tuple(...chunks.map((data) => fc.tuple(chunkSizeLine(data.length), fc.constant(data), lineEnd))),
      fc.constantFrom('0', '00', '0;x=y', '000000000000000000000000000000'),
      fc.oneof({ weight: 6, arbitrary: fc.constant('') }, { weight: 1, arbitrary: fc.constantFrom('X-T: 1\r\n', 'Content-Length: 5\r\n', 'bad trailer\r\n', 'X-T: a\r\n b\r\n') }),
      fc.oneof({ weight: 8, arbitrary: fc.constant('\r\n') }, { weight: 1, arbitrary: fc.constantFrom('', '\n', 'GET / HTTP/1.1\r\n') }),
    ),
  )
  .map(([chunks, last, trailers, end]) => `${chunks.map(([size, data, eol]) => `${size}\r\n${data}${eol}`).join('')}${last}\r\n${trailers}${end}`);

/** One request head (request line, fields, blank line) and perhaps a body. */
export const nearValidRequest: fc.Arbitrary<string> = fc
  .record({
    method,
    target,
    version,
    requestLineEnd: lineEnd,
    host: fc.oneof({ weight: 8, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    fields: fc.array(fc.record({ field: headerField, separator, end: lineEnd }), { maxLength: 5 }),
    body: fc.oneof(
      { weight: 4, arbitrary: fc.constant({ kind: 'none' as const }) },
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('length' as const), data: fc.string({ unit: printable, maxLength: 24 }), declared: fc.oneof(fc.constant(-1), fc.nat({ max: 30 })) }) },
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('chunked' as const), data: chunkedBody, te: fc.oneof({ weight: 5, arbitrary: fc.constant('chunked') }, { weight: 1, arbitrary: teValue }) }) },
    ),
    blank: fc.oneof({ weight: 12, arbitrary: fc.constant('\r\n') }, { weight: 1, arbitrary: fc.constantFrom('\n', '\r\n\r\n', ' \r\n') }),
  })
  .map((r) => {
    let head = `${r.method} ${r.target} ${r.version}${r.requestLineEnd}`;
    if (r.host) head += 'Host: h.test\r\n';
    for (const { field, separator: sep, end } of r.fields) head += `${field.name}${sep}${field.value}${end}`;
    let body = '';
    if (r.body.kind === 'length') {
      head += `Content-Length: ${r.body.declared === -1 ? r.body.data.length : r.body.declared}\r\n`;
      body = r.body.data;
    } else if (r.body.kind === 'chunked') {
      head += `Transfer-Encoding: ${r.body.te}\r\n`;
      body = r.body.data;
    }
    return head + r.blank + body;
  });

/** A few random byte edits: flip, insert, delete, duplicate a span. */
export function mutated(text: string): fc.Arbitrary<string> {
  const edit = fc.record({ at: fc.nat(), kind: fc.nat({ max: 3 }), byte: fc.oneof(oddByte, printable, fc.constantFrom(':', ' ', '0', 'a')) });
  return fc.array(edit, { maxLength: 3 }).map((edits) => {
    let s = text;
    for (const { at, kind, byte } of edits) {
      const i = s.length === 0 ? 0 : at % s.length;
      if (kind === 0) s = s.slice(0, i) + byte + s.slice(i + 1);
      else if (kind === 1) s = s.slice(0, i) + byte + s.slice(i);
      else if (kind === 2) s = s.slice(0, i) + s.slice(i + 1);
      else s = s.slice(0, i) + s.slice(i, i + 8) + s.slice(i);
    }
    return s;
  });
}

/** Request bytes: pipelined near-valid requests (perhaps edited), or arbitrary bytes. */
export const requestBytes: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 6, arbitrary: fc.array(nearValidRequest, { minLength: 1, maxLength: 3 }).chain((reqs) => mutated(reqs.join(''))).map((s) => Buffer.from(s, 'latin1')) },
  { weight: 3, arbitrary: fc.array(nearValidRequest, { minLength: 1, maxLength: 3 }).map((reqs) => Buffer.from(reqs.join(''), 'latin1')) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.concat([Buffer.from('GET / HTTP/1.1\r\nHost: h.test\r\n'), Buffer.from(b)])) },
);

/** Where to cut `length` bytes into reads: sorted, distinct, inside. */
export function splitPoints(length: number): fc.Arbitrary<number[]> {
  if (length < 2) return fc.constant([]);
  return fc.uniqueArray(fc.integer({ min: 1, max: length - 1 }), { maxLength: Math.min(8, length - 1) }).map((points) => points.sort((a, b) => a - b));
}

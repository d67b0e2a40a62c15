// Cases about the request line and header syntax: whitespace and obs-fold, control bytes,
// versions, methods, absolute-form targets, Host, Connection, long lines, Expect and Upgrade.
// Ideas from HTTP parser differential research (header and request-line mutations); written here.
import { NEXT, type Case, raw, req } from './corpus-kit';

/** Whitespace around and inside header lines and the request line. */
function whitespace(): Case[] {
  const headers: Record<string, string> = {
    'no-space': 'X-Test:value',
    'trailing-space': 'X-Test: value ',
    'tab-before': 'X-Test:\tvalue',
    'tab-after': 'X-Test: value\t',
    'space-before-colon': 'X-Test : value',
    'tab-before-colon': 'X-Test\t: value',
    'space-in-name': 'X Test: value',
    'obs-fold-space': 'X-Test: a\r\n b',
    'obs-fold-tab': 'X-Test: a\r\n\tb',
    'obs-fold-empty-first': 'X-Test:\r\n value',
    'obs-fold-two-lines': 'X-Test: a\r\n b\r\n c',
    'vertical-tab-inside': 'X-Test: a\x0bb',
    'form-feed-inside': 'X-Test: a\x0cb',
    'vertical-tab-before': 'X-Test:\x0bvalue',
    'nbsp-before': 'X-Test:\xa0value',
    'nbsp-after': 'X-Test: value\xa0',
    'empty-value': 'X-Test:',
    'empty-value-spaces': 'X-Test:   ',
    'no-colon': 'X-Test value',
    'empty-name': ': value',
    'bare-cr-in-value': 'X-Test: a\rb',
    'bare-lf-line-end': 'X-Test: a\nX-Other: b',
    'cr-cr-lf': 'X-Test: a\r\r\nX-Other: b',
    'underscore-name': 'X_Test: value',
    'dot-name': 'X.Test: value',
    'non-ascii-name': 'X-T\xe9st: value',
    'non-ascii-value': 'X-Test: caf\xc3\xa9',
  };
  const cases = Object.entries(headers).map(([label, h]) => req(`ws/header/${label}`, { headers: [h] }));
  // The first header line folded onto the request line.
  cases.push(raw('ws/header/fold-after-request-line', 'GET /t HTTP/1.1\r\n X-Test: a\r\nHost: a.test\r\nConnection: close\r\n\r\n'));
  const lines: Record<string, string> = {
    'two-spaces-after-method': 'GET  /t HTTP/1.1',
    'two-spaces-before-version': 'GET /t  HTTP/1.1',
    'tab-after-method': 'GET\t/t HTTP/1.1',
    'tab-before-version': 'GET /t\tHTTP/1.1',
    'trailing-space': 'GET /t HTTP/1.1 ',
    'leading-space': ' GET /t HTTP/1.1',
    'space-in-target': 'GET /a b HTTP/1.1',
    'tab-in-target': 'GET /a\tb HTTP/1.1',
    'vertical-tab-separator': 'GET\x0b/t HTTP/1.1',
  };
  for (const [label, line] of Object.entries(lines)) {
    cases.push(raw(`ws/request-line/${label}`, `${line}\r\nHost: a.test\r\nConnection: close\r\n\r\n`));
  }
  cases.push(raw('ws/request-line/leading-crlf', '\r\nGET /t HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n'));
  cases.push(raw('ws/request-line/bare-lf', 'GET /t HTTP/1.1\nHost: a.test\r\nConnection: close\r\n\r\n'));
  cases.push(raw('ws/request-line/all-bare-lf', 'GET /t HTTP/1.1\nHost: a.test\nConnection: close\n\n'));
  const hosts: Record<string, string> = {
    'trailing-space': 'Host: a.test ',
    'tab-before': 'Host:\ta.test',
    'two-spaces': 'Host:  a.test',
    'space-inside': 'Host: a .test',
    'vertical-tab': 'Host:\x0ba.test',
    'obs-fold': 'Host:\r\n a.test',
  };
  for (const [label, h] of Object.entries(hosts)) cases.push(req(`ws/host/${label}`, { host: null, headers: [h] }));
  return cases;
}

/** Control and non-ASCII bytes in each part of a request. */
function controlBytes(): Case[] {
  const bytes: Record<string, string> = {
    nul: '\x00', soh: '\x01', bel: '\x07', bs: '\x08', ht: '\x09', vt: '\x0b', ff: '\x0c', cr: '\x0d',
    esc: '\x1b', del: '\x7f', 'byte-80': '\x80', 'byte-ff': '\xff',
  };
  const cases: Case[] = [];
  for (const [label, b] of Object.entries(bytes)) {
    cases.push(req(`ctl/${label}/in-method`, { method: `GE${b}T` }));
    cases.push(req(`ctl/${label}/in-target`, { target: `/a${b}b` }));
    cases.push(req(`ctl/${label}/in-header-name`, { headers: [`X-Te${b}st: value`] }));
    cases.push(req(`ctl/${label}/in-header-value`, { headers: [`X-Test: va${b}lue`] }));
    cases.push(req(`ctl/${label}/in-host`, { host: `a${b}.test` }));
  }
  return cases;
}

/** HTTP versions, well-formed and not, with and without Host. */
function versions(): Case[] {
  const spellings: Record<string, string> = {
    '1.1': 'HTTP/1.1', '1.0': 'HTTP/1.0', '0.9': 'HTTP/0.9', '2.0': 'HTTP/2.0', '1.2': 'HTTP/1.2', '1.9': 'HTTP/1.9',
    '3.0': 'HTTP/3.0', '9.9': 'HTTP/9.9', '1.10': 'HTTP/1.10', '01.1': 'HTTP/01.1', '1': 'HTTP/1', '1.1.1': 'HTTP/1.1.1',
    lower: 'http/1.1', 'space-after-slash': 'HTTP/ 1.1', https: 'HTTPS/1.1', backslash: 'HTTP\\1.1', 'letter-minor': 'HTTP/1.a',
  };
  const cases: Case[] = [];
  for (const [label, version] of Object.entries(spellings)) {
    cases.push(req(`version/${label}/with-host`, { version }));
    cases.push(req(`version/${label}/without-host`, { version, host: null }));
  }
  cases.push(raw('version/none', 'GET /t\r\n\r\n'));
  cases.push(req('version/1.0/keep-alive', { version: 'HTTP/1.0', headers: ['Connection: keep-alive'], close: false, then: NEXT }));
  cases.push(req('version/1.0/content-length', { method: 'POST', version: 'HTTP/1.0', headers: ['Content-Length: 5'], body: 'hello' }));
  cases.push(req('version/1.0/chunked', { method: 'POST', version: 'HTTP/1.0', headers: ['Transfer-Encoding: chunked'], body: '5\r\nhello\r\n0\r\n\r\n' }));
  cases.push(req('version/1.0/no-host-body', { method: 'POST', version: 'HTTP/1.0', host: null, headers: ['Content-Length: 5'], body: 'hello' }));
  return cases;
}

function methods(): Case[] {
  const names = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'PROPFIND', 'MKCOL', 'LOCK', 'SEARCH', 'BREW', 'get', 'Get', 'G-ET', 'GET_X', 'X'.repeat(40)];
  const cases = names.map((method) => req(`method/${method.length > 20 ? 'long' : method}`, { method }));
  cases.push(req('method/CONNECT-authority', { method: 'CONNECT', target: 'a.test:443' }));
  cases.push(req('method/CONNECT-path', { method: 'CONNECT', target: '/t' }));
  cases.push(req('method/OPTIONS-asterisk', { method: 'OPTIONS', target: '*' }));
  cases.push(req('method/GET-asterisk', { target: '*' }));
  cases.push(req('method/HEAD-with-body', { method: 'HEAD', headers: ['Content-Length: 5'], body: 'hello' }));
  cases.push(req('method/DELETE-with-body', { method: 'DELETE', headers: ['Content-Length: 5'], body: 'hello' }));
  cases.push(req('method/TRACE-with-body', { method: 'TRACE', headers: ['Content-Length: 5'], body: 'hello' }));
  return cases;
}

function absoluteForm(): Case[] {
  const targets: Record<string, [string, string | null]> = {
    'same-host': ['http://a.test/x', 'a.test'],
    'other-host': ['http://b.test/x', 'a.test'],
    'no-host-header': ['http://b.test/x', null],
    'with-port': ['http://b.test:8080/x', 'a.test'],
    https: ['https://b.test/x', 'a.test'],
    'upper-scheme': ['HTTP://B.TEST/x', 'a.test'],
    'no-path': ['http://b.test', 'a.test'],
    'query-only': ['http://b.test?x=1', 'a.test'],
    userinfo: ['http://user:pw@b.test/x', 'a.test'],
    'dot-segments': ['http://b.test/a/../x', 'a.test'],
    ftp: ['ftp://b.test/x', 'a.test'],
    'one-slash': ['http:/b.test/x', 'a.test'],
    'scheme-relative': ['//b.test/x', 'a.test'],
    ipv6: ['http://[::1]/x', 'a.test'],
    'bad-port': ['http://b.test:99999/x', 'a.test'],
    'empty-port': ['http://b.test:/x', 'a.test'],
    underscore: ['http://b_c.test/x', 'a.test'],
    'trailing-dot': ['http://b.test./x', 'a.test'],
    fragment: ['http://b.test/x#f', 'a.test'],
    'empty-authority': ['http:///x', 'a.test'],
    'http10-no-host': ['http://b.test/x', null],
  };
  return Object.entries(targets).map(([label, [target, host]]) =>
    req(`absolute/${label}`, { target, host, version: label === 'http10-no-host' ? 'HTTP/1.0' : 'HTTP/1.1' }),
  );
}

function hosts(): Case[] {
  const lines: Record<string, string[]> = {
    'two-same': ['Host: a.test', 'Host: a.test'],
    'two-different': ['Host: a.test', 'Host: b.test'],
    'two-case-different-name': ['Host: a.test', 'host: b.test'],
    'second-empty': ['Host: a.test', 'Host:'],
    'first-empty': ['Host:', 'Host: a.test'],
    list: ['Host: a.test, b.test'],
    missing: [],
    empty: ['Host:'],
    'with-port': ['Host: a.test:8080'],
    'empty-port': ['Host: a.test:'],
    'bad-port': ['Host: a.test:abc'],
    'two-ports': ['Host: a.test:80:80'],
    upper: ['Host: A.TEST'],
    ipv4: ['Host: 127.0.0.1'],
    ipv6: ['Host: [::1]:8080'],
    'ipv6-unbracketed': ['Host: ::1'],
    userinfo: ['Host: user@a.test'],
    slash: ['Host: a.test/x'],
    backslash: ['Host: a.test\\x'],
    'double-dot': ['Host: a..test'],
    'leading-dot': ['Host: .a.test'],
    'trailing-dot': ['Host: a.test.'],
    underscore: ['Host: a_b.test'],
    'long-label': [`Host: ${'a'.repeat(300)}.test`],
    'obs-fold-second': ['Host: a.test', ' b.test'],
  };
  return Object.entries(lines).map(([label, h]) => req(`host/${label}`, { host: null, headers: h }));
}

function connectionHeaders(): Case[] {
  const lines: Record<string, string[]> = {
    'keep-alive': ['Connection: keep-alive'],
    'close-upper': ['Connection: CLOSE'],
    'close-and-keep-alive': ['Connection: close, keep-alive'],
    'names-x-header': ['Connection: X-Hop', 'X-Hop: secret'],
    'names-content-length': ['Connection: Content-Length', 'Content-Length: 5'],
    'names-host': ['Connection: Host'],
    'names-transfer-encoding': ['Connection: Transfer-Encoding', 'Transfer-Encoding: chunked'],
    'names-x-forwarded-for': ['Connection: X-Forwarded-For', 'X-Forwarded-For: 10.0.0.1'],
    'two-lines': ['Connection: keep-alive', 'Connection: X-Hop', 'X-Hop: 1'],
    'keep-alive-header': ['Keep-Alive: timeout=5'],
    'te-trailers': ['TE: trailers'],
    'proxy-connection': ['Proxy-Connection: keep-alive'],
    'proxy-authorization': ['Proxy-Authorization: Basic eDp5'],
  };
  return Object.entries(lines).map(([label, h]) => {
    const body = h.some((l) => l.startsWith('Content-Length')) ? 'hello' : h.some((l) => l.startsWith('Transfer')) ? '5\r\nhello\r\n0\r\n\r\n' : undefined;
    return req(`connection/${label}`, { method: body ? 'POST' : 'GET', headers: h, body, then: NEXT });
  });
}

/** Around the 8 KiB (nginx's buffer) and 32 KiB (both limits) marks. */
function longLines(): Case[] {
  const cases: Case[] = [];
  for (const size of [4_000, 8_100, 8_300, 16_000, 32_700, 33_000, 66_000]) {
    cases.push(req(`long/target-${size}`, { target: `/${'a'.repeat(size)}` }));
    cases.push(req(`long/header-value-${size}`, { headers: [`X-Long: ${'v'.repeat(size)}`] }));
  }
  cases.push(req('long/header-name-9000', { headers: [`X-${'n'.repeat(9000)}: v`] }));
  cases.push(req('long/header-name-33000', { headers: [`X-${'n'.repeat(33000)}: v`] }));
  cases.push(req('long/100-headers', { headers: Array.from({ length: 100 }, (_, i) => `X-H${i}: ${i}`) }));
  cases.push(req('long/1000-headers', { headers: Array.from({ length: 1000 }, (_, i) => `X-H${i}: ${i}`) }));
  cases.push(req('long/4-headers-of-8000', { headers: Array.from({ length: 4 }, (_, i) => `X-H${i}: ${'v'.repeat(8000)}`) }));
  cases.push(req('long/query-20000', { target: `/t?${'q=1&'.repeat(5000)}` }));
  cases.push(req('long/method-100', { method: 'M'.repeat(100) }));
  return cases;
}

function expectAndUpgrade(): Case[] {
  const post = (name: string, headers: string[], extra: Partial<Parameters<typeof req>[1]> = {}) =>
    req(name, { method: 'POST', headers: [...headers, 'Content-Length: 5'], body: 'hello', ...extra });
  const ws = ['Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13'];
  return [
    post('expect/100-continue', ['Expect: 100-continue']),
    post('expect/100-continue-upper', ['Expect: 100-Continue']),
    post('expect/unknown', ['Expect: teapot']),
    post('expect/100-continue-and-more', ['Expect: 100-continue, teapot']),
    post('expect/two-lines', ['Expect: 100-continue', 'Expect: 100-continue']),
    post('expect/http10', ['Expect: 100-continue'], { version: 'HTTP/1.0' }),
    req('expect/100-continue-no-body', { headers: ['Expect: 100-continue'] }),
    req('expect/100-continue-chunked', { method: 'POST', headers: ['Expect: 100-continue', 'Transfer-Encoding: chunked'], body: '5\r\nhello\r\n0\r\n\r\n' }),
    req('expect/100-continue-body-not-sent', { method: 'POST', headers: ['Expect: 100-continue', 'Content-Length: 5'] }),
    req('upgrade/websocket', { headers: ws, close: false }),
    req('upgrade/websocket-with-body', { method: 'POST', headers: [...ws, 'Content-Length: 5'], body: 'hello', close: false }),
    req('upgrade/websocket-without-connection', { headers: ['Upgrade: websocket'], then: NEXT }),
    req('upgrade/websocket-http10', { headers: ws, version: 'HTTP/1.0', close: false }),
    req('upgrade/h2c', { headers: ['Upgrade: h2c', 'Connection: Upgrade, HTTP2-Settings', 'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA'], then: NEXT }),
    req('upgrade/h2c-with-body', { method: 'POST', headers: ['Upgrade: h2c', 'Connection: Upgrade, HTTP2-Settings', 'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA', 'Content-Length: 5'], body: 'hello', then: NEXT }),
    req('upgrade/unknown-protocol', { headers: ['Upgrade: foo/1', 'Connection: Upgrade'], then: NEXT }),
    req('upgrade/connection-upgrade-alone', { headers: ['Connection: Upgrade'], then: NEXT }),
    req('upgrade/websocket-and-h2c', { headers: ['Upgrade: websocket, h2c', 'Connection: Upgrade'], then: NEXT }),
    raw('upgrade/http2-preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
  ];
}

export function syntaxCases(): Case[] {
  return [...whitespace(), ...controlBytes(), ...versions(), ...methods(), ...absoluteForm(), ...hosts(), ...connectionHeaders(), ...longLines(), ...expectAndUpgrade()];
}

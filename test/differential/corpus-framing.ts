// Cases about where a request ends: Content-Length and Transfer-Encoding spellings and their
// combinations, chunk sizes, extensions and trailers, and pipelined requests. Most carry a
// second request after the first one's body, so a proxy that frames the first one differently
// shows it: it forwards a different second request, or answers the leftover bytes with a 400.
// Ideas from request smuggling research (CL.TE / TE.CL / TE.TE, chunk-size tricks); written here.
import { NEXT, type Case, raw, req, requestText } from './corpus-kit';

/** Transfer-Encoding header lines, spelled as clients and smuggling scanners spell them. */
const TE_SPELLINGS: Record<string, string> = {
  plain: 'Transfer-Encoding: chunked',
  capitalised: 'Transfer-Encoding: Chunked',
  upper: 'Transfer-Encoding: CHUNKED',
  'no-space': 'Transfer-Encoding:chunked',
  'two-spaces': 'Transfer-Encoding:  chunked',
  'trailing-space': 'Transfer-Encoding: chunked ',
  'tab-before': 'Transfer-Encoding:\tchunked',
  'tab-after': 'Transfer-Encoding: chunked\t',
  'space-before-colon': 'Transfer-Encoding : chunked',
  'tab-before-colon': 'Transfer-Encoding\t: chunked',
  'vertical-tab': 'Transfer-Encoding:\x0bchunked',
  'form-feed': 'Transfer-Encoding:\x0cchunked',
  nbsp: 'Transfer-Encoding:\xa0chunked',
  'x-prefix': 'Transfer-Encoding: xchunked',
  'x-suffix': 'Transfer-Encoding: chunkedx',
  truncated: 'Transfer-Encoding: chunk',
  quoted: 'Transfer-Encoding: "chunked"',
  'with-parameter': 'Transfer-Encoding: chunked;q=1',
  'chunked-identity': 'Transfer-Encoding: chunked, identity',
  'identity-chunked': 'Transfer-Encoding: identity, chunked',
  'gzip-chunked': 'Transfer-Encoding: gzip, chunked',
  'chunked-chunked': 'Transfer-Encoding: chunked, chunked',
  'leading-comma': 'Transfer-Encoding: , chunked',
  'trailing-comma': 'Transfer-Encoding: chunked,',
  'two-lines-chunked-first': 'Transfer-Encoding: chunked\r\nTransfer-Encoding: identity',
  'two-lines-chunked-last': 'Transfer-Encoding: identity\r\nTransfer-Encoding: chunked',
  'two-lines-both-chunked': 'Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked',
  'obs-fold': 'Transfer-Encoding:\r\n chunked',
  'obs-fold-tab': 'Transfer-Encoding: identity\r\n\tchunked',
  underscore: 'Transfer_Encoding: chunked',
  'lower-name': 'transfer-encoding: chunked',
  'bare-lf-before': 'X-Pad: 1\nTransfer-Encoding: chunked',
  'nul-inside': 'Transfer-Encoding: chun\x00ked',
  'utf8-kelvin': 'Transfer-Encoding: chun\xe2\x84\xaaed',
};

const CHUNKED_BODY = '5\r\nhello\r\n0\r\n\r\n';

/** Each TE spelling alone, before a Content-Length that disagrees (CL.TE) and after one (TE.CL). */
function transferEncodings(): Case[] {
  const cases: Case[] = [];
  for (const [label, te] of Object.entries(TE_SPELLINGS)) {
    cases.push(req(`te/${label}/alone`, { method: 'POST', headers: [te], body: CHUNKED_BODY, then: NEXT }));
    // CL.TE: a Content-Length that ends the body inside the chunked framing.
    cases.push(req(`te/${label}/cl-first`, { method: 'POST', headers: ['Content-Length: 4', te], body: CHUNKED_BODY, then: NEXT }));
    // TE.CL: a Content-Length that covers only the chunk-size line; the chunk hides a request.
    const hidden = 'GET /hidden HTTP/1.1\r\nHost: a.test\r\n\r\n';
    const body = `${hidden.length.toString(16)}\r\n${hidden}\r\n0\r\n\r\n`;
    cases.push(req(`te/${label}/cl-after`, { method: 'POST', headers: [te, 'Content-Length: 3'], body, then: NEXT }));
  }
  return cases;
}

/** Content-Length header lines, with the body "hello" (5 bytes). */
const CL_SPELLINGS: Record<string, string> = {
  plain: 'Content-Length: 5',
  'no-space': 'Content-Length:5',
  'leading-zero': 'Content-Length: 05',
  'many-zeros': 'Content-Length: 0000000005',
  plus: 'Content-Length: +5',
  minus: 'Content-Length: -5',
  'trailing-space': 'Content-Length: 5 ',
  'trailing-tab': 'Content-Length: 5\t',
  decimal: 'Content-Length: 5.0',
  hex: 'Content-Length: 0x5',
  exponent: 'Content-Length: 5e0',
  'list-same': 'Content-Length: 5, 5',
  'list-same-no-space': 'Content-Length: 5,5',
  'list-different': 'Content-Length: 5, 6',
  'two-lines-same': 'Content-Length: 5\r\nContent-Length: 5',
  'two-lines-larger-last': 'Content-Length: 5\r\nContent-Length: 6',
  'two-lines-smaller-last': 'Content-Length: 6\r\nContent-Length: 5',
  'space-before-colon': 'Content-Length : 5',
  'obs-fold': 'Content-Length:\r\n 5',
  'obs-fold-continued': 'Content-Length: 5\r\n 0',
  underscore: 'Content_Length: 5',
  empty: 'Content-Length: ',
  'two-numbers': 'Content-Length: 5 5',
  'vertical-tab': 'Content-Length:\x0b5',
  'nul-after': 'Content-Length: 5\x00',
  'lower-name': 'content-length: 5',
  'upper-name': 'CONTENT-LENGTH: 5',
  fullwidth: 'Content-Length: \xef\xbc\x95',
  'wraps-32-bit': 'Content-Length: 4294967301',
  'wraps-64-bit': 'Content-Length: 18446744073709551621',
  huge: 'Content-Length: 99999999999999999999999',
  'too-short': 'Content-Length: 3',
};

function contentLengths(): Case[] {
  const cases: Case[] = [];
  for (const [label, cl] of Object.entries(CL_SPELLINGS)) {
    for (const method of ['POST', 'GET']) {
      cases.push(req(`cl/${label}/${method.toLowerCase()}`, { method, headers: [cl], body: 'hello', then: NEXT }));
    }
  }
  return cases;
}

/** Chunked bodies: odd sizes, extensions, line ends and trailers. */
const CHUNK_BODIES: Record<string, string> = {
  plain: '5\r\nhello\r\n0\r\n\r\n',
  'leading-zero': '05\r\nhello\r\n0\r\n\r\n',
  'many-zeros': '0000000000000005\r\nhello\r\n0\r\n\r\n',
  'upper-hex': 'A\r\nhelloworld\r\n0\r\n\r\n',
  'lower-hex': 'a\r\nhelloworld\r\n0\r\n\r\n',
  'size-trailing-space': '5 \r\nhello\r\n0\r\n\r\n',
  'size-trailing-tab': '5\t\r\nhello\r\n0\r\n\r\n',
  'size-leading-space': ' 5\r\nhello\r\n0\r\n\r\n',
  plus: '+5\r\nhello\r\n0\r\n\r\n',
  minus: '-5\r\nhello\r\n0\r\n\r\n',
  'hex-prefix': '0x5\r\nhello\r\n0\r\n\r\n',
  'not-hex': 'g\r\nhello\r\n0\r\n\r\n',
  'overflow-64-bit': '10000000000000005\r\nhello\r\n0\r\n\r\n',
  'huge-size': 'ffffffffffffffffff\r\nhello\r\n0\r\n\r\n',
  extension: '5;name\r\nhello\r\n0\r\n\r\n',
  'extension-value': '5;name=value\r\nhello\r\n0\r\n\r\n',
  'extension-quoted': '5;name="a;b\\"c"\r\nhello\r\n0\r\n\r\n',
  'extension-space-before': '5 ;name\r\nhello\r\n0\r\n\r\n',
  'extension-empty': '5;\r\nhello\r\n0\r\n\r\n',
  'extension-nul': '5;\x00\r\nhello\r\n0\r\n\r\n',
  'extension-bare-lf': '5;a\nb\r\nhello\r\n0\r\n\r\n',
  'extension-long': `5;${'x'.repeat(9000)}\r\nhello\r\n0\r\n\r\n`,
  'last-chunk-extension': '5\r\nhello\r\n0;name=value\r\n\r\n',
  'last-chunk-double-zero': '5\r\nhello\r\n00\r\n\r\n',
  'bare-lf-lines': '5\nhello\n0\n\n',
  'bare-lf-after-size': '5\nhello\r\n0\r\n\r\n',
  'bare-lf-after-data': '5\r\nhello\n0\r\n\r\n',
  'bare-cr-after-size': '5\rhello\r\n0\r\n\r\n',
  'data-without-crlf': '5\r\nhello0\r\n\r\n',
  'data-longer-than-size': '3\r\nhello\r\n0\r\n\r\n',
  'data-shorter-than-size': '7\r\nhello\r\n0\r\n\r\n',
  'one-byte-chunks': 'h e l l o'.split(' ').map((c) => `1\r\n${c}\r\n`).join('') + '0\r\n\r\n',
  empty: '0\r\n\r\n',
  trailer: '5\r\nhello\r\n0\r\nX-Trailer: yes\r\n\r\n',
  'trailer-content-length': '5\r\nhello\r\n0\r\nContent-Length: 50\r\n\r\n',
  'trailer-transfer-encoding': '5\r\nhello\r\n0\r\nTransfer-Encoding: chunked\r\n\r\n',
  'trailer-host': '5\r\nhello\r\n0\r\nHost: evil.test\r\n\r\n',
  'trailer-not-a-header': '5\r\nhello\r\n0\r\nnot a header\r\n\r\n',
  'trailer-obs-fold': '5\r\nhello\r\n0\r\nX-Trailer: a\r\n b\r\n\r\n',
  'trailer-bare-lf': '5\r\nhello\r\n0\r\nX-Trailer: a\n\r\n',
  'no-last-chunk-crlf': '5\r\nhello\r\n0\r\n',
  'no-last-chunk': '5\r\nhello\r\n',
  'cut-in-data': '5\r\nhel',
};

function chunks(): Case[] {
  return Object.entries(CHUNK_BODIES).map(([label, body]) =>
    req(`chunk/${label}`, { method: 'POST', headers: ['Transfer-Encoding: chunked'], body, then: NEXT }),
  );
}

/** Several requests in one write. */
function pipelines(): Case[] {
  const get = (target: string) => requestText({ target, close: false });
  const last = (target: string) => requestText({ target });
  const post = (target: string, headers: string[], body: string) => requestText({ method: 'POST', target, headers, body, close: false });
  return [
    raw('pipeline/two-gets', get('/1') + last('/2')),
    raw('pipeline/three-gets', get('/1') + get('/2') + last('/3')),
    raw('pipeline/ten-gets', Array.from({ length: 9 }, (_, i) => get(`/${i}`)).join('') + last('/9')),
    raw('pipeline/post-cl-then-get', post('/1', ['Content-Length: 5'], 'hello') + last('/2')),
    raw('pipeline/post-chunked-then-get', post('/1', ['Transfer-Encoding: chunked'], CHUNKED_BODY) + last('/2')),
    raw('pipeline/head-then-get', requestText({ method: 'HEAD', target: '/1', close: false }) + last('/2')),
    raw('pipeline/close-then-get', last('/1') + last('/2')),
    raw('pipeline/http10-then-get', 'GET /1 HTTP/1.0\r\nHost: a.test\r\n\r\n' + last('/2')),
    raw('pipeline/http10-keep-alive-then-get', 'GET /1 HTTP/1.0\r\nHost: a.test\r\nConnection: keep-alive\r\n\r\n' + last('/2')),
    raw('pipeline/crlf-between', get('/1') + '\r\n' + last('/2')),
    raw('pipeline/two-crlfs-between', get('/1') + '\r\n\r\n' + last('/2')),
    raw('pipeline/garbage-second', get('/1') + 'GARBAGE\r\n\r\n'),
    raw('pipeline/bad-second-then-good', get('/1') + 'GET /2 HTTP/1.1\r\nHost: a.test\r\nContent-Length: x\r\n\r\n' + last('/3')),
    raw('pipeline/second-without-host', get('/1') + 'GET /2 HTTP/1.1\r\nConnection: close\r\n\r\n'),
    raw('pipeline/second-cut-off', get('/1') + 'GET /2 HTTP/1.1\r\nHost: a.te'),
    raw('pipeline/body-longer-than-cl', post('/1', ['Content-Length: 2'], 'hello') + last('/2')),
    raw('pipeline/keep-alive-left-open', get('/1') + get('/2')),
    raw('pipeline/get-with-body-and-no-length', get('/1').replace('\r\n\r\n', '\r\n\r\nhello') + last('/2')),
  ];
}

export function framingCases(): Case[] {
  return [...transferEncodings(), ...contentLengths(), ...chunks(), ...pipelines()];
}

// What two observations of the same case are compared on, after the differences that are only
// configuration are taken out, and the aspects in which they differ.
import type { OriginRequest } from './recording-origin';
import type { Seen } from './observe';

/**
 * The aspects two runs of a case can differ in:
 * - status: the status codes the client got, in order;
 * - close: whether the proxy closed the client's connection;
 * - forwarded: the requests the origin framed (how many, and their request lines);
 * - headers: their headers (the same requests reached it);
 * - body: their bodies (the same requests reached it);
 * - leftover: bytes the origin could not frame into a request.
 */
export type Aspect = 'status' | 'close' | 'forwarded' | 'headers' | 'body' | 'leftover';

/**
 * Headers each proxy adds by its own rules, which the nginx config only approximates: who the
 * client was and which proxies it passed. They say nothing about framing or routing.
 */
const CONFIGURATION_HEADERS = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'via', 'x-real-ip']);

function printable(s: string, max = 200): string {
  const json = JSON.stringify(s);
  return json.length > max ? `${json.slice(0, max)}…(${s.length} bytes)` : json;
}

export function requestLine(r: OriginRequest): string {
  return `${r.method} ${printable(r.target, 120)} ${r.version}`;
}

/**
 * How the body was framed, as compared: "length N" for a Content-Length in its one canonical
 * spelling or for chunked alone (nginx sends a Content-Length for a chunked body it has read
 * whole, Handoff streams it chunked: the origin reads the same body either way); anything else
 * as the header lines were written.
 */
function framing(r: OriginRequest): string | null {
  const cl = r.headers.filter(([n]) => n.toLowerCase() === 'content-length').map(([, v]) => v);
  const te = r.headers.filter(([n]) => n.toLowerCase() === 'transfer-encoding').map(([, v]) => v);
  if (cl.length === 0 && te.length === 0) return null;
  if ((te.length === 0 && cl.length === 1 && cl[0] === String(r.body.length)) || (cl.length === 0 && te.length === 1 && te[0] === 'chunked')) {
    return `length ${r.body.length}`;
  }
  return [...cl.map((v) => `content-length: ${printable(v)}`), ...te.map((v) => `transfer-encoding: ${printable(v)}`)].join(' + ');
}

const FRAMING_HEADERS = new Set(['content-length', 'transfer-encoding']);

/** The request's headers as compared: lower-cased names, configuration ones out, framing as framing(), sorted by name (same-name order kept). */
export function comparedHeaders(r: OriginRequest): string[] {
  const lines = r.headers
    .filter(([name]) => !CONFIGURATION_HEADERS.has(name.toLowerCase()) && !FRAMING_HEADERS.has(name.toLowerCase()))
    .map(([name, value]) => `${name.toLowerCase()}: ${printable(value, 120)}`);
  const f = framing(r);
  if (f !== null) lines.push(`(framing) ${f}`);
  const key = (line: string) => line.slice(0, line.indexOf(':'));
  return lines.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

export function divergence(handoff: Seen, nginx: Seen): Aspect[] {
  const differs: Aspect[] = [];
  if (!same(handoff.client.statuses, nginx.client.statuses)) differs.push('status');
  if (handoff.client.closed !== nginx.client.closed) differs.push('close');
  const h = handoff.origin.requests;
  const n = nginx.origin.requests;
  if (!same(h.map(requestLine), n.map(requestLine))) {
    differs.push('forwarded');
  } else {
    if (h.some((r, i) => !same(comparedHeaders(r), comparedHeaders(n[i])))) differs.push('headers');
    if (h.some((r, i) => !r.body.equals(n[i].body))) differs.push('body');
  }
  // Each leftover by why and its first line: the rest holds each proxy's own added headers.
  const leftovers = (s: Seen) => s.origin.leftovers.map((l) => `${l.why}: ${l.bytes.toString('latin1').split('\r\n')[0]}`).sort();
  if (!same(leftovers(handoff), leftovers(nginx))) differs.push('leftover');
  return differs;
}

/** One side's observation, for a failure message. */
export function describe(seen: Seen): string {
  const lines = [`client got [${seen.client.statuses.join(', ')}], connection ${seen.client.closed ? 'closed' : 'left open'}`];
  if (seen.origin.requests.length === 0) lines.push('origin framed no request');
  for (const r of seen.origin.requests) {
    lines.push(`origin framed ${requestLine(r)} (conn ${r.conn} #${r.nth})`);
    for (const h of comparedHeaders(r)) lines.push(`    ${h}`);
    if (r.body.length > 0) lines.push(`    body ${printable(r.body.toString('latin1'))}`);
  }
  for (const l of seen.origin.leftovers) lines.push(`origin left with (${l.why}) ${printable(l.bytes.toString('latin1'))}`);
  return lines.join('\n');
}

export { printable };

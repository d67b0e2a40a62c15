// The shape of a differential case and the one way cases are built: raw bytes, latin1, so that
// any byte (control bytes, bare CR or LF, non-ASCII) goes on the wire exactly as written.

export interface Case {
  /** Stable: the intended-divergence list and failure messages refer to cases by name. */
  readonly name: string;
  readonly bytes: Buffer;
}

/** The request most cases pipeline after their first one: shows where the proxy thought the first ended. */
export const NEXT = 'GET /next HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n';

export interface RequestParts {
  readonly method?: string;
  readonly target?: string;
  readonly version?: string;
  /** The Host header's value; null: no Host line. */
  readonly host?: string | null;
  /** Header lines after Host, as written (without CRLF). */
  readonly headers?: readonly string[];
  readonly body?: string;
  /** Bytes sent after this request in the same write (usually NEXT). */
  readonly then?: string;
  /** Ask the proxy to close after this request; by default when nothing follows it. */
  readonly close?: boolean;
}

/** A request as latin1 text: request line, Host, the header lines, optional Connection: close, body, then. */
export function requestText(p: RequestParts): string {
  const version = p.version ?? 'HTTP/1.1';
  const line = `${p.method ?? 'GET'} ${p.target ?? '/t'}${version === '' ? '' : ` ${version}`}`;
  const lines = [line];
  const host = p.host === undefined ? 'a.test' : p.host;
  if (host !== null) lines.push(`Host: ${host}`);
  lines.push(...(p.headers ?? []));
  if (p.close ?? p.then === undefined) lines.push('Connection: close');
  return `${lines.join('\r\n')}\r\n\r\n${p.body ?? ''}${p.then ?? ''}`;
}

export function req(name: string, p: RequestParts): Case {
  return { name, bytes: Buffer.from(requestText(p), 'latin1') };
}

export function raw(name: string, text: string): Case {
  return { name, bytes: Buffer.from(text, 'latin1') };
}

// The timeouts' defaults and what each one means, in a file of their own: the schema annotates
// its properties with them, and a worker fills what an older master's published config lacks
// from them without loading the schema library.
import { parseDuration } from './value-parsers';

export const timeoutFields = {
  connect: ['60s', 'Connecting to an upstream server (nginx proxy_connect_timeout).'],
  read: ['60s', 'Between two reads from the upstream (nginx proxy_read_timeout).'],
  send: ['60s', 'Between two writes to the upstream (nginx proxy_send_timeout).'],
  clientHeader: ['60s', 'The whole request head must arrive within this (nginx client_header_timeout).'],
  clientBody: ['60s', 'Between two reads of the request body (nginx client_body_timeout).'],
  keepAlive: ['75s', 'An idle client connection is closed after this (nginx keepalive_timeout).'],
  clientSend: ['60s', 'A client that takes no byte of its response for this long is closed (nginx send_timeout; checked once per period, so a stall is cut after one to two periods). Meanwhile the upstream is not read, and proxy_read_timeout does not run.'],
} as const;
export type TimeoutName = keyof typeof timeoutFields;

/** The timeouts' defaults in milliseconds (nginx's, for the matching directives). */
export const DEFAULT_TIMEOUTS: Readonly<Record<TimeoutName, number>> = Object.freeze(Object.fromEntries(
  Object.entries(timeoutFields).map(([key, [fallback]]) => [key, parseDuration(fallback)]),
) as Record<TimeoutName, number>);

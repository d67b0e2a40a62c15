// Which answer a request head over the size limit gets. nginx tells two cases apart: a request
// line longer than its buffer is 414 (URI Too Long); headers that do not fit are its 400 "Request
// Header Or Cookie Too Large", for which RFC 6585 has had 431 since. llhttp reports both as one
// error (HPE_HEADER_OVERFLOW, counted over the whole head), so the bytes say which: the head was
// cut in its request line when the line it was cut in begins with a method and a space. A header
// line cannot: it begins with a field name and a colon.
// Where a head's bytes are not known to start (it began in the same read as the end of a body),
// the line may look like neither: then 431, node:http's own answer for any overflow.
import { KNOWN_METHODS } from './llhttp';

/** A method llhttp knows and the space after it (the names are letters, '-' and '_'). */
const REQUEST_LINE_START = new RegExp(`^(?:${KNOWN_METHODS.join('|')}) `);
/** Enough of a line to hold the longest method and its space. */
const LINE_START_CHARS = 24;

/**
 * The first characters of the line that is open at `end` in `buf` (the bytes after its last LF).
 * When `buf` has no LF before `end`, the line began earlier: `carried` is its start as it was
 * at the end of the previous read ('' when not known).
 */
export function openLineStart(buf: Buffer, end: number, carried: string): string {
  const lf = end > 0 ? buf.lastIndexOf(10, end - 1) : -1;
  if (lf !== -1) return buf.toString('latin1', lf + 1, Math.min(end, lf + 1 + LINE_START_CHARS));
  if (carried.length >= LINE_START_CHARS) return carried;
  return carried + buf.toString('latin1', 0, Math.min(end, LINE_START_CHARS - carried.length));
}

/** 414 when the head was cut in its request line (a line that starts `lineStart`), else 431. */
export function headOverflowStatus(lineStart: string): 414 | 431 {
  return REQUEST_LINE_START.test(lineStart) ? 414 : 431;
}

// Which answer a request head over the size limit gets. nginx tells two cases apart: a request
// line longer than its buffer is 414 (URI Too Long); headers that do not fit are its 400 "Request
// Header Or Cookie Too Large", for which RFC 6585 has had 431 since. llhttp reports both as one
// error (HPE_HEADER_OVERFLOW, counted over the whole head), so the bytes say which: the head was
// cut in its request line when the line it was cut in begins with a method and a space. A header
// line cannot: it begins with a field name, and a name has no space in it.

/** A method (an HTTP token) and the space after it. */
const REQUEST_LINE_START = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+ /;

/**
 * Whether the line that is open at `end` in `buf` (the bytes after its last LF) is a request
 * line. When `buf` has no LF before `end`, the line began at its start or in an earlier read:
 * `carried` says which it is then, if the caller knows; else `buf`'s first bytes are judged.
 */
export function openLineIsRequestLine(buf: Buffer, end: number, carried?: boolean): boolean {
  const lf = end > 0 ? buf.lastIndexOf(10, end - 1) : -1;
  if (lf === -1 && carried !== undefined) return carried;
  return REQUEST_LINE_START.test(buf.toString('latin1', lf + 1, Math.min(end, lf + 1 + 64)));
}

export function headOverflowStatus(inRequestLine: boolean): 414 | 431 {
  return inRequestLine ? 414 : 431;
}

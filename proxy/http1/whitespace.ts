// HTTP's whitespace inside a field value: OWS = *( SP / HTAB ) (RFC 9110 §5.6.3). JavaScript's
// trim() and a regex's \s also take VT, FF, CR, LF and NBSP (0xA0, a byte llhttp lets through in a
// value as obs-text): a `chunked\xa0` or `close\xa0` that an upstream reads as one thing must not
// read as another to the proxy. Every check on a header value's tokens trims with this instead.

function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** `value` without leading and trailing SP and HTAB (and nothing else). */
export function trimOws(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && isOws(value.charCodeAt(start))) start++;
  while (end > start && isOws(value.charCodeAt(end - 1))) end--;
  return start === 0 && end === value.length ? value : value.slice(start, end);
}

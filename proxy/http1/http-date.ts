// The Date header value (RFC 9110 IMF-fixdate), formatted once per second rather than per
// response: a proxy adds Date to a response that lacks one (RFC 9110 6.6.1), as nginx and
// node:http do, and to the answers it makes itself.
let cachedSecond = -1;
let cached = '';

export function httpDate(now: number = Date.now()): string {
  const second = Math.floor(now / 1000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    cached = new Date(second * 1000).toUTCString();
  }
  return cached;
}

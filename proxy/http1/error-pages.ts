// The small HTML error pages nginx gives, so a browser and curl show the same thing.
import http from 'node:http';
import { httpDate } from './http-date';

const pages = new Map<number, Buffer>();

export function errorPage(status: number): Buffer {
  let page = pages.get(status);
  if (!page) {
    const title = `${status} ${http.STATUS_CODES[status] ?? 'Error'}`;
    page = Buffer.from(
      `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n` +
        `<hr><center>handoff</center>\r\n</body>\r\n</html>\r\n`,
    );
    pages.set(status, page);
  }
  return page;
}

/** The head of one of the proxy's own error pages, ending with `connectionLines` and the blank line. */
export function errorResponseHead(status: number, bodyLength: number, connectionLines: string): string {
  return (
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Error'}\r\nServer: handoff\r\nDate: ${httpDate()}\r\nContent-Type: text/html\r\n` +
    `Content-Length: ${bodyLength}\r\n${connectionLines}\r\n`
  );
}

/**
 * Raw bytes of a whole response that closes its connection, for a socket that leaves the client
 * connection (an upgrade's tunnel); `extraLines` (the worker's header) go after Connection: close.
 */
export function rawErrorResponse(status: number, extraLines: string): Buffer {
  const body = errorPage(status);
  return Buffer.concat([Buffer.from(errorResponseHead(status, body.length, `Connection: close\r\n${extraLines}`), 'latin1'), body]);
}

// The hash balancer's key, read from a request as the config's hashKey says: the client's
// address (nginx $remote_addr), the request target as sent ($request_uri), or a header's first
// value ($http_<name>). Other balancers have no key: they get the empty string, for nothing.

/** `rawHeaders`: name, value, name, value… as received. Positional: it runs for every request. */
export type KeyOf = (clientAddress: string | undefined, url: string, rawHeaders: readonly string[]) => string;

const NO_KEY: KeyOf = () => '';

export function keyReader(hashKey: string | null): KeyOf {
  if (hashKey === null) return NO_KEY;
  if (hashKey === 'client-address') return (clientAddress) => clientAddress ?? '';
  if (hashKey === 'uri') return (_, url) => url;
  const name = hashKey.slice('header:'.length).toLowerCase();
  return (_, __, headers) => {
    for (let i = 0; i < headers.length; i += 2) if (headers[i]!.toLowerCase() === name) return headers[i + 1]!;
    return '';
  };
}

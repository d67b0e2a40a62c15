// A real DNS server on loopback (UDP) for tests of re-resolution: it answers A queries for one
// name with whatever addresses the test sets (TTL 0), AAAA with no records, other names with
// NXDOMAIN, and everything with SERVFAIL while `failing`. The proxy asks it through its config's
// resolver.addresses, so a test can change what a name resolves to without touching the machine.
import dgram from 'node:dgram';

export interface TestDnsServer {
  /** "127.0.0.1:port", as resolver.addresses takes it. */
  readonly address: string;
  /** The IPv4 addresses `name` resolves to now. */
  records: string[];
  failing: boolean;
  /** A queries received so far, answered or failed. */
  queries(): number;
  close(): Promise<void>;
}

const TYPE_A = 1;
const RCODE_SERVFAIL = 2;
const RCODE_NXDOMAIN = 3;

export async function startDnsServer(name: string): Promise<TestDnsServer> {
  const socket = dgram.createSocket('udp4');
  let answered = 0;
  const server: TestDnsServer = {
    address: '',
    records: [],
    failing: false,
    queries: () => answered,
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
  socket.on('message', (query, peer) => {
    if (query.length < 12) return;
    let at = 12;
    const labels: string[] = [];
    while (at < query.length && query[at] !== 0) {
      labels.push(query.subarray(at + 1, at + 1 + query[at]!).toString('latin1'));
      at += 1 + query[at]!;
    }
    const questionEnd = at + 5;
    if (questionEnd > query.length) return;
    const type = query.readUInt16BE(at + 1);
    const ours = labels.join('.').toLowerCase() === name.toLowerCase();
    const rcode = server.failing ? RCODE_SERVFAIL : ours ? 0 : RCODE_NXDOMAIN;
    const records = rcode === 0 && type === TYPE_A ? server.records : [];
    if (type === TYPE_A) answered++;
    const header = Buffer.alloc(12);
    query.copy(header, 0, 0, 2); // the id
    header.writeUInt16BE(0x8180 | rcode, 2); // a response, recursion desired and available
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(records.length, 6);
    const answers = records.map((address) => {
      const rr = Buffer.alloc(16);
      rr.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
      rr.writeUInt16BE(TYPE_A, 2);
      rr.writeUInt16BE(1, 4); // IN
      rr.writeUInt32BE(0, 6); // TTL 0: the proxy's resolver.valid decides how often it asks
      rr.writeUInt16BE(4, 10);
      address.split('.').forEach((octet, i) => rr.writeUInt8(Number(octet), 12 + i));
      return rr;
    });
    socket.send(Buffer.concat([header, query.subarray(12, questionEnd), ...answers]), peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return Object.assign(server, { address: `127.0.0.1:${socket.address().port}` });
}

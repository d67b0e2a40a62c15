// realIp (nginx's realip module): which peers are trusted proxies (CIDR matching of IPv4, IPv6
// and IPv4-mapped IPv6 peers), which address of the header is the client, and the config's
// answers to ranges that are not ranges.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseCidr } from '../../proxy/config/cidr';
import { ConfigError } from '../../proxy/config/errors';
import { validateConfig } from '../../proxy/config/validate';
import { RealIp, addressOf } from '../../proxy/proxying/real-ip';

const realIp = (from: string[], options: { header?: string; recursive?: boolean } = {}) =>
  new RealIp({ from: from.map((t) => { const c = parseCidr(t); return `${c.address}/${c.prefix}`; }), header: options.header ?? 'x-forwarded-for', recursive: options.recursive ?? false });

function problems(realIpConfig: unknown): Map<string, string> {
  try {
    validateConfig({ listeners: ['127.0.0.1:8080'], upstreams: { app: { servers: ['127.0.0.1:3000'] } }, realIp: realIpConfig }, null);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return new Map(err.problems.map((p) => [p.path, p.message]));
  }
  return new Map();
}

describe('realIp trusted ranges', () => {
  test('IPv4: an address is a /32, a block matches its whole range and nothing beside it', () => {
    const r = realIp(['10.0.0.0/8', '192.168.1.7']);
    assert.equal(r.trusts('10.0.0.1'), true);
    assert.equal(r.trusts('10.255.255.255'), true);
    assert.equal(r.trusts('11.0.0.0'), false);
    assert.equal(r.trusts('9.255.255.255'), false);
    assert.equal(r.trusts('192.168.1.7'), true);
    assert.equal(r.trusts('192.168.1.8'), false);
    assert.equal(r.trusts('::1'), false);
  });

  test('IPv6: blocks and single addresses, in any spelling', () => {
    const r = realIp(['fd00::/8', '::1', '2001:db8:0:0::/64']);
    assert.equal(r.trusts('fdab:1234::9'), true);
    assert.equal(r.trusts('fe80::1'), false);
    assert.equal(r.trusts('0:0:0:0:0:0:0:1'), true);
    assert.equal(r.trusts('::2'), false);
    assert.equal(r.trusts('2001:db8::ffff:1'), true);
    assert.equal(r.trusts('2001:db8:0:1::1'), false);
    assert.equal(r.trusts('127.0.0.1'), false);
  });

  test('IPv4-mapped IPv6 (a dual-stack listener\'s IPv4 peer) matches IPv4 ranges, as nginx\'s ngx_cidr_match', () => {
    const r = realIp(['127.0.0.0/8']);
    assert.equal(r.trusts('::ffff:127.0.0.1'), true);
    assert.equal(r.trusts('::ffff:128.0.0.1'), false);
  });

  test('something that is not an address is never trusted', () => {
    const r = realIp(['0.0.0.0/0', '::/0']);
    assert.equal(r.trusts('unknown'), false);
    assert.equal(r.trusts(''), false);
  });
});

describe('realIp client address', () => {
  const peer = '127.0.0.1';
  test('X-Forwarded-For: the last entry, over every X-Forwarded-For line as one list', () => {
    const r = realIp(['127.0.0.1']);
    assert.equal(r.clientAddress(peer, ['X-Forwarded-For', '203.0.113.7']), '203.0.113.7');
    assert.equal(r.clientAddress(peer, ['X-Forwarded-For', '198.51.100.1, 203.0.113.7 ,']), '203.0.113.7');
    assert.equal(r.clientAddress(peer, ['x-forwarded-for', '198.51.100.1', 'X-FORWARDED-FOR', '203.0.113.8']), '203.0.113.8');
    assert.equal(r.clientAddress(peer, ['Host', 'a']), peer, 'no header: the peer');
  });

  test('recursive: trusted entries are skipped from the right; the first untrusted one is the client', () => {
    const r = realIp(['127.0.0.1', '10.0.0.0/8'], { recursive: true });
    assert.equal(r.clientAddress(peer, ['X-Forwarded-For', '198.51.100.1, 203.0.113.7, 10.0.0.2, 10.9.9.9']), '203.0.113.7');
    assert.equal(r.clientAddress(peer, ['X-Forwarded-For', '10.0.0.2, 10.9.9.9']), '10.0.0.2', 'all trusted: the leftmost');
    assert.equal(r.clientAddress(peer, ['X-Forwarded-For', 'bogus, 10.9.9.9']), '10.9.9.9', 'an entry that is not an address stops the walk');
  });

  test('a value that is not an address leaves the peer\'s', () => {
    const r = realIp(['127.0.0.1']);
    for (const value of ['unknown', '', ' , ', '203.0.113.7:99999', '[::1', 'fe80::1%eth0', 'host.example']) {
      assert.equal(r.clientAddress(peer, ['X-Forwarded-For', value]), peer, JSON.stringify(value));
    }
  });

  test('another header: its first occurrence, ports dropped, IPv6 in its shortest form', () => {
    const r = realIp(['127.0.0.1'], { header: 'x-real-ip' });
    assert.equal(r.clientAddress(peer, ['X-Real-IP', '203.0.113.7:5123', 'X-Real-IP', '198.51.100.1']), '203.0.113.7');
    assert.equal(r.clientAddress(peer, ['X-Forwarded-For', '198.51.100.1']), peer);
    assert.equal(addressOf('[2001:DB8:0::7]:443'), '2001:db8::7');
    assert.equal(addressOf('2001:db8::7'), '2001:db8::7');
  });
});

describe('realIp config', () => {
  test('ranges are kept as network/prefix; the header in lower case; recursive off by default', () => {
    const config = validateConfig({ listeners: ['127.0.0.1:8080'], upstreams: { app: { servers: ['127.0.0.1:3000'] } }, realIp: { from: ['10.0.0.0/8', '::1', '127.0.0.1', '127.0.0.1/32'], header: 'X-Real-IP' } }, null);
    assert.deepEqual(config.realIp, { from: ['10.0.0.0/8', '::1/128', '127.0.0.1/32'], header: 'x-real-ip', recursive: false });
    const defaults = validateConfig({ listeners: ['127.0.0.1:8080'], upstreams: { app: { servers: ['127.0.0.1:3000'] } }, realIp: { from: ['10.0.0.0/8'] } }, null);
    assert.equal(defaults.realIp!.header, 'x-forwarded-for');
    assert.equal(validateConfig({ listeners: ['127.0.0.1:8080'], upstreams: { app: { servers: ['127.0.0.1:3000'] } } }, null).realIp, null);
  });

  test('each bad range is named with its index and what is wrong', () => {
    const found = problems({ from: ['10.0.0.1/8', 'proxy.example', '1.2.3.4/33', '::1/129', 'fe80::1%eth0/128'] });
    assert.match(found.get('realIp.from[0]')!, /bits set after its \/8 prefix; write the network, "10\.0\.0\.0\/8"/);
    assert.match(found.get('realIp.from[1]')!, /expected an IP address or CIDR block/);
    assert.match(found.get('realIp.from[2]')!, /prefix length .* from 0 to 32/);
    assert.match(found.get('realIp.from[3]')!, /prefix length .* from 0 to 128/);
    assert.match(found.get('realIp.from[4]')!, /expected an IP address or CIDR block/);
  });

  test('the schema refuses an empty from, a header that is not a token and unknown keys', () => {
    assert.ok(problems({ from: [] }).has('realIp.from'));
    assert.ok([...problems({ from: ['10.0.0.0/8'], header: 'X Real' }).keys()].some((k) => k.startsWith('realIp.header')));
    assert.ok([...problems({ from: ['10.0.0.0/8'], trusted: true }).keys()].some((k) => k.startsWith('realIp')));
    assert.ok(problems({ header: 'X-Real-IP' }).size > 0, 'from is required');
  });
});

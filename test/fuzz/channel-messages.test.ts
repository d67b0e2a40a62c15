// Fuzzing the channel message decoder (proxy/handoff/protocol.ts): any bytes decode to a message
// or null (never a throw); valid messages of every type round-trip through their encoder; edited
// ones (cut, extended, a byte changed) decode to null or to a message that re-encodes to itself.
//
// CI runs HANDOFF_FUZZ_RUNS (default 1000) inputs per property. Longer, by hand:
//   npm run build && HANDOFF_FUZZ_RUNS=20000 node --test dist/test/fuzz/channel-messages.test.js
// A failure prints its seed and path; HANDOFF_FUZZ_SEED and HANDOFF_FUZZ_PATH replay it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decode, DOWN_REASONS, encode, encodeRegister, encodeServer, encodeUpstream, MAX_MESSAGE_SIZE, MessageType, ServerState, type Message } from '../../proxy/handoff/protocol';
import { onPropertyThread, runPureProperty } from '../helpers/fuzz';

const u32 = fc.nat({ max: 0xffffffff });
const FIXED = [MessageType.CONNECTION, MessageType.ACK, MessageType.QUIT, MessageType.REJECT, MessageType.STATUS, MessageType.WELCOME, MessageType.LISTENER, MessageType.REOPEN, MessageType.CONNECTIONS] as const;

/** A valid message of any type, as its sender encodes it. */
const validMessage: fc.Arbitrary<Buffer> = fc.oneof(
  fc.tuple(fc.constantFrom(...FIXED), u32, u32, u32).map(([type, seq, a, b]) => encode(type, seq, a, b)),
  fc.record({ server: u32, requests: u32, failures: u32, downForMs: u32 }).map((r) => encodeUpstream(r)),
  fc.tuple(u32, u32, u32, fc.constantFrom(null, 'ipc-not-spawned' as const, 'reuseport-other-netns' as const), fc.string({ maxLength: 50 }))
    .map(([pid, max, key, unfit, host]) => encodeRegister(pid, max, { spawnKey: key, unfit, host })),
  fc.record({
    slot: u32,
    upstream: u32,
    state: fc.constantFrom(ServerState.UP, ServerState.DOWN, ServerState.REMOVED),
    reason: fc.constantFrom(...DOWN_REASONS),
    host: fc.oneof(fc.ipV4(), fc.ipV6()),
    port: fc.nat({ max: 0xffff }),
    weight: fc.nat({ max: 0xffff }),
    maxFails: fc.nat({ max: 0xffff }),
    failTimeout: u32,
  }).map((m) => encodeServer(m)),
);

/** What re-encoding a decoded message gives (REGISTER carries this protocol's version, as a worker sends it). */
function reencode(msg: Message): Buffer {
  if (msg.type === MessageType.UPSTREAM) return encodeUpstream(msg);
  if (msg.type === MessageType.SERVER) return encodeServer(msg);
  if (msg.type === MessageType.REGISTER) {
    if (msg.self === null) throw new Error("a 16-byte REGISTER is an older worker's: no encoder makes one");
    return encodeRegister(msg.pid, msg.maxConnections, msg.self);
  }
  return encode(msg.type, msg.seq, msg.a, msg.b);
}

/** decode never throws; what it accepts re-encodes to a message that decodes the same. */
function checkDecode(bytes: Buffer): void {
  const msg = decode(bytes);
  if (msg === null) return;
  assert.ok(bytes.length >= 16, 'nothing shorter than the header decodes');
  if (msg.type === MessageType.REGISTER && msg.self === null) return assert.equal(bytes.length, 16);
  const again = decode(reencode(msg));
  if (msg.type === MessageType.REGISTER) assert.deepEqual({ ...again, version: 0 }, { ...msg, version: 0 });
  else {
    assert.deepEqual(again, msg);
    assert.ok(reencode(msg).equals(bytes), 'a fixed-size message re-encodes byte for byte');
  }
}

const edited = validMessage.chain((buf) => fc.oneof(
  fc.nat({ max: buf.length }).map((n) => buf.subarray(0, n)),
  fc.uint8Array({ minLength: 1, maxLength: 8 }).map((extra) => Buffer.concat([buf, extra])),
  fc.tuple(fc.nat({ max: buf.length - 1 }), fc.nat({ max: 255 })).map(([i, byte]) => {
    const copy = Buffer.from(buf);
    copy[i] = byte;
    return copy;
  }),
));

const properties = {
  'any bytes: a message or null, never a throw': {
    arbitrary: fc.uint8Array({ maxLength: MAX_MESSAGE_SIZE + 8 }).map((b) => Buffer.from(b)),
    check: checkDecode,
  },
  'valid messages of every type round-trip': {
    arbitrary: validMessage,
    check: (bytes: Buffer) => {
      const msg = decode(bytes);
      assert.notEqual(msg, null, 'a valid message decodes');
      assert.ok(reencode(msg!).equals(bytes), 'and re-encodes byte for byte');
    },
  },
  'edited messages: null, or a message that re-encodes to itself': {
    arbitrary: edited,
    check: checkDecode,
  },
};

if (!onPropertyThread) {
  describe('fuzz: the channel message decoder', () => {
    for (const [name, property] of Object.entries(properties)) {
      it(name, { timeout: 60_000 }, () => runPureProperty(__filename, name, property as never));
    }
  });
} else {
  for (const [name, property] of Object.entries(properties)) void runPureProperty(__filename, name, property as never);
}

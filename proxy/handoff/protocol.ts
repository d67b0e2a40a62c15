// The messages on a handoff channel, as nginx's ngx_channel_t: every message starts with the same
// 16 bytes (four little-endian u32), optionally carrying fds via SCM_RIGHTS (one, or CONNECTIONS' b).
//
//   offset 0  type      MessageType
//   offset 4  seq       handoff sequence number (CONNECTION, ACK, REJECT);
//                       REGISTER: the most connections the worker will take; else 0
//   offset 8  a         REGISTER: worker pid;  CONNECTION, CONNECTIONS: listener index;
//                       ACK, REJECT, STATUS: the worker's open client connections (least-conn)
//   offset 12 b         REGISTER: protocol version;  ACK, REJECT, STATUS: requests served so far
//                       WELCOME: a = the worker's number (its id is "w" + a), b = its generation
//                       LISTENER: a = listener index
//                       CONNECTIONS: seq = the first one's, b = how many (and fds)
//
// Only REGISTER (protocol 3), UPSTREAM (protocol 4) and SERVER (protocol 5) carry more: a trailer
// with the worker's identity (see Register), an upstream server's down time (see UpstreamReport),
// a server's address and settings (see ServerMessage). Every other
// message is exactly 16 bytes. SOCK_SEQPACKET keeps message boundaries, so one
// recvmsg is always exactly one message, and the addon reads up to MAX_MESSAGE_SIZE bytes of it.

import { readWireAddress, WIRE_ADDRESS_SIZE, writeWireAddress } from './wire-address';

export const MESSAGE_SIZE = 16;
/** What the addon's Channel sends and receives whole (proxy/handoff/native/channel.c, MAX_MESSAGE). */
export const MAX_MESSAGE_SIZE = 64;
/**
 * 2: an ACK covers every earlier connection on its channel (1 acknowledged one at a time).
 * 3: REGISTER carries the worker's identity after the 16 bytes.
 * 4: workers report each upstream server's requests, failures and down time (UPSTREAM), and
 *    the master tells each worker its name (WELCOME).
 * 5: the master gives each worker its listening sockets to keep (LISTENER), so that the workers
 *    go on accepting if the master dies, tells workers to reopen their log files (REOPEN), and
 *    tells them which servers each upstream has and whether its health checks pass (SERVER);
 *    UPSTREAM reports number servers by slot.
 * 6: the master hands a burst of connections to a worker in one message (CONNECTIONS).
 */
export const PROTOCOL_VERSION = 6;
/** An older worker would take WELCOME for a malformed message: only version 4 on gets one. */
export const WELCOME_SINCE_PROTOCOL = 4;
/** An older worker would take SERVER for a malformed message, and numbers servers by their place. */
export const SERVER_SINCE_PROTOCOL = 5;
/** Nor would an older worker know what to do with a LISTENER (and would close its fd). */
export const LISTENERS_SINCE_PROTOCOL = 5;
/** Likewise REOPEN: only version 5 on gets one. */
export const REOPEN_SINCE_PROTOCOL = 5;
/** An older worker would take the first fd of a CONNECTIONS for a malformed message's: version 6 on. */
export const CONNECTIONS_SINCE_PROTOCOL = 6;
/**
 * A version-1 worker's ACKs (one per connection, in order) are valid cumulative ACKs, and a
 * version-2 worker's REGISTER is a plain 16-byte one (it gets an identity from its pid alone), so
 * this master takes both: workers in other containers may be upgraded after the master. Not the
 * other way round: a version-1 master would keep the fds a cumulative ACK covers, and a version-2
 * master refuses a REGISTER longer than 16 bytes. Upgrade (restart) the master first.
 */
export const OLDEST_WORKER_PROTOCOL = 1;

export enum MessageType {
  /** worker → master, first message: "I am pid a, speaking version b, taking at most seq connections". */
  REGISTER = 1,
  /** master → worker, carries the client fd: "serve connection seq, accepted on listener a". */
  CONNECTION = 2,
  /**
   * worker → master: "connection seq is mine now, and so is every connection sent to me before
   * it that I did not REJECT"; the master closes its copies. Cumulative, as TCP's: the channel
   * keeps order, a worker answers CONNECTIONs in order, and a REJECT goes out at once while ACKs
   * wait for the end of the poll phase, so a REJECT always arrives before the ACK that covers
   * its seq. One message then acknowledges a whole burst.
   */
  ACK = 3,
  /** master → worker: finish in-flight requests, then exit (nginx's graceful QUIT). */
  QUIT = 4,
  /**
   * worker → master: "I could not take connection seq" (the fd was lost to MSG_CTRUNC, or the
   * worker is at its connection limit). The master still holds its copy and sends it elsewhere.
   */
  REJECT = 5,
  /**
   * worker → master: "I now serve a connections and have served b requests" — sent after
   * connections close (coalesced per event-loop turn), so least-conn stays true and a full worker
   * that frees up gets work again, and once a second when either count changed. With reuseport
   * the master picks no worker, and only the once-a-second report is sent.
   */
  STATUS = 6,
  /**
   * worker → master, 20 bytes (UpstreamReport): "upstream server seq has had a requests sent to
   * it, b of which failed, and I skip it for the next c ms". Sent for every server after
   * REGISTER, then once a second for those whose figures changed. Balancing and passive health
   * live in each worker; the master sums them for its dashboard and /metrics.
   */
  UPSTREAM = 7,
  /**
   * master → worker, once, right after a protocol-4 REGISTER is taken: "you are worker w<a> of
   * generation b". The worker names itself so in its access log and its response header
   * (workerHeader): the same name the master's status, metrics and dashboard use.
   */
  WELCOME = 8,
  /**
   * master → worker, with the fd of listener a's listening socket: "keep this, do not accept on
   * it; if my channel closes without a QUIT, I died: accept on it yourself until a new master
   * takes over the handoff directory" (the lifeboat, proxy/worker/lifeboat.ts). Sent once per
   * listener after WELCOME. Without an fd (and not truncated): "drop your copy of listener a",
   * sent when the master closes its listeners (a shutdown), so that the port closes with them.
   */
  LISTENER = 9,
  /**
   * master → worker, on the master's USR1 (nginx's NGX_CMD_REOPEN): "open your log files anew",
   * after logrotate renamed them. Every field 0.
   */
  REOPEN = 10,
  /**
   * master → worker, 44 bytes (ServerMessage): "server slot seq of upstream a is now in state b".
   * Sent for every server after WELCOME, then on every change: a name re-resolved to new or fewer
   * addresses, an active health check's verdict.
   */
  SERVER = 11,
  /**
   * master → worker, carrying b fds (2 to MAX_FDS_PER_MESSAGE, native.ts), all accepted on
   * listener a: "serve connections seq, seq+1, … seq+b-1", one per fd in order. The burst that
   * one wakeup of the master accepts for a worker goes in one sendmsg instead of one each. The
   * worker answers each as if it had come in its own CONNECTION; a connection whose fd did not
   * arrive (MSG_CTRUNC: the kernel installs the first ones it can) is REJECTed.
   */
  CONNECTIONS = 12,
}

/** Every message but REGISTER, UPSTREAM and SERVER: the 16 bytes as they are. */
export interface FixedMessage {
  readonly type: Exclude<MessageType, MessageType.REGISTER | MessageType.UPSTREAM | MessageType.SERVER>;
  readonly seq: number;
  readonly a: number;
  readonly b: number;
}

/**
 * Why a worker that joined cannot serve under this master's transport, in its own words:
 *   ipc-not-spawned        Node passes ipc handles only over a child's IPC channel: a worker
 *                          the master did not spawn has none
 *   reuseport-other-netns  the worker binds the ports in its own network namespace, which is
 *                          not the master's: the proxy's address gets none of its traffic
 */
export type Unfitness = 'ipc-not-spawned' | 'reuseport-other-netns';
const UNFITNESS: readonly (Unfitness | null)[] = [null, 'ipc-not-spawned', 'reuseport-other-netns'];

/**
 * REGISTER's trailer (protocol 3), after the 16 bytes:
 *   offset 16  u32  spawnKey: the key the master gave its own children (HANDOFF_SPAWN_KEY), 0 if none
 *   offset 20  u8   unfit: 0, or the index of an Unfitness
 *   offset 21  ...  host: the worker's hostname (the container id in Docker), ASCII, the rest of
 *                   the message (at most MAX_HOST_BYTES: the addon reads 64 bytes)
 */
export interface WorkerSelf {
  readonly spawnKey: number;
  readonly unfit: Unfitness | null;
  readonly host: string;
}
const TRAILER_HOST_OFFSET = 21;
export const MAX_HOST_BYTES = MAX_MESSAGE_SIZE - TRAILER_HOST_OFFSET;

export interface Register {
  readonly type: MessageType.REGISTER;
  readonly pid: number;
  readonly version: number;
  /** The most connections the worker will take (0: no limit of its own). */
  readonly maxConnections: number;
  /** null for a worker older than protocol 3 (a 16-byte REGISTER). */
  readonly self: WorkerSelf | null;
}

/**
 * UPSTREAM: offset 4 the server's place among the config's upstream servers (upstreams in the
 * config's order, each one's servers in order: the worker and the master read the same published
 * config), offset 8 requests (attempts: a retry counts on the server it went to), offset 12
 * failures (as passive health counts them), offset 16 u32 ms it stays marked down (0: up).
 * Counts are u32 and wrap.
 */
export interface UpstreamReport {
  readonly type: MessageType.UPSTREAM;
  readonly server: number;
  readonly requests: number;
  readonly failures: number;
  readonly downForMs: number;
}
const UPSTREAM_SIZE = MESSAGE_SIZE + 4;

/** What a SERVER message says of its server. */
export enum ServerState {
  /** In the group, and its health checks pass (or none are configured). */
  UP = 1,
  /** In the group, but its health checks fail: it gets no requests. */
  DOWN = 2,
  /** Out of the group (its name no longer resolves to it): no new requests, in-flight ones finish. */
  REMOVED = 3,
}

/** Why a server is DOWN, as a code on the wire; the master logs the details. */
export const DOWN_REASONS = ['', 'connection refused', 'timed out', 'unexpected status', 'connection reset', 'not HTTP', 'unreachable', 'not checked yet', 'failed'] as const;
export type DownReason = (typeof DOWN_REASONS)[number];

/**
 * SERVER: offset 4 the server's slot (the master numbers each upstream address it ever puts in a
 * group, never reusing a number; the published config gives each server its slot), offset 8 the
 * upstream's place among the config's upstreams, offset 12 the ServerState in the low byte and
 * the index of a DownReason in the next. Trailer: offset 16 the address (16 bytes,
 * wire-address.ts), 32 u16 port, 34 u16 weight, 36 u16 maxFails, 38 u16 0, 40 u32 failTimeout ms.
 */
export interface ServerMessage {
  readonly type: MessageType.SERVER;
  readonly slot: number;
  readonly upstream: number;
  readonly state: ServerState;
  readonly reason: DownReason;
  readonly host: string;
  readonly port: number;
  readonly weight: number;
  readonly maxFails: number;
  readonly failTimeout: number;
}
const SERVER_SIZE = MESSAGE_SIZE + WIRE_ADDRESS_SIZE + 12;

export type Message = FixedMessage | Register | UpstreamReport | ServerMessage;

/**
 * A hostname as it may appear in a log line, a JSON document or a Prometheus label: the kernel
 * takes any bytes for one, and a peer's must not forge a log line or break a label. Letters,
 * digits, '.', '-' and '_' (RFC 1123 and Docker's ids) stay; anything else becomes '_'.
 */
export function safeHostname(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, MAX_HOST_BYTES);
}

export function encode(type: FixedMessage['type'], seq = 0, a = 0, b = 0): Buffer {
  return header(type, seq, a, b);
}

export function encodeUpstream(report: Omit<UpstreamReport, 'type'>): Buffer {
  const downFor = Buffer.alloc(UPSTREAM_SIZE - MESSAGE_SIZE);
  downFor.writeUInt32LE(Math.min(report.downForMs, 2 ** 32 - 1) >>> 0, 0);
  return Buffer.concat([header(MessageType.UPSTREAM, report.server, report.requests, report.failures), downFor]);
}

export function encodeServer(m: Omit<ServerMessage, 'type'>): Buffer {
  const trailer = Buffer.alloc(SERVER_SIZE - MESSAGE_SIZE);
  if (!writeWireAddress(m.host, trailer, 0)) throw new TypeError(`not an IP address: ${m.host}`);
  trailer.writeUInt16LE(m.port, WIRE_ADDRESS_SIZE);
  trailer.writeUInt16LE(m.weight, WIRE_ADDRESS_SIZE + 2);
  trailer.writeUInt16LE(Math.min(m.maxFails, 0xffff), WIRE_ADDRESS_SIZE + 4);
  trailer.writeUInt32LE(Math.min(m.failTimeout, 2 ** 32 - 1) >>> 0, WIRE_ADDRESS_SIZE + 8);
  const b = m.state | (DOWN_REASONS.indexOf(m.reason) << 8);
  return Buffer.concat([header(MessageType.SERVER, m.slot, m.upstream, b), trailer]);
}

function decodeServer(buf: Buffer, slot: number, upstream: number, b: number): ServerMessage | null {
  const state = b & 0xff;
  const reason = DOWN_REASONS[(b >> 8) & 0xff];
  const at = MESSAGE_SIZE + WIRE_ADDRESS_SIZE;
  // Reserved bytes must be 0: whatever decodes re-encodes to the same bytes.
  if (buf.length !== SERVER_SIZE || !(state in ServerState) || reason === undefined || b >>> 16 !== 0 || buf.readUInt16LE(at + 6) !== 0) return null;
  return {
    type: MessageType.SERVER,
    slot,
    upstream,
    state,
    reason,
    host: readWireAddress(buf, MESSAGE_SIZE),
    port: buf.readUInt16LE(at),
    weight: buf.readUInt16LE(at + 2),
    maxFails: buf.readUInt16LE(at + 4),
    failTimeout: buf.readUInt32LE(at + 8),
  };
}

export function encodeRegister(pid: number, maxConnections: number, self: WorkerSelf): Buffer {
  const host = Buffer.from(safeHostname(self.host), 'latin1');
  const trailer = Buffer.alloc(TRAILER_HOST_OFFSET - MESSAGE_SIZE);
  trailer.writeUInt32LE(self.spawnKey >>> 0, 0);
  trailer.writeUInt8(UNFITNESS.indexOf(self.unfit), 4);
  return Buffer.concat([header(MessageType.REGISTER, maxConnections, pid, PROTOCOL_VERSION), trailer, host]);
}

function header(type: MessageType, seq: number, a: number, b: number): Buffer {
  const buf = Buffer.allocUnsafe(MESSAGE_SIZE);
  buf.writeUInt32LE(type, 0);
  buf.writeUInt32LE(seq >>> 0, 4);
  buf.writeUInt32LE(a >>> 0, 8);
  buf.writeUInt32LE(b >>> 0, 12);
  return buf;
}

/**
 * Returns null for a message of the wrong size, an unknown type or a bad trailer: the peer is not
 * speaking our protocol. A REGISTER of exactly 16 bytes is an older worker's (self: null).
 */
export function decode(buf: Buffer): Message | null {
  if (buf.length < MESSAGE_SIZE) return null;
  const type = buf.readUInt32LE(0);
  if (!(type in MessageType)) return null;
  const seq = buf.readUInt32LE(4);
  const a = buf.readUInt32LE(8);
  const b = buf.readUInt32LE(12);
  if (type === MessageType.UPSTREAM) {
    return buf.length === UPSTREAM_SIZE
      ? { type: MessageType.UPSTREAM, server: seq, requests: a, failures: b, downForMs: buf.readUInt32LE(MESSAGE_SIZE) }
      : null;
  }
  if (type === MessageType.SERVER) return decodeServer(buf, seq, a, b);
  if (type !== MessageType.REGISTER) {
    return buf.length === MESSAGE_SIZE ? { type: type as FixedMessage['type'], seq, a, b } : null;
  }
  const register = { type: MessageType.REGISTER, pid: a, version: b, maxConnections: seq } as const;
  if (buf.length === MESSAGE_SIZE) return { ...register, self: null };
  if (buf.length < TRAILER_HOST_OFFSET) return null;
  const unfit = UNFITNESS[buf.readUInt8(20)];
  if (unfit === undefined) return null;
  const host = safeHostname(buf.subarray(TRAILER_HOST_OFFSET).toString('latin1'));
  return { ...register, self: { spawnKey: buf.readUInt32LE(16), unfit, host } };
}

/** The socket in the handoff directory that workers connect to. */
export const MASTER_SOCKET_NAME = 'master.sock';

// The one fixed message on a handoff channel, as nginx's ngx_channel_t: every message is the
// same 16 bytes (four little-endian u32), optionally carrying one fd via SCM_RIGHTS.
//
//   offset 0  type      MessageType
//   offset 4  seq       handoff sequence number (CONNECTION, ACK, REJECT);
//                       REGISTER: the most connections the worker will take; else 0
//   offset 8  a         REGISTER: worker pid;  CONNECTION: listener index;
//                       ACK, REJECT, STATUS: the worker's open client connections (least-conn)
//   offset 12 b         REGISTER: protocol version;  ACK, REJECT, STATUS: requests served so far
//
// SOCK_SEQPACKET keeps message boundaries, so one recvmsg is always exactly one message.

export const MESSAGE_SIZE = 16;
/** 2: an ACK covers every earlier connection on its channel (1 acknowledged one at a time). */
export const PROTOCOL_VERSION = 2;
/**
 * A version-1 worker's ACKs (one per connection, in order) are valid cumulative ACKs, so this
 * master takes it: workers in other containers may be upgraded after the master. Not the other
 * way round: a version-1 master would keep the fds a cumulative ACK covers. Upgrade (restart)
 * the master first.
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
}

export interface Message {
  readonly type: MessageType;
  readonly seq: number;
  readonly a: number;
  readonly b: number;
}

export function encode(type: MessageType, seq = 0, a = 0, b = 0): Buffer {
  const buf = Buffer.allocUnsafe(MESSAGE_SIZE);
  buf.writeUInt32LE(type, 0);
  buf.writeUInt32LE(seq >>> 0, 4);
  buf.writeUInt32LE(a >>> 0, 8);
  buf.writeUInt32LE(b >>> 0, 12);
  return buf;
}

/** Returns null for a message of the wrong size or an unknown type: the peer is not speaking our protocol. */
export function decode(buf: Buffer): Message | null {
  if (buf.length !== MESSAGE_SIZE) return null;
  const type = buf.readUInt32LE(0);
  if (!(type in MessageType)) return null;
  return { type, seq: buf.readUInt32LE(4), a: buf.readUInt32LE(8), b: buf.readUInt32LE(12) };
}

/** The socket in the handoff directory that workers connect to. */
export const MASTER_SOCKET_NAME = 'master.sock';

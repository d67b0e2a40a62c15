// The read buffers of a worker's upstream connections. A connection holds one only from the first
// read of a response until it is idle or closed and none of the buffer's bytes wait in a client's
// write queue (the "lent" rule, upstream-connection.ts). Before that first read its socket reads
// into the worker's one `scratch` buffer, and the read is copied out of it: scratch is never lent,
// so sockets that wait for a response (thousands, when many clients are in flight) or sit idle in
// a pool share it and hold nothing of their own.
//
// A connection that gives its buffer back leaves it here for the next one. A fresh 64 KiB per
// connection instead is external memory, which V8 sees only as pressure towards its next major GC:
// with a new upstream connection per request (more requests in flight than `keepalive`), the
// allocations and the major GCs they brought on were ~10% of a worker's CPU.

/** Bytes per read: a 1 MiB body in 16 reads (nginx's proxy_buffers take 32-64 KiB per request). */
export const READ_BUFFER_BYTES = 64 * 1024;

/**
 * Buffers kept for reuse: as many as connections reading a response over several reads at once
 * (a large body) or waiting for a slow client. Past it they go to the garbage collector; the most a
 * worker keeps unused is 4 MiB.
 */
const FREE_BUFFERS_KEPT = 64;

const free: Buffer[] = [];
/** Buffers connections hold now (readBuffersHeld()). */
let held = 0;

/** Where sockets without a buffer of their own read; every read from it is copied out at once. */
export const scratch: Buffer = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);

/** A buffer for one connection's reads, the caller's until it calls giveReadBuffer(). */
export function takeReadBuffer(): Buffer {
  held++;
  return free.pop() ?? Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
}

/** Back for reuse: nothing may read into it or hold a slice of it any more. */
export function giveReadBuffer(buffer: Buffer): void {
  held--;
  if (free.length < FREE_BUFFERS_KEPT) free.push(buffer);
}

/** How many buffers connections hold now: one per response being read or lent to a client. */
export function readBuffersHeld(): number {
  return held;
}

// libuv's TCP handle and the stream machinery node:net itself is built on, for the two places
// that skip layers of node:net on the per-connection path (socket-from-fd.ts, handle-socket.ts).
//
// They come from `process.binding()`: documentation-deprecated only (DEP0111), and tcp_wrap,
// stream_wrap and uv are on its allow-list in Node 20, 22 and 24 with the shape typed below
// (checked on all three). If a Node drops them or changes their shape, this returns null and
// the callers use net.Socket: slower, otherwise the same.

/** libuv's uv_tcp_t as a JS object (src/tcp_wrap.cc, stream_wrap.cc, handle_wrap.cc). */
export interface TcpHandle {
  open(fd: number): number;
  close(callback?: () => void): void;
  readStart(): number;
  readStop(): number;
  /** Reads go into `buffer`, and onread gets no ArrayBuffer; nread is in streamBaseState. */
  useUserBuffer(buffer: Buffer): void;
  onread: ((this: TcpHandle) => void) | null;
  writeLatin1String(req: WriteRequest, data: string): number;
  writeBuffer(req: WriteRequest, data: Buffer): number;
  /** `chunks`: buffers only when `allBuffers`, else chunk, encoding, chunk, encoding... */
  writev(req: WriteRequest, chunks: Array<Buffer | string>, allBuffers: boolean): number;
  shutdown(req: ShutdownRequest): number;
  getpeername(out: { address?: string; port?: number; family?: string }): number;
  /** Bytes libuv still holds in its write queue. */
  readonly writeQueueSize: number;
}

export interface WriteRequest {
  handle: TcpHandle;
  oncomplete: (status: number) => void;
}

export interface ShutdownRequest {
  handle: TcpHandle;
  oncomplete: (status: number) => void;
}

export interface LibuvBindings {
  TCP: new (type: number) => TcpHandle;
  /** tcp_wrap's constants.SOCKET: a connected socket's handle, not a server's. */
  SOCKET: number;
  WriteWrap: new () => WriteRequest;
  ShutdownWrap: new () => ShutdownRequest;
  /** Filled in by C++ around each read and write call (stream_base.h's StreamBaseStateFields). */
  streamBaseState: Int32Array;
  kReadBytesOrError: number;
  kLastWriteWasAsync: number;
  UV_EOF: number;
}

let loaded: LibuvBindings | null | undefined;

type Binding = Record<string, unknown>;

export function libuvBindings(): LibuvBindings | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  try {
    const binding = (process as unknown as { binding(name: string): Binding }).binding;
    const tcp = binding('tcp_wrap');
    const stream = binding('stream_wrap');
    const uv = binding('uv');
    const SOCKET = (tcp.constants as Binding | undefined)?.SOCKET;
    const shapeOk =
      typeof tcp.TCP === 'function' &&
      typeof SOCKET === 'number' &&
      typeof stream.WriteWrap === 'function' &&
      typeof stream.ShutdownWrap === 'function' &&
      stream.streamBaseState instanceof Int32Array &&
      typeof stream.kReadBytesOrError === 'number' &&
      typeof stream.kLastWriteWasAsync === 'number' &&
      typeof uv.UV_EOF === 'number';
    if (shapeOk) {
      loaded = {
        TCP: tcp.TCP as LibuvBindings['TCP'],
        SOCKET,
        WriteWrap: stream.WriteWrap as LibuvBindings['WriteWrap'],
        ShutdownWrap: stream.ShutdownWrap as LibuvBindings['ShutdownWrap'],
        streamBaseState: stream.streamBaseState as Int32Array,
        kReadBytesOrError: stream.kReadBytesOrError as number,
        kLastWriteWasAsync: stream.kLastWriteWasAsync as number,
        UV_EOF: uv.UV_EOF as number,
      };
    }
  } catch {
    // not exposed: stay null
  }
  return loaded;
}

/**
 * A TCP handle that owns `fd`, or null when the bindings are missing. Throws if libuv refuses the
 * fd; the caller still owns it then (uv_tcp_open leaves a fd it failed on alone).
 */
export function openTcpHandle(fd: number): TcpHandle | null {
  const uv = libuvBindings();
  if (uv === null) return null;
  const handle = new uv.TCP(uv.SOCKET);
  const err = handle.open(fd);
  if (err !== 0) {
    handle.close();
    throw new Error(`open: uv error ${err}`);
  }
  return handle;
}

// Handoff channels made the way master and worker make theirs, for tests of the addon and of the
// master's bookkeeping over real SOCK_SEQPACKET sockets.
import path from 'node:path';
import { native } from '../../proxy/handoff/native';

/** Accepts exactly one connection on a listening fd through an Acceptor. */
export function acceptOne(listenFd: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const acceptor = new native.Acceptor(
      listenFd,
      (fd) => {
        acceptor.close();
        resolve(fd);
      },
      (code, message) => reject(Object.assign(new Error(message), { code })),
    );
  });
}

/** A connected SOCK_SEQPACKET pair of raw fds, made the way master and worker make theirs. */
export async function seqpacketPair(dir: string): Promise<[number, number]> {
  const listenFd = native.seqpacketListen(path.join(dir, 'pair.sock'), 8);
  try {
    const connected = native.seqpacketConnect(path.join(dir, 'pair.sock'));
    return [await acceptOne(listenFd), connected];
  } finally {
    native.closeFd(listenFd);
  }
}


// Handoff channels made the way master and worker make theirs, for tests of the addon and of the
// master's bookkeeping over real SOCK_SEQPACKET sockets.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { native } from '../../proxy/handoff/native';
import { decode, type FixedMessage } from '../../proxy/handoff/protocol';
import type { WorkerIdentity } from '../../proxy/observability/master-metrics';
import { WorkerLink } from '../../proxy/master/worker-link';

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
export async function seqpacketPair(dir: string, name = 'pair.sock'): Promise<[number, number]> {
  const listenFd = native.seqpacketListen(path.join(dir, name), 8);
  try {
    const connected = native.seqpacketConnect(path.join(dir, name));
    return [await acceptOne(listenFd), connected];
  } finally {
    native.closeFd(listenFd);
  }
}

/** What arrives at the other end of a real channel when `message` is sent on it (without an fd). */
export async function acrossChannel(message: Buffer): Promise<Buffer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'handoff-channel-'));
  try {
    const [a, b] = await seqpacketPair(dir);
    const sender = new native.Channel(a, () => {}, () => {}, () => {});
    const got = await new Promise<Buffer>((resolve) => {
      const receiver = new native.Channel(b, (header) => {
        receiver.close();
        resolve(header);
      }, () => {}, () => {});
      sender.send(message, -1);
    });
    sender.close();
    return got;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The master's WorkerLink for a registered worker, and what that worker's end of the channel received. */
export interface LinkedWorker {
  readonly link: WorkerLink;
  /** The master sends only fixed-size messages. */
  readonly received: FixedMessage[];
  close(): void;
}

/**
 * A WorkerLink over a real channel, registered as `pid` (named "w<pid>" unless `identity` says
 * otherwise); the worker's end records each message (and closes passed fds), and acknowledges
 * nothing unless the test does (link.settleThrough).
 */
export async function linkedWorker(dir: string, pid: number, identity: Partial<WorkerIdentity> = {}, ackTimeoutMs = 500): Promise<LinkedWorker> {
  const id = identity.id ?? `w${pid}`;
  const [masterFd, workerFd] = await seqpacketPair(dir, `link-${id}.sock`);
  const received: FixedMessage[] = [];
  const worker = new native.Channel(
    workerFd,
    (header, fd) => {
      received.push(decode(header) as FixedMessage);
      if (fd >= 0) native.closeFd(fd);
    },
    () => {},
    () => {},
  );
  const link = new WorkerLink(masterFd, 64, ackTimeoutMs, 1000, () => {}, () => {});
  link.identity = { id, pid, host: 'localhost', origin: 'spawned', generation: 1, ...identity };
  return {
    link,
    received,
    close() {
      link.close();
      worker.close();
    },
  };
}

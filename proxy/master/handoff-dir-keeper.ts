// The master's hold on its handoff directory: the lock, master.sock and what is published there
// (config.json, master.json), kept that way for the master's life.
//
// Someone may delete the directory (a tmp cleaner, a `rm -rf` of the wrong thing) while the
// master runs. Running workers do not notice: their channels are open sockets, and nginx too
// keeps serving on sockets it already holds. But new workers could no longer join, and with the
// lock file gone a second master could take the path. So the keeper looks on a short interval,
// and before each spawn: if anything it put there is gone or replaced, it recreates the
// directory, re-takes the lock, republishes, and listens on a new master.sock; it says so once.
// If another master took the directory first, it is theirs: this master says so, keeps its
// running workers, and starts none there (they would join the other master) until it is free.
import fs from 'node:fs';
import type { Config } from '../config/types';
import { HandoffDirInUseError } from '../handoff/errors';
import {
  cleanHandoffDir, configPath, lockHandoffDir, lockPath, masterSocketPath, prepareHandoffDir, publishConfig, publishMasterIdentity,
} from '../handoff/handoff-dir';
import type { MasterIdentity } from '../handoff/host-identity';
import { native, type Acceptor } from '../handoff/native';
import { untrustedPeer } from '../handoff/trust';
import type { Logger } from '../observability/logger';

/** How often the directory is looked at: a second master started meanwhile finds it taken again. */
const CHECK_INTERVAL_MS = 500;

type KeeperState =
  | { readonly kind: 'unopened' }
  /** Ours: the inodes of what we put there, to notice a deletion or replacement. */
  | { readonly kind: 'held'; readonly dirIno: number; readonly socketIno: number }
  /** Something is gone and recreating it failed (`why`, said once); retried on each check. */
  | { readonly kind: 'lost'; readonly why: string }
  /** Another master holds the lock of the recreated directory. */
  | { readonly kind: 'taken'; readonly holder: string }
  | { readonly kind: 'closed' };

export class HandoffDirKeeper {
  private state: KeeperState = { kind: 'unopened' };
  private lockFd = -1;
  private socketFd = -1;
  private acceptor: Acceptor | null = null;
  private published: Config | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly dir: string,
    private identity: MasterIdentity,
    /** A worker's channel, from a process running as our user or root; the callee owns the fd. */
    private readonly onWorkerConnected: (fd: number) => void,
    private readonly log: Logger,
  ) {}

  /** Checks the directory is ours and locks it; throws (unsafe, in use) before anything is bound. */
  take(): void {
    prepareHandoffDir(this.dir);
    this.lockFd = lockHandoffDir(this.dir); // held by its fd until this process ends
  }

  /** Publishes the first config and the master's identity, listens on master.sock, starts watching. */
  open(config: Config): void {
    this.published = config;
    publishConfig(this.dir, config);
    publishMasterIdentity(this.dir, this.identity);
    this.listen();
    this.state = this.heldState();
    this.timer = setInterval(() => this.ensure(), CHECK_INTERVAL_MS).unref();
  }

  /**
   * Publishes a reloaded config. Throws (ENOSPC, the directory gone for good) with the old file
   * still in place: the caller keeps the old config, all or nothing.
   */
  publish(config: Config): void {
    this.ensure();
    if (this.state.kind !== 'held') throw new Error(this.unavailableReason());
    publishConfig(this.dir, config);
    this.published = config;
  }

  /** Publishes a new master.json (the master now serves), kept if the directory is recreated. */
  announce(identity: MasterIdentity): void {
    this.identity = identity;
    publishMasterIdentity(this.dir, identity);
  }

  /** Whether new workers can join this master through the directory now (recreating it if needed). */
  ensure(): boolean {
    const { state } = this;
    if (state.kind === 'unopened' || state.kind === 'closed') return false;
    const gone = state.kind === 'held' ? this.whatIsGone(state) : null;
    if (state.kind === 'held' && gone === null) return true;
    this.recover(gone);
    return this.state.kind === 'held';
  }

  /** Stops watching and accepting; removes what it published, unless the directory is another master's now. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    const held = this.state.kind === 'held' || this.state.kind === 'lost';
    this.state = { kind: 'closed' };
    this.stopListening();
    if (held) cleanHandoffDir(this.dir);
  }

  private unavailableReason(): string {
    const { state } = this;
    if (state.kind === 'taken') return `the handoff dir ${this.dir} is held by ${state.holder} now`;
    if (state.kind === 'lost') return `the handoff dir ${this.dir} cannot be recreated (${state.why})`;
    return `the handoff dir ${this.dir} is not open`;
  }

  private heldState(): KeeperState {
    return { kind: 'held', dirIno: fs.statSync(this.dir).ino, socketIno: fs.statSync(masterSocketPath(this.dir)).ino };
  }

  /** What of ours is no longer in the directory, or null when all is. */
  private whatIsGone(state: { dirIno: number; socketIno: number }): string | null {
    const ino = (file: string) => {
      try {
        return fs.statSync(file).ino;
      } catch {
        return -1;
      }
    };
    if (ino(this.dir) !== state.dirIno) return 'the directory was deleted';
    if (ino(lockPath(this.dir)) !== fs.fstatSync(this.lockFd).ino) return 'master.lock was deleted';
    if (ino(masterSocketPath(this.dir)) !== state.socketIno) return 'master.sock was deleted';
    if (ino(configPath(this.dir)) === -1) return 'config.json was deleted';
    return null;
  }

  /** Recreates whatever is missing; one log line per outcome, not per check. */
  private recover(gone: string | null): void {
    const before = this.state;
    try {
      prepareHandoffDir(this.dir);
      if (this.retakeLock() === 'taken') return;
      publishConfig(this.dir, this.published!);
      publishMasterIdentity(this.dir, this.identity);
      this.stopListening();
      this.listen();
      this.state = this.heldState();
    } catch (err) {
      const why = (err as Error).message;
      if (before.kind !== 'lost' || before.why !== why) {
        this.log.error(`handoff dir ${this.dir}: ${gone ?? 'it is unusable'} and recreating it failed (${why}); running workers keep serving, new ones cannot join until it works`);
      }
      this.state = { kind: 'lost', why };
      return;
    }
    const what = before.kind === 'taken' ? `${before.holder} has left it, and this master holds it again`
      : `${gone ?? 'it was unusable'} while the master ran; recreated it`;
    this.log.warn(`handoff dir ${this.dir}: ${what}, listening on master.sock again, so new workers can join`);
  }

  /** Locks the (possibly new) lock file unless ours still is; 'taken' when another master holds it. */
  private retakeLock(): 'ours' | 'taken' {
    let current = -1;
    try {
      current = fs.statSync(lockPath(this.dir)).ino;
    } catch {
      // gone: lock a new one
    }
    if (current === fs.fstatSync(this.lockFd).ino) return 'ours';
    let fd: number;
    try {
      fd = lockHandoffDir(this.dir);
    } catch (err) {
      if (!(err instanceof HandoffDirInUseError)) throw err;
      if (this.state.kind !== 'taken') {
        this.log.error(
          `handoff dir ${this.dir} was deleted while this master ran, and ${err.holder} has taken it since: this master keeps ` +
            `serving with its running workers but starts no new ones there (they would join the other); stop one of the two masters`,
        );
        this.stopListening(); // the path is the other master's socket now
      }
      this.state = { kind: 'taken', holder: err.holder };
      return 'taken';
    }
    native.closeFd(this.lockFd);
    this.lockFd = fd;
    return 'ours';
  }

  private listen(): void {
    this.socketFd = native.seqpacketListen(masterSocketPath(this.dir), 128);
    this.acceptor = new native.Acceptor(
      this.socketFd,
      (fd) => this.accepted(fd),
      (code, message) => this.log.error(`accept() on the handoff socket failed (${code}: ${message})`),
    );
  }

  private stopListening(): void {
    this.acceptor?.close();
    this.acceptor = null;
    if (this.socketFd >= 0) native.closeFd(this.socketFd);
    this.socketFd = -1;
  }

  /** master.sock is 0600, but a process with CAP_DAC_OVERRIDE, or one across a shared volume, may still connect. */
  private accepted(fd: number): void {
    let problem: string | null;
    try {
      problem = untrustedPeer(fd);
    } catch (err) {
      problem = `its credentials cannot be read (${(err as Error).message})`;
    }
    if (problem === null) return this.onWorkerConnected(fd);
    native.closeFd(fd);
    this.log.warn(`refused a connection on master.sock: ${problem}`);
  }
}

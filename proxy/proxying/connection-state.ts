// The states of a client connection (client-connection.ts) and the moves between them. Its one
// deadline follows from the state it enters (ClientConnection.enter): what it waits for decides
// which timeout runs and what happens when it passes.

export const enum ConnState {
  /** Waiting for a request head, or reading one: client_header_timeout (408 when it passes). */
  ReadingHead,
  /** Reading the body of the request being answered: client_body_timeout between reads, not while reading is paused. */
  ReadingBody,
  /** An exchange answers (or requests wait their turn behind it); nothing runs on this connection's clock. */
  WaitingUpstream,
  /** The last response is still leaving; the next request waits for it: clientSend (nginx's send_timeout). */
  Flushing,
  /** Between requests: keepalive_timeout. */
  IdleKeepAlive,
  /** An Upgrade (or CONNECT) head was taken: at the end of this read the socket leaves for a tunnel. */
  Upgrading,
  /** No more requests are taken; the connection ends once what is being answered is done. Keeps the deadline it had. */
  ClosingAfterAnswer,
  /** Ended (our FIN sent or queued): the client is given a while to close its side (closeLingerMs). */
  ClosingAfterFin,
  /** Handed to proxyUpgrade's tunnel, which owns the socket from here. */
  Tunnel,
  /** The socket is destroyed or closed. Final: later moves (callbacks of the read being parsed) are ignored. */
  Closed,
}

const NAMES = ['reading-head', 'reading-body', 'waiting-upstream', 'flushing', 'idle-keepalive', 'upgrading', 'closing-after-answer', 'closing-after-fin', 'tunnel', 'closed'];

const bit = (...states: ConnState[]): number => states.reduce((mask, s) => mask | (1 << s), 0);
const CLOSING = bit(ConnState.ClosingAfterAnswer, ConnState.ClosingAfterFin, ConnState.Closed);
const SERVING = bit(ConnState.ReadingHead, ConnState.ReadingBody, ConnState.WaitingUpstream, ConnState.Flushing, ConnState.IdleKeepAlive);

/** Where each state may go, indexed by state. */
const MOVES: readonly number[] = [
  /* ReadingHead */ bit(ConnState.ReadingHead, ConnState.ReadingBody, ConnState.WaitingUpstream, ConnState.Upgrading) | CLOSING,
  /* ReadingBody */ SERVING | bit(ConnState.Upgrading) | CLOSING,
  /* WaitingUpstream */ SERVING | bit(ConnState.Upgrading) | CLOSING,
  /* Flushing */ SERVING | bit(ConnState.Upgrading) | CLOSING,
  /* IdleKeepAlive */ bit(ConnState.ReadingHead) | CLOSING,
  /* Upgrading */ bit(ConnState.Tunnel) | CLOSING,
  /* ClosingAfterAnswer */ CLOSING,
  /* ClosingAfterFin */ bit(ConnState.ClosingAfterFin, ConnState.Closed),
  /* Tunnel */ bit(ConnState.Closed),
  /* Closed */ 0,
];

/** Why `from` → `to` is a move no connection makes (a bug of ours), or null when it is a legal one. */
export function illegalMove(from: ConnState, to: ConnState): string | null {
  return (MOVES[from] & (1 << to)) === 0 ? `client connection cannot go from ${NAMES[from]} to ${NAMES[to]}` : null;
}

/** No more requests are taken in these states. */
export function isClosing(state: ConnState): boolean {
  return state >= ConnState.ClosingAfterAnswer;
}

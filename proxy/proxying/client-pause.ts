// Why a client connection stops reading; it reads again when no reason is left (a bit each).
export const enum ClientPause {
  Pipeline = 1,
  Upstream = 2,
  /** A response is still leaving: the next request waits for it (ClientConnection.exchangeDone). */
  Flush = 4,
}

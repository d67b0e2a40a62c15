// Graceful shutdown's first step, once accepting has stopped: the connections already accepted
// are still owed a worker. Parked ones wait for room; those on their way wait for their ACK,
// before any worker is told to quit (a worker quitting with unread CONNECTION messages would
// send them back, to a master about to close them).
import type { Dispatcher } from './dispatcher';
import type { WorkerRoster } from './worker-roster';

export async function drainThenQuit(dispatcher: Dispatcher, roster: WorkerRoster, graceMs: number): Promise<void> {
  const deadline = Date.now() + graceMs;
  // Every registered worker, not only the current generation: the one before a reload, and any
  // told to quit already, may still have handoffs it has not acknowledged.
  const owed = () => dispatcher.waitingCount > 0 || roster.registered().some((l) => l.inFlightCount > 0);
  // (Candidates, not the current generation's count: during a reload none of whose workers has
  // registered, the generation before is the one that can still take them.)
  while (owed() && roster.candidates().length > 0 && Date.now() < deadline) {
    dispatcher.drainWaiting();
    await new Promise((r) => setTimeout(r, 20));
  }
  // Workers that joined through the directory are registered too, and only a QUIT on the channel
  // reaches them (the spawner signals its own children). sendQuit is once per link.
  for (const link of roster.registered()) link.sendQuit();
}

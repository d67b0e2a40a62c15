// Who a worker is, as the master tells workers apart: an id of its own, never the pid (workers in
// other containers may share pids). Its own file because the metrics and the event timeline both
// name workers by it.
export type WorkerOrigin = 'spawned' | 'joined';

export interface WorkerIdentity {
  /** "w1", "w2"…: given by the master at REGISTER, unique for its run and never reused. */
  readonly id: string;
  /** In the worker's own pid namespace: another container's worker may show the same number. */
  readonly pid: number;
  /** The worker's hostname (the container id in Docker); null: a worker older than protocol 3. */
  readonly host: string | null;
  /** spawned: a child of this master; joined: started by hand or in another container. */
  readonly origin: WorkerOrigin;
  /** The configuration generation it joined under: 1 at start, one more per successful reload. */
  readonly generation: number;
}

/** The id of the master's n-th worker, and back: WELCOME carries the number. */
export const workerIdOf = (n: number): string => `w${n}`;
export const workerNumberOf = (id: string): number => Number(id.slice(1));

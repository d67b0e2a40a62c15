// Every way Handoff is meant to differ from nginx on the differential corpus, with the reason.
// Reviewed by humans: a divergence not listed here fails nginx-differential.test.ts, and an
// entry that no longer matches any divergence fails it too (unless it names the fix expected to
// remove it, `fixedBy`), so the list stays exactly as long as the truth.
import type { Aspect } from './compare';

export interface IntendedDivergence {
  /** The case names it covers. */
  readonly cases: RegExp;
  /** In what the two differ; a case may differ in these and in nothing else. */
  readonly differs: readonly Aspect[];
  /** What Handoff does, next to what nginx does. */
  readonly what: string;
  readonly reason: string;
  /** A change expected to make this divergence vanish; the entry goes once it has landed. */
  readonly fixedBy?: 'canonical-framing';
}

export const INTENDED_DIVERGENCES: readonly IntendedDivergence[] = [];

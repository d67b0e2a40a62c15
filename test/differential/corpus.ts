// The differential corpus: every case, each with a stable name.
import { framingCases } from './corpus-framing';
import type { Case } from './corpus-kit';
import { syntaxCases } from './corpus-syntax';

export type { Case } from './corpus-kit';

export function corpus(): Case[] {
  const cases = [...framingCases(), ...syntaxCases()];
  const seen = new Set<string>();
  for (const c of cases) {
    if (seen.has(c.name)) throw new Error(`two cases named ${c.name}`);
    seen.add(c.name);
  }
  return cases;
}

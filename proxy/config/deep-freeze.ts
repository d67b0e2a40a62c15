// Object.freeze all the way down, for the validated Config and the validator's constant tables.

/** Freezes `value` and everything reachable from it; an already-frozen object is taken as done. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** The typed arrays the store core keeps its struct-of-arrays records in. */
export type RecordArray = Float64Array | Int32Array | Uint32Array | Uint8Array;

/**
 * A new array of the same type as `old` with `length` elements: `old`'s elements first, zeros after.
 * The core grows its record arrays by doubling, so this runs O(log n) times over a store's life.
 */
export function grown<T extends RecordArray>(old: T, length: number): T {
  if (length < old.length) throw new RangeError(`grown: ${length} is shorter than ${old.length}`);
  const next = new (old.constructor as new (length: number) => T)(length);
  next.set(old);
  return next;
}

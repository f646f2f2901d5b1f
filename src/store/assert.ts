/**
 * The store core's one assertion: a broken invariant is a programming error in the core, never a caller's
 * mistake, so it throws a plain Error (not a PlasmaError) and names the invariant.
 */
export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`store invariant: ${message}`);
}

/**
 * Tests that need something from the machine (root, podman, mount rights, huge pages) ask here whether
 * it is present. Outside CI a missing prerequisite skips them with the reason printed; under `CI=true` it
 * is an error naming the prerequisite, so CI never counts a test it did not run.
 */

/** True when the environment says this is a CI run (`CI=true`, as .ci/run is invoked). */
export const IN_CI = process.env.CI === "true";

/** Thrown under CI=true when a test file's prerequisite is missing. */
export class MissingPrerequisiteError extends Error {
  constructor(
    readonly prerequisite: string,
    readonly problem: string,
  ) {
    super(`missing prerequisite under CI=true: ${prerequisite} (${problem})`);
    this.name = "MissingPrerequisiteError";
  }
}

/**
 * Returns true when `problem` is null (the prerequisite is present). Otherwise throws a
 * MissingPrerequisiteError under CI=true, and elsewhere prints `name`, the problem and what happens
 * without it (`without`, by default that the tests needing it are skipped) and returns false.
 */
export function prerequisite(
  name: string,
  problem: string | null,
  without = "the tests that need it are skipped",
): boolean {
  if (problem === null) return true;
  if (IN_CI) throw new MissingPrerequisiteError(name, problem);
  console.warn(`prerequisite missing: ${name} (${problem}); ${without}`);
  return false;
}

/** Why this process cannot act as root (null when it can). */
export function rootProblem(): string | null {
  if (process.platform !== "linux") return `not Linux (${process.platform})`;
  return process.getuid?.() === 0 ? null : `running as uid ${process.getuid?.()}, not root`;
}

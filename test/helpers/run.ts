/** Running commands and reading the store's log, shared by the tests. */

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CommandOptions {
  /** Variables added to the test's environment (which has its PLASMA_* variables removed). */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** The command is killed (SIGKILL) after this long; default 30 s. */
  timeoutMs?: number;
}

/**
 * The environment for a process a test starts: this process's, without the PLASMA_* variables the
 * developer's shell may have set (PLASMA_EVICTION=fifo would change what a store does), plus `extra`.
 */
export function testEnv(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith("PLASMA_")) env[name] = value;
  }
  return { ...env, ...extra };
}

/** Runs a command to the end and returns its exit code and output. */
export async function runCommand(argv: string[], options: CommandOptions = {}): Promise<CommandResult> {
  const proc = Bun.spawn(argv, {
    cwd: options.cwd,
    stdout: "pipe",
    stderr: "pipe",
    env: testEnv(options.env),
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), options.timeoutMs ?? 30_000);
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** The fields of the store's "plasma_store started" log line. */
export function startLine(output: string): Record<string, unknown> {
  const line = output.split("\n").find((l) => l.includes('"msg":"plasma_store started"'));
  if (line === undefined) throw new Error(`no start line in store output:\n${output}`);
  return JSON.parse(line) as Record<string, unknown>;
}

/** Formatting shared by plasma-admin's commands. */

/** An ISO time, or "-" for none. */
export function formatTime(ms: number): string {
  return ms > 0 ? new Date(ms).toISOString() : "-";
}

/** Columns padded to their widest cell, two spaces apart (the last one not padded). */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}

/** JSON on one line, bytes as base64. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v instanceof Uint8Array ? Buffer.from(v).toString("base64") : v,
  );
}

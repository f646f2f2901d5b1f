/// <reference lib="dom" />
/**
 * The dashboard's spill panel (bundled with app.ts; issue 16): a gauge of the spill files' disk use
 * against the budget (--spill-max), spilled objects and bytes, restores and the victims dropped for want
 * of disk. Fed by each /v1/feed tick; hidden when the store runs without a spill directory.
 */
import type { SpillStatsView } from "../spill-view.ts";

type SetBytes = (el: HTMLElement, bytes: number) => void;

function byId(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`no #${id} on the page`);
  return el;
}

/** Shows the tick's spill figures (or hides the panel when the store does not spill). */
export function renderSpill(spill: SpillStatsView | null, setBytes: SetBytes): void {
  const section = byId("spill");
  section.hidden = spill === null;
  if (spill === null) return;
  const budget = spill.diskBudgetBytes;
  const percent = budget > 0 ? Math.min(100, (100 * spill.diskUsedBytes) / budget) : 100;
  const gauge = byId("spill-gauge");
  gauge.dataset.usedBytes = String(spill.diskUsedBytes);
  gauge.dataset.budgetBytes = String(budget);
  gauge.dataset.full = percent >= 90 ? "1" : "0";
  byId("spill-gauge-used").style.width = `${percent}%`;
  setBytes(byId("spill-disk-used"), spill.diskUsedBytes);
  setBytes(byId("spill-budget"), budget);
  byId("spill-percent").textContent = `${percent.toFixed(1)}% of the budget`;
  byId("spilled-objects").textContent = String(spill.spilledObjects);
  setBytes(byId("spilled-bytes"), spill.spilledBytes);
  byId("spill-restores").textContent = String(spill.restores);
  const d = spill.drops;
  const drops = byId("spill-drops");
  drops.textContent = String(d.budget + d.diskFull + d.ioError);
  drops.title = `${d.budget} over the budget, ${d.diskFull} disk full, ${d.ioError} I/O errors`;
  byId("spill-in-flight").textContent =
    `${spill.spillsInFlight} being written, ${spill.restoresInFlight} being restored`;
}

/**
 * The costs chart's series, as the panel answers `costs`: the counters of the steps the webview was
 * shown (exact, kept by the panel) merged with the samples the source took as steps ran
 * (`xpl/costs`, src/debug/custom.ts CostSamples), so that a seek or a jump does not draw a straight
 * line over the steps in between. Bounded: at most COST_POINTS_MAX points, evenly thinned.
 * (No vscode import: the webview tests' fake host answers with the same function.)
 */
import type { Costs } from '../../shared/protocol';

/** The most points one `costs` answer carries (about the chart's width in pixels). */
export const COST_POINTS_MAX = 1024;

export interface CostPoint { step: number; costs: Costs }

/**
 * `visited` and `sampled` merged by step (a visited step's counters win; steps are deterministic, so
 * they agree), ascending. Past `max` points, evenly spaced ones are kept, with the first, the last
 * and `current` (the chart labels the counters at the current step from the series).
 */
export function costSeries(visited: ReadonlyMap<number, Costs>, sampled: readonly CostPoint[], current: number | null, max = COST_POINTS_MAX): CostPoint[] {
  const all = new Map<number, Costs>();
  for (const s of sampled) {
    all.set(s.step, s.costs);
  }
  for (const [step, costs] of visited) {
    all.set(step, costs);
  }
  const sorted = [...all].sort((a, b) => a[0] - b[0]).map(([step, costs]) => ({ step, costs }));
  if (sorted.length <= max) {
    return sorted;
  }
  const keep = new Set<number>();
  const n = sorted.length;
  const room = Math.max(2, max - 1);
  for (let i = 0; i < room; i++) {
    keep.add(Math.round((i * (n - 1)) / (room - 1)));
  }
  if (current !== null) {
    // The last point at or before the current step: the one the labels read.
    let at = -1;
    for (let i = 0; i < n && sorted[i].step <= current; i++) {
      at = i;
    }
    if (at >= 0) {
      keep.add(at);
    }
  }
  return [...keep].sort((a, b) => a - b).map((i) => sorted[i]);
}

/**
 * Keeps the panel's record of visited steps bounded (a long play visits every step): past `max`
 * entries, every other one is dropped, oldest first, but never `current`.
 */
export function thinVisited(visited: Map<number, Costs>, current: number, max = 4 * COST_POINTS_MAX): void {
  if (visited.size <= max) {
    return;
  }
  const steps = [...visited.keys()].sort((a, b) => a - b);
  steps.forEach((s, i) => {
    if (i % 2 === 1 && s !== current) {
      visited.delete(s);
    }
  });
}

/**
 * Comparing dirty-tracking designs on one trace, side by side — where the answers differ, which
 * invariants break, and what each design spends (every counter, and the cycles of the guest and of
 * dom0). A design that needs another paging mode than the trace declares runs with the domains
 * switched to it (shadow for the 2007 designs and sl1ma, HAP for the p2m designs). `xpl compare`
 * runs it at once; the extension's Compare Trackers runs the same designs with the same options in
 * slices (src/extension/runner.ts) and builds the same rows.
 */
import { createEngine } from '../sim/engine';
import type { EngineApi } from '../sim/api';
import { TRACKERS, TraceError, type BugId, type Program, type RunOptions, type TrackerId } from '../sim/program';
import type { AnswerRecord, CostTotals, Report } from '../sim/report';

export interface CompareRow {
  tracker: TrackerId;
  /** The paging the domains ran under (adapted to the design), comma-separated; '-' for none. */
  paging: string;
  /** Set when the trace could not run to its end under this design (the counts are up to there). */
  error?: string;
  answers: number;
  /** Pages changed but not reported, summed over the answers. */
  missedPages: number;
  /** Pages reported but not written, summed over the answers. */
  extraPages: number;
  violations: Record<string, number>;
  costs: CostTotals;
  expectsFailed: number;
}

export interface AnswerDiff {
  line: number;
  fb: string;
  /** The n-th answer of this framebuffer at that line (a line in a `repeat` answers many times). */
  occurrence: number;
  byTracker: Record<string, string>;
}

export interface CompareResult {
  trace: string;
  trackers: TrackerId[];
  rows: CompareRow[];
  differences: AnswerDiff[];
  /** Answers compared in total (per tracker); differences are capped at 200. */
  answersCompared: number;
}

export const DEFAULT_COMPARE: TrackerId[] = ['memcmp', 'dbit-2007', 'linear-2007', 'sl1ma', 'logdirty-2009', 'p2m-type', 'multi-fb'];

function describe(a: AnswerRecord): string {
  if (a.kind !== 'bitmap') {
    return a.kind;
  }
  return a.dirty.length ? a.dirty.join(',') : 'none';
}

/** The engine options of one design in a comparison. */
export function designOptions(tracker: TrackerId, options: Omit<RunOptions, 'tracker' | 'adaptPaging'> = {}): RunOptions {
  if (!(TRACKERS as readonly string[]).includes(tracker)) {
    throw new Error(`unknown tracker '${tracker}'`);
  }
  return { ...options, tracker, adaptPaging: true, checkpointInterval: 0 };
}

/** One design's row, from its engine after the run (or after it stopped with `error`) and its report. */
export function compareRow(tracker: TrackerId, engine: EngineApi, error?: string, r: Report = engine.report()): CompareRow {
  const violations: Record<string, number> = {};
  for (const v of r.violations) {
    violations[v.id] = (violations[v.id] ?? 0) + 1;
  }
  return {
    tracker,
    paging: [...new Set(engine.summary().domains.map((d) => d.paging))].join(',') || '-',
    ...(error !== undefined ? { error } : {}),
    answers: r.answers.length,
    missedPages: r.answers.reduce((n, a) => n + a.missed.length, 0),
    extraPages: r.answers.reduce((n, a) => n + a.extra.length, 0),
    violations,
    costs: r.costs,
    expectsFailed: r.expects.failed.length,
  };
}

/** Why a design stopped, as its row's `error` (one design's failure never stops the others). */
export function stoppedBy(err: unknown): string {
  return err instanceof TraceError ? err.message : String(err);
}

export function compareTrackers(program: Program, trackers: TrackerId[] = DEFAULT_COMPARE, inject: BugId[] = []): CompareResult {
  const rows: CompareRow[] = [];
  const reports = new Map<TrackerId, Report>();
  for (const tracker of trackers) {
    const e = createEngine(program, designOptions(tracker, { inject }));
    let error: string | undefined;
    try {
      e.run({});
    } catch (err) {
      error = stoppedBy(err);
    }
    const r = e.report();
    reports.set(tracker, r);
    rows.push(compareRow(tracker, e, error, r));
  }
  // Align answers by (line, fb, occurrence).
  const keyed = new Map<string, Record<string, string>>();
  const order: { key: string; line: number; fb: string; occurrence: number }[] = [];
  for (const [tracker, r] of reports) {
    const seen = new Map<string, number>();
    for (const a of r.answers) {
      const k0 = `${a.line}:${a.fb}`;
      const occ = (seen.get(k0) ?? 0) + 1;
      seen.set(k0, occ);
      const key = `${k0}:${occ}`;
      let rec = keyed.get(key);
      if (!rec) {
        rec = {};
        keyed.set(key, rec);
        order.push({ key, line: a.line, fb: a.fb, occurrence: occ });
      }
      rec[tracker] = describe(a);
    }
  }
  const differences: AnswerDiff[] = [];
  for (const o of order) {
    const rec = keyed.get(o.key)!;
    const values = new Set(trackers.map((t) => rec[t] ?? '-'));
    if (values.size > 1 && differences.length < 200) {
      differences.push({ line: o.line, fb: o.fb, occurrence: o.occurrence, byTracker: Object.fromEntries(trackers.map((t) => [t, rec[t] ?? '-'])) });
    }
  }
  return { trace: program.file, trackers, rows, differences, answersCompared: order.length };
}

const COLS: (keyof CostTotals)[] = ['vmexits', 'eptViolations', 'shadowFaults', 'ptEmulations', 'hypercalls', 'pteScans', 'p2mTypeChanges', 'tlbFlushes', 'tlbRefills', 'pmlDrains', 'bytesCompared', 'bytesCopied', 'rangesetNodesVisited', 'guestCycles', 'dom0Cycles', 'cycles'];

/** A readable table (plain text). */
export function formatCompare(c: CompareResult): string {
  const out: string[] = [];
  out.push(`${c.trace}: ${c.trackers.length} designs, ${c.answersCompared} answers each`);
  out.push('');
  const head = ['tracker', 'paging', ...COLS, 'violations'];
  const table: string[][] = [head];
  for (const r of c.rows) {
    const v = Object.entries(r.violations).map(([k, n]) => `${k}×${n}`).join(' ') || (r.error ? 'error' : 'none');
    table.push([r.tracker, r.paging, ...COLS.map((k) => (r.costs ? String(r.costs[k]) : '-')), v]);
  }
  const widths = head.map((_, i) => Math.max(...table.map((row) => row[i].length)));
  for (const row of table) {
    out.push(row.map((cell, i) => (i < 2 || i === row.length - 1 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  '));
  }
  const base = c.rows.find((r) => r.tracker === 'dbit-2007' && r.costs) ?? c.rows.find((r) => r.costs);
  if (base && base.costs && base.costs.dom0Cycles > 0) {
    out.push('');
    out.push(`dom0 cycles relative to ${base.tracker}: ` + c.rows.filter((r) => r.costs).map((r) => `${r.tracker} ${(r.costs!.dom0Cycles / base.costs!.dom0Cycles).toFixed(2)}×`).join(', '));
  }
  for (const r of c.rows) {
    if (r.error) {
      out.push(`${r.tracker}: stopped: ${r.error}`);
    }
  }
  out.push('');
  if (c.differences.length === 0) {
    out.push('Every design gave the same answers.');
  } else {
    out.push(`Answers that differ (${c.differences.length}${c.differences.length === 200 ? '+' : ''}):`);
    for (const d of c.differences.slice(0, 50)) {
      out.push(`  line ${d.line} ${d.fb}${d.occurrence > 1 ? ` (#${d.occurrence})` : ''}: ` + Object.entries(d.byTracker).map(([t, v]) => `${t}=${v}`).join('  '));
    }
  }
  return out.join('\n') + '\n';
}

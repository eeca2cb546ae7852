/**
 * Running traces for Run Trace, Compare Trackers and Export Report, without `vscode`: the engine runs
 * in slices so the extension host keeps answering, and the tracker comparison is plain data.
 */
import { createEngine } from '../sim/engine';
import type { EngineApi } from '../sim/api';
import type { Program, RunOptions } from '../sim/program';
import type { Report } from '../sim/report';
import { DEFAULT_COMPARE, compareRow, designOptions, stoppedBy, type CompareRow } from '../trace/compare';
import type { CompareRow as ProtocolCompareRow } from '../shared/protocol';

/** Milliseconds the engine may run before yielding to the event loop. */
const SLICE_MS = 20;

export interface RunControl {
  /** Checked between slices. */
  cancelled?: () => boolean;
  /** Called between slices with the number of steps so far. */
  progress?: (steps: number) => void;
}

/** Run to the end in slices. Throws TraceError (from the engine) for a statement it cannot run. */
export async function runToEnd(program: Program, options: RunOptions, control: RunControl = {}): Promise<EngineApi> {
  const engine = createEngine(program, options);
  await runSliced(engine, control);
  return engine;
}

/** Run an engine to its end in slices (see `runToEnd`). */
async function runSliced(engine: EngineApi, control: RunControl): Promise<void> {
  engine.recordEvents = false;
  while (!engine.done) {
    if (control.cancelled?.()) {
      throw new Error('cancelled');
    }
    engine.run({ deadline: performance.now() + SLICE_MS });
    control.progress?.(engine.stepCount);
    if (!engine.done) {
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
}

/**
 * Compare Trackers: every design of `xpl compare` (DEFAULT_COMPARE), each with the same options
 * (src/trace/compare.ts: paging adapted to the design), run in slices; the same rows. A design that
 * stops on a trace error gives a row with `error` and its counts up to there.
 */
export async function compareTrackers(program: Program, options: Omit<RunOptions, 'tracker' | 'adaptPaging'>, control: RunControl = {}): Promise<CompareRow[]> {
  const rows: CompareRow[] = [];
  for (const tracker of DEFAULT_COMPARE) {
    const engine = createEngine(program, designOptions(tracker, options));
    let error: string | undefined;
    try {
      await runSliced(engine, control);
    } catch (e) {
      if (e instanceof Error && e.message === 'cancelled') {
        throw e;
      }
      error = stoppedBy(e);
    }
    rows.push(compareRow(tracker, engine, error));
  }
  return rows;
}

/** The rows as the visualizer's protocol carries them (src/shared/protocol.ts). */
export function protocolCompareRows(rows: readonly CompareRow[]): ProtocolCompareRow[] {
  return rows.map((r) => ({
    tracker: r.tracker, paging: r.paging, costs: { ...r.costs }, answers: r.answers, missed: r.missedPages, extra: r.extraPages,
    violations: Object.values(r.violations).reduce((a, b) => a + b, 0), ...(r.error !== undefined ? { error: r.error } : {}),
  }));
}

/** A readable summary of a report for the output channel (plain text). */
export function formatReport(report: Report): string {
  const out: string[] = [];
  out.push(`${report.trace}: ${report.steps} steps, tracker ${report.tracker}`);
  for (const a of report.answers) {
    const pages = a.kind === 'bitmap' ? `[${a.dirty.join(',')}]` : a.kind;
    const missed = a.missed.length ? `  MISSED [${a.missed.join(',')}]` : '';
    out.push(`  line ${a.line}: ${a.refresh ? 'refresh' : 'peek'} ${a.fb} → ${pages}${missed}`);
  }
  if (report.violations.length) {
    out.push(`violations (${report.violations.length}):`);
    for (const v of report.violations) {
      out.push(`  line ${v.line}: ${v.id}: ${v.message}`);
    }
  } else {
    out.push('violations: none');
  }
  out.push(`expects: ${report.expects.passed} passed, ${report.expects.failed.length} failed`);
  for (const f of report.expects.failed) {
    out.push(`  line ${f.line}: ${f.message}`);
  }
  const costs = Object.entries(report.costs).filter(([, v]) => v !== 0).map(([k, v]) => `${k}=${v}`);
  out.push(`costs: ${costs.length ? costs.join(' ') : 'all zero'}`);
  return out.join('\n');
}

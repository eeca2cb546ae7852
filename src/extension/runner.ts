/**
 * Running traces for Run Trace, Compare Trackers and Export Report, without `vscode`: the engine runs
 * in slices so the extension host keeps answering, and the tracker comparison is plain data.
 */
import { createEngine } from '../sim/engine';
import type { EngineApi } from '../sim/api';
import { TraceError, type Paging, type Program, type RunOptions, type TrackerId } from '../sim/program';
import type { Report } from '../sim/report';
import { TRACKER_DOCS } from '../trace/keywords';

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
  return engine;
}

/** Paging modes of the trace's domains, in order of declaration. */
export function pagingModes(program: Program): Paging[] {
  return program.statements.withOp('domain').map((s) => s.paging);
}

/** Trackers that fit every domain of the trace (what `--tracker` accepts for it). */
export function applicableTrackers(program: Program): TrackerId[] {
  const modes = new Set(pagingModes(program));
  return (Object.keys(TRACKER_DOCS) as TrackerId[]).filter((t) => {
    const p = TRACKER_DOCS[t].paging;
    return p === 'any' || (modes.size > 0 && [...modes].every((m) => m === p));
  });
}

export interface CompareRow {
  tracker: TrackerId;
  /** Set when this tracker could not run the trace (unsupported, not implemented, ...). */
  error?: string;
  report?: Report;
  answers: number;
  /** Pages changed but not reported, summed over answers. */
  missedPages: number;
  /** Pages reported but not written, summed over bitmap answers. */
  extraPages: number;
  violations: Record<string, number>;
  expectsFailed: number;
  hypercalls: number;
  vmexits: number;
  tlbFlushes: number;
  guestCycles: number;
  dom0Cycles: number;
  cycles: number;
}

export function compareRow(tracker: TrackerId, report: Report): CompareRow {
  const violations: Record<string, number> = {};
  for (const v of report.violations) {
    violations[v.id] = (violations[v.id] ?? 0) + 1;
  }
  return {
    tracker,
    report,
    answers: report.answers.length,
    missedPages: report.answers.reduce((n, a) => n + a.missed.length, 0),
    extraPages: report.answers.reduce((n, a) => n + a.extra.length, 0),
    violations,
    expectsFailed: report.expects.failed.length,
    hypercalls: report.costs.hypercalls,
    vmexits: report.costs.vmexits,
    tlbFlushes: report.costs.tlbFlushes,
    guestCycles: report.costs.guestCycles,
    dom0Cycles: report.costs.dom0Cycles,
    cycles: report.costs.cycles,
  };
}

/** Run the trace once per applicable tracker. Failures of one tracker become a row with `error`. */
export async function compareTrackers(program: Program, options: Omit<RunOptions, 'tracker'>, control: RunControl = {}): Promise<CompareRow[]> {
  const rows: CompareRow[] = [];
  for (const tracker of applicableTrackers(program)) {
    try {
      const engine = await runToEnd(program, { ...options, tracker, checkpointInterval: 0 }, control);
      rows.push(compareRow(tracker, engine.report()));
    } catch (e) {
      if (e instanceof Error && e.message === 'cancelled') {
        throw e;
      }
      rows.push({
        tracker, error: e instanceof TraceError ? e.message : String(e instanceof Error ? e.message : e),
        answers: 0, missedPages: 0, extraPages: 0, violations: {}, expectsFailed: 0, hypercalls: 0, vmexits: 0, tlbFlushes: 0, guestCycles: 0, dom0Cycles: 0, cycles: 0,
      });
    }
  }
  return rows;
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

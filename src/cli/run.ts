/** Running a trace to the end with the engine (`xpl run`, `xpl check`). */
import { createEngine } from '../sim/engine';
import { SimError, TraceError, type BugId, type Program, type TrackerId } from '../sim/program';
import type { Report } from '../sim/report';
import { TRACKER_DOCS } from '../trace/keywords';

export interface RunFlags { tracker?: TrackerId; inject: BugId[] }

/** `--tracker T` must fit every domain's paging (the spec makes a mismatch an error). */
export function checkTrackerOverride(program: Program, tracker: TrackerId | undefined): void {
  if (!tracker) {
    return;
  }
  const need = TRACKER_DOCS[tracker].paging;
  for (const s of program.statements.withOp('domain')) {
    if (need !== 'any' && s.paging !== need) {
      throw new TraceError(program.file, s.pos.line, s.pos.args?.['paging'] ?? s.pos.col,
        `--tracker ${tracker} needs paging=${need}, but domain '${s.name}' uses paging=${s.paging}`);
    }
  }
}

/** Run the program to its end and return the report. Throws TraceError for a step the model refuses. */
export function runProgram(program: Program, flags: RunFlags): Report {
  checkTrackerOverride(program, flags.tracker);
  const engine = createEngine(program, { ...(flags.tracker ? { tracker: flags.tracker } : {}), inject: flags.inject, checkpointInterval: 0 });
  for (;;) {
    const at = engine.nextIndex;
    try {
      const r = engine.run({ maxSteps: 1_000_000 });
      if (r.reason === 'done' || engine.done) {
        break;
      }
    } catch (e) {
      if (e instanceof SimError) {
        const idx = engine.nextIndex ?? at;
        const st = idx !== null ? program.statements.at(idx) : undefined;
        const col = st ? (e.arg !== undefined ? st.pos.args?.[e.arg] : undefined) ?? st.pos.col : 1;
        throw new TraceError(program.file, st?.pos.line ?? 1, col, e.message);
      }
      throw e;
    }
  }
  return engine.report();
}

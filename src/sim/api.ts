/**
 * The engine's public surface: what the CLI, the debug adapter and the visualizer's host use.
 * `createEngine(program, options)` (src/sim/engine.ts) returns one of these.
 *
 * Time travel: `seek(n)` puts the model in the state after n executed steps by restoring the nearest
 * checkpoint at or before n and replaying; it is exact (replay is deterministic).
 * Slicing: `run()` executes at most `maxSteps` statements or until `deadline` (a `performance.now()`
 * value) passes, so callers on the extension host can yield between slices.
 */
import type { Program, RunOptions } from './program';
import type { CostTotals, Report, StepOutcome } from './report';
import type {
  BitmapView, EptView, ScreenView, StateSummary, TlbEntryView, TrackerView, WalkView,
} from './inspect';

export interface RunResult {
  /** Outcomes of the steps run (only when `collect` was set). */
  outcomes: StepOutcome[];
  /** Why it stopped. */
  reason: 'done' | 'stop' | 'budget';
  /** The outcome that satisfied `stop`, if any. */
  stopped?: StepOutcome;
}

export interface EngineApi {
  readonly program: Program;
  readonly options: RunOptions;
  /** Number of steps executed so far (the position in time). */
  readonly stepCount: number;
  /** Index into program.statements of the statement that runs next; null when the trace is finished. */
  readonly nextIndex: number | null;
  /**
   * Index into program.statements of the last statement run that names a vCPU and a VA (a store, a
   * load, a mapping, a PTE edit, an invlpg); null before the first. Views that follow the trace show it.
   */
  readonly focusIndex: number | null;
  readonly done: boolean;
  /** Collect per-step events (tlb-hit, shadow-fault, ...). Off for bulk runs; on for the debugger. */
  recordEvents: boolean;

  /** Execute one statement. Throws TraceError for a statement the model cannot carry out. */
  step(): StepOutcome;
  /** Run forward. `stop` is tested after each step. */
  run(opts: { maxSteps?: number; deadline?: number; stop?: (o: StepOutcome) => boolean; collect?: boolean }): RunResult;
  /** Go to the state after `step` executed steps (0 = before the first). */
  seek(step: number): void;
  /** The steps the checkpoints hold, ascending (a seek restores the nearest one at or before its step). */
  checkpointSteps(): number[];

  report(): Report;
  summary(): StateSummary;
  /** The cost counters now (`summary().costs` without the rest of the summary: cheap enough to sample while running). */
  costTotals(): CostTotals;
  tlb(vcpu: string): TlbEntryView[];
  walk(vcpu: string, va: number): WalkView;
  p2m(dom: string, gfn: number, count: number): EptView[];
  bitmap(fb: string, start: number, count: number): BitmapView;
  tracker(fb: string): TrackerView | null;
  screen(fb: string): ScreenView;
  /** 4096 bytes of a guest frame (zeros if never written). */
  readGuest(dom: string, gfn: number): Uint8Array;
  /** 4096 bytes of a machine frame: guest RAM/VRAM bytes, or a shadow table's entries encoded as 8-byte PTEs. */
  readMachine(mfn: number): Uint8Array;
  /** Number of dirty pages the tracker would report right now without answering (for conditions). */
  dirtyCount(fb: string): number;
  /** A hash of the whole model state (determinism tests). */
  stateHash(): string;
}

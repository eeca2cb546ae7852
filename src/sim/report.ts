/** The report of a run (`xpl run --json`), as fixed by the trace spec, plus the step outcome types. */
import type { CounterName, InvariantId } from './program';

export type AnswerKind = 'bitmap' | 'all' | 'enodata';

export interface AnswerRecord {
  line: number;
  fb: string;
  kind: AnswerKind;
  dirty: number[];
  written: number[];
  changed: number[];
  missed: number[];
  late: number[];
  extra: number[];
  refresh?: true;
  stale?: number[];
  /** Which tracker answered (useful under `mixed`). */
  tracker?: string;
}

export interface ViolationRecord {
  line: number;
  id: InvariantId;
  fb?: string;
  pages?: number[];
  vcpu?: string;
  va?: string;
  gfn?: number;
  mfn?: number;
  message: string;
}

export interface LogdirtyRecord { line: number; dom: string; op: 'peek' | 'clean'; dirty: number[] }
export interface IoreqRecord { line: number; op: 'access' | 'map' | 'unmap'; server: string | null; result?: string }

export type CostTotals = Record<CounterName | 'guestCycles' | 'dom0Cycles' | 'cycles', number>;

export interface Report {
  trace: string;
  tracker: string;
  steps: number;
  answers: AnswerRecord[];
  violations: ViolationRecord[];
  logdirty: LogdirtyRecord[];
  ioreq: IoreqRecord[];
  expects: { passed: number; failed: { line: number; message: string }[] };
  costs: CostTotals;
  /**
   * The first executed notes (not a fixed field of the spec): at most 10,000 of them and 1 MiB of
   * their text; `notesOmitted` counts the executed notes after those (engine.ts, NOTES_MAX).
   */
  notes?: { line: number; text: string }[];
  notesOmitted?: number;
}

/**
 * The report as `xpl run --json` prints it: the spec's fixed fields in its order — a violation is
 * `{line, id, fb, pages, message}` (`fb` null and `pages` empty when it concerns no framebuffer),
 * then what it adds (`vcpu`, `va`, `gfn`, `mfn`).
 */
export function reportJson(r: Report): string {
  const violations = r.violations.map(({ line, id, fb, pages, message, ...rest }) => ({ line, id, fb: fb ?? null, pages: pages ?? [], message, ...rest }));
  return JSON.stringify({ ...r, violations });
}

/**
 * One thing that happened inside a step, named after the Xen/QEMU/CPU function that does it. The
 * debugger's call stack and step-in, and the visualizer's timeline, are built from these.
 */
export type EventKind =
  | 'tlb-hit' | 'tlb-miss' | 'tlb-fill' | 'walk' | 'ad-update' | 'store' | 'load'
  | 'vmexit' | 'shadow-fault' | 'propagate' | 'set-l1e' | 'make-shadow' | 'destroy-shadow' | 'emulate'
  | 'remove-write-access' | 'ept-violation' | 'ept-misconfig' | 'p2m-type-change' | 'pml-log' | 'pml-drain'
  | 'tlb-flush' | 'flush-skipped' | 'invlpg' | 'cr3' | 'peek' | 'peek-page' | 'hypercall' | 'answer' | 'refresh'
  | 'logdirty' | 'ioreq' | 'dma' | 'violation' | 'note' | 'tick' | 'setup';

export interface SimEvent {
  kind: EventKind;
  /** The source function it corresponds to, e.g. `sh_page_fault`, `_sh_propagate`, `ept_handle_violation`. */
  fn: string;
  /** Nesting depth under the statement (0 = directly under it): the call stack is made from it. */
  depth: number;
  detail: string;
  vcpu?: string;
  /** The domain it concerns, when that is all it names (a flush of every vCPU's TLB). */
  dom?: string;
  va?: number;
  gfn?: number;
  mfn?: number;
  page?: number;
  fb?: string;
}

export interface StepOutcome {
  /** Index into program.statements of the statement that ran. */
  index: number;
  line: number;
  /** 1-based number of this step in the run. */
  step: number;
  events: SimEvent[];
  violations: ViolationRecord[];
  answer?: AnswerRecord;
  note?: string;
  expectFailure?: string;
}

/**
 * Custom DAP requests and events of the `xpl` debug adapter: how the visualizer (and any other
 * client) reads the model's state by parts and follows the session. Byte arrays travel as base64.
 * Request names are `xpl/<name>`; each maps onto one EngineApi method (src/sim/api.ts).
 */
import type { EptView, StateSummary, TlbEntryView, TrackerView, WalkView } from '../sim/inspect';
import type { EventKind, StepOutcome } from '../sim/report';
import type { EngineApi } from '../sim/api';

export interface CustomRequests {
  'xpl/summary': { args: Record<string, never>; result: StateSummary };
  'xpl/tlb': { args: { vcpu: string }; result: { entries: TlbEntryView[] } };
  'xpl/walk': { args: { vcpu: string; va: number }; result: WalkView };
  'xpl/p2m': { args: { dom: string; gfn: number; count: number }; result: { entries: EptView[] } };
  /** `state` is base64 of one byte per page (PAGE_* bits of src/sim/inspect.ts). */
  'xpl/bitmap': { args: { fb: string; start: number; count: number }; result: { fb: string; start: number; count: number; pages: number; state: string; lastAnswerLine: number | null } };
  'xpl/tracker': { args: { fb: string }; result: TrackerView | null };
  /** `guest` and `screen` are base64 of 32 bpp pixels (0x00RRGGBB little-endian), row-major. */
  'xpl/screen': { args: { fb: string }; result: { fb: string; width: number; height: number; guest: string; screen: string } };
  /** Marks for steps [from, to): one per step that had notable events. */
  /**
   * `total` is the highest step known so far (the whole trace's step count once `complete`, i.e. once
   * the session has reached the end of the trace).
   */
  'xpl/timeline': { args: { from: number; to: number }; result: { total: number; complete?: boolean; marks: TimelineMark[] } };
  /** Time travel to the state after `step` steps; the adapter then sends a `stopped` event (reason `goto`). */
  'xpl/seek': { args: { step: number }; result: { step: number } };
  /**
   * Cost counters sampled as steps ran (CostSamples: every stride-th step, at most COST_SAMPLES_MAX),
   * ascending by step; with the steps a client saw, they chart the costs also across a jump.
   */
  'xpl/costs': { args: Record<string, never>; result: { series: CostSample[] } };
}

export interface CostSample { step: number; costs: Record<string, number> }

/** The most cost samples a source keeps (and `xpl/costs` answers). */
export const COST_SAMPLES_MAX = 2048;

/**
 * The cost counters after every `stride`-th step that ran, the stride doubling (every other sample
 * dropped) whenever more than `max` are held: a bounded picture of a trace of any length. Steps are
 * deterministic, so a sample taken once holds for any later visit (time travel replays the same).
 */
export class CostSamples {
  private stride = 1;
  private readonly samples = new Map<number, Record<string, number>>();

  constructor(private readonly max = COST_SAMPLES_MAX) {}

  /** The state after `step` steps is current: keep `read()` if the step is on the stride (read only then). */
  note(step: number, read: () => Record<string, number>): void {
    if (step % this.stride !== 0 || this.samples.has(step)) {
      return;
    }
    this.samples.set(step, { ...read() });
    if (this.samples.size > this.max) {
      this.stride *= 2;
      for (const s of [...this.samples.keys()]) {
        if (s % this.stride !== 0) {
          this.samples.delete(s);
        }
      }
    }
  }

  clear(): void {
    this.stride = 1;
    this.samples.clear();
  }

  /** Ascending by step. */
  list(): CostSample[] {
    return [...this.samples].sort((a, b) => a[0] - b[0]).map(([step, costs]) => ({ step, costs }));
  }
}

/** Every custom request name, for clients that want to check what the adapter answers. */
export const CUSTOM_REQUESTS: readonly (keyof CustomRequests)[] = [
  'xpl/summary', 'xpl/tlb', 'xpl/walk', 'xpl/p2m', 'xpl/bitmap', 'xpl/tracker', 'xpl/screen', 'xpl/timeline', 'xpl/seek', 'xpl/costs',
];

export interface TimelineMark { step: number; line: number; kinds: EventKind[]; violation?: string }

/** Events every store or load has: not worth a timeline mark. */
const ROUTINE_EVENTS: ReadonlySet<EventKind> = new Set<EventKind>(['tlb-hit', 'store', 'load', 'walk']);

/** The timeline mark of a step: its notable event kinds, violations and note; null for a routine step. */
export function timelineMark(o: StepOutcome): TimelineMark | null {
  const kinds = [...new Set(o.events.filter((e) => !ROUTINE_EVENTS.has(e.kind)).map((e) => e.kind))];
  if (!kinds.length && !o.violations.length && o.note === undefined) {
    return null;
  }
  const mark: TimelineMark = { step: o.step, line: o.line, kinds };
  if (o.violations.length) {
    // Each id once, with its count when it repeats (a draw through a stale entry is one stale-tlb
    // record per pixel store).
    const counts = new Map<string, number>();
    for (const v of o.violations) {
      counts.set(v.id, (counts.get(v.id) ?? 0) + 1);
    }
    mark.violation = [...counts].map(([id, n]) => (n > 1 ? `${id}×${n}` : id)).join(',');
  }
  return mark;
}

/** Sent after every stop, so followers can refresh without polling. */
export interface SteppedEventBody {
  step: number; line: number | null; done: boolean;
  /** `vcpu` or `dom`: whose state the event concerns, when it says (a flush names the domain whose TLBs it emptied). */
  events: { kind: EventKind; fn: string; detail: string; vcpu?: string; dom?: string }[];
}
export const STEPPED_EVENT = 'xpl/stepped';

/** The `xpl/stepped` body for the state after `engine.stepCount` steps; `o`: that step's outcome, when known. */
export function steppedBody(engine: EngineApi, o: StepOutcome | null, line: number | null): SteppedEventBody {
  return {
    step: engine.stepCount, line, done: engine.done,
    events: (o?.events ?? []).map((e) => ({
      kind: e.kind, fn: e.fn, detail: e.detail, ...(e.vcpu !== undefined ? { vcpu: e.vcpu } : {}), ...(e.dom !== undefined ? { dom: e.dom } : {}),
    })),
  };
}

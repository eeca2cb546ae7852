/**
 * The visualizer's own engine, for a trace opened without the debugger: step, back, play and seek
 * through time travel (checkpoint + replay). The first pass runs the trace to its end in slices to
 * learn its length and timeline marks, then goes back to step 0.
 */
import * as vscode from 'vscode';
import { CostSamples, steppedBody, timelineMark, type CustomRequests, type SteppedEventBody, type TimelineMark } from '../../debug/custom';
import type { EngineApi } from '../../sim/api';
import { createEngine } from '../../sim/engine';
import type { Program, RunOptions } from '../../sim/program';
import type { StepOutcome } from '../../sim/report';
import type { SourceInfo } from '../../shared/protocol';
import type { RequestName, VisualizerSource } from './source';

const SLICE_MS = 20;
/** The first pass stops learning marks past this many steps (the timeline then grows as you go). */
const SCAN_LIMIT = 1_000_000;


function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

export class EngineSource implements VisualizerSource {
  readonly info: SourceInfo;
  private readonly engine: EngineApi;
  private readonly marks = new Map<number, TimelineMark>();
  /** Cost counters as the first pass (and later seeks) ran the steps: the costs chart across jumps. */
  private readonly costSamples = new CostSamples();
  private maxStep = 0;
  /** The first pass reached the end (or a statement the model cannot run): `maxStep` is the whole length. */
  private complete = false;
  private last: StepOutcome | null = null;
  private readonly emitter = new vscode.EventEmitter<SteppedEventBody>();
  readonly onDidStep = this.emitter.event;
  private disposed = false;
  private readonly scanned: Promise<void>;

  constructor(private readonly prog: Program, private readonly options: RunOptions, title: string) {
    this.info = { mode: 'engine', title };
    this.engine = createEngine(prog, { checkpointInterval: 1000, ...options });
    this.engine.recordEvents = true;
    this.costSamples.note(0, () => this.engine.costTotals());
    this.scanned = this.scan();
  }

  /** Runs to the end once, in slices, recording marks; then back to the start. */
  private async scan(): Promise<void> {
    const e = this.engine;
    try {
      while (!e.done && !this.disposed && e.stepCount < SCAN_LIMIT) {
        // One step at a time (each outcome is the step's own), yielding every slice.
        const deadline = performance.now() + SLICE_MS;
        while (!e.done && e.stepCount < SCAN_LIMIT && performance.now() < deadline) {
          this.note(e.step());
        }
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      this.complete = e.done;
    } catch {
      // A statement the model cannot run: the timeline ends there; stepping onto it reports the error.
      this.complete = true;
    }
    this.maxStep = Math.max(this.maxStep, e.stepCount);
    e.seek(0);
    this.last = null;
  }

  /** After step `o` ran (the engine is in the state after it). */
  private note(o: StepOutcome): void {
    this.last = o;
    this.costSamples.note(o.step, () => this.engine.costTotals());
    this.maxStep = Math.max(this.maxStep, o.step);
    const m = timelineMark(o);
    if (m) {
      this.marks.set(o.step, m);
    }
  }

  private line(): number | null {
    const i = this.engine.nextIndex;
    return i === null ? null : this.prog.statements.lineAt(i);
  }

  /** Goes to the state after `step` steps; the step itself is replayed so its events are known. */
  private async seek(step: number): Promise<number> {
    await this.scanned;
    const e = this.engine;
    if (step > 0) {
      e.seek(step - 1);
      if (e.done) {
        throw new Error(`step ${step} is past the end of the trace (${e.stepCount} steps)`);
      }
      this.note(e.step());
    } else {
      e.seek(0);
      this.last = null;
    }
    const o = this.last && this.last.step === e.stepCount ? this.last : null;
    this.emitter.fire(steppedBody(e, o, this.line()));
    return e.stepCount;
  }

  async request<K extends RequestName>(name: K, args: CustomRequests[K]['args']): Promise<CustomRequests[K]['result']> {
    await this.scanned;
    const e = this.engine;
    const a = args as Record<string, never>;
    const r = (v: unknown): CustomRequests[K]['result'] => v as CustomRequests[K]['result'];
    switch (name) {
      case 'xpl/summary': return r(e.summary());
      case 'xpl/tlb': return r({ entries: e.tlb(a.vcpu) });
      case 'xpl/walk': return r(e.walk(a.vcpu, a.va));
      case 'xpl/p2m': return r({ entries: e.p2m(a.dom, a.gfn, a.count) });
      case 'xpl/bitmap': {
        const b = e.bitmap(a.fb, a.start, a.count);
        return r({ ...b, state: b64(b.state) });
      }
      case 'xpl/tracker': return r(e.tracker(a.fb));
      case 'xpl/screen': {
        const s = e.screen(a.fb);
        return r({ ...s, guest: b64(s.guest), screen: b64(s.screen) });
      }
      case 'xpl/timeline': {
        const { from, to } = args as CustomRequests['xpl/timeline']['args'];
        const marks = [...this.marks.values()].filter((m) => m.step >= from && m.step < to).sort((x, y) => x.step - y.step);
        return r({ total: Math.max(this.maxStep, e.stepCount), complete: this.complete || e.done, marks });
      }
      case 'xpl/seek': return r({ step: await this.seek((args as CustomRequests['xpl/seek']['args']).step) });
      case 'xpl/costs': return r({ series: this.costSamples.list() });
    }
    throw new Error(`unknown request ${String(name)}`);
  }

  async program(): Promise<{ program: Program; options: RunOptions }> {
    return { program: this.prog, options: this.options };
  }

  /** Announces the starting position (after the first pass). */
  async start(): Promise<void> {
    await this.scanned;
    this.emitter.fire(steppedBody(this.engine, null, this.line()));
  }

  dispose(): void {
    this.disposed = true;
    this.emitter.dispose();
  }
}

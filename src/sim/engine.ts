/**
 * The engine: runs a Program on the machine one statement at a time, keeps the report, checks the
 * `expect`s, and travels in time by checkpoint and deterministic replay.
 */
import type { EngineApi, RunResult } from './api';
import { Machine, StepSink } from './machine';
import { Executor } from './exec';
import { SimError, TraceError, hasFocus, stmtFocus, type Program, type RunOptions, type Statement, type InvariantId } from './program';
import type { AnswerRecord, CostTotals, IoreqRecord, LogdirtyRecord, Report, StepOutcome, ViolationRecord } from './report';
import type { BitmapView, EptView, ScreenView, StateSummary, TlbEntryView, TrackerView, WalkView, WalkLevelView } from './inspect';
import {
  PAGE_WRITTEN, PAGE_REPORTED, PAGE_MISSED, PAGE_EXTRA, PAGE_WRITABLE, PAGE_STALE_SCREEN, PAGE_DIFFERS,
} from './inspect';
import { deepClone, Hasher, hashValue } from './util';
import { PAGE_SIZE } from './pages';
import { differsFromCopy } from './oracle';
import { screenDiffers } from './qemu/vga';
import { displayProcess } from './state';
import { readPte, pteHex, flagsView, vaIndex, P, RW, D } from './pte';
import { typeName, T, WHY_HV } from './p2m';

interface Loop { start: number; remaining: number }

/** Everything that changes while running: one object, cloned whole for a checkpoint. */
interface RunState {
  m: Machine;
  pc: number;
  /** The last statement run that names a vCPU and a VA (a store, a load, a mapping, ...; -1: none yet). */
  focusIndex: number;
  loops: Loop[];
  steps: number;
  expectMark: number;
  passed: number;
  /** Lengths of the append-only record lists. */
  nAnswers: number;
  nViolations: number;
  nFailed: number;
  nNotes: number;
  /** UTF-8 bytes of the notes kept, and how many executed notes were not kept (see NOTES_MAX). */
  notesBytes: number;
  notesOmitted: number;
  nLogdirty: number;
  nIoreq: number;
  nFinishes: number;
  lastScreen: Map<string, number[]>;
}

interface Checkpoint { step: number; state: RunState; logPos: number; bytes: number }


const DEFAULT_CHECKPOINT_BUDGET = 512 * 1024 * 1024;

/**
 * The report keeps the first executed notes, at most NOTES_MAX of them and NOTES_TEXT_MAX bytes of
 * their text (UTF-8) together; the notes after the first that does not fit are only counted
 * (`notesOmitted`), so that a loop of notes cannot grow the report without bound.
 */
export const NOTES_MAX = 10_000;
export const NOTES_TEXT_MAX = 1024 * 1024;

/** Rough size of a checkpoint's structured state (memory bytes live in the shared write log). */
function checkpointBytes(m: Machine): number {
  let b = 16 * 1024;
  for (const d of m.domains.values()) {
    for (const v of d.vcpus) {
      b += v.tlb.bytes + v.pml.length * 8;
    }
    b += d.shTables.size * 7800 + d.p2m.chunkCount * 65 * 1024 + d.rmap.bytes + d.wcount.bytes + d.ptVer.size * 2100;
    if (d.shVram) {
      b += (d.shVram.end - d.shVram.begin) * 9;
    }
  }
  for (const o of m.oracles.values()) {
    b += o.copy.byteLength + o.qemu.pages + 6 * o.written.capacity;
  }
  return b;
}

/** The most entries `Engine.p2m` answers (one view's worth; the visualizer zooms in for p2m types). */
export const P2M_VIEW_MAX = 4096;

export class Engine implements EngineApi {
  /** Bulk runs run consecutive stores as batches (see `storeBatch`); tests turn it off to compare. */
  static batchStores = true;
  recordEvents = false;
  private s: RunState;
  private exec: Executor;
  private answers: AnswerRecord[] = [];
  private violations: ViolationRecord[] = [];
  private failed: { line: number; message: string }[] = [];
  private notes: { line: number; text: string }[] = [];
  private logdirty: LogdirtyRecord[] = [];
  private ioreq: IoreqRecord[] = [];
  private finishes: { index: number; stale: number[] }[] = [];
  private checkpoints: Checkpoint[] = [];
  private checkpointBytes = 0;
  /** Steps between checkpoints; doubles when thinning keeps the checkpoints within the budget. */
  private interval: number;
  private readonly budget: number;

  constructor(readonly program: Program, readonly options: RunOptions = {}) {
    const m = new Machine();
    for (const b of options.inject ?? []) {
      m.bugs.add(b);
    }
    for (const [k, v] of Object.entries(options.costs ?? {})) {
      if (typeof v === 'number' && Number.isFinite(v) && v >= 0) {
        m.costs.setPrice(k, v);
      }
    }
    this.s = {
      m, pc: 0, focusIndex: -1, loops: [], steps: 0, expectMark: 0, passed: 0, nAnswers: 0, nViolations: 0, nFailed: 0, nNotes: 0, notesBytes: 0, notesOmitted: 0, nLogdirty: 0, nIoreq: 0, nFinishes: 0, lastScreen: new Map(),
    };
    this.exec = new Executor(m, options.tracker, options.adaptPaging);
    this.interval = options.checkpointInterval ?? 0;
    this.budget = options.checkpointBudgetBytes ?? DEFAULT_CHECKPOINT_BUDGET;
    this.normalize();
    this.takeCheckpoint();
  }

  get stepCount(): number {
    return this.s.steps;
  }
  get nextIndex(): number | null {
    return this.s.pc < this.program.statements.length ? this.s.pc : null;
  }
  get focusIndex(): number | null {
    return this.s.focusIndex >= 0 ? this.s.focusIndex : null;
  }

  get done(): boolean {
    return this.s.pc >= this.program.statements.length;
  }
  /** The machine, read-only for inspection. */
  get machine(): Machine {
    return this.s.m;
  }

  /** Move pc over `repeat`/`end` lines (they are not steps). */
  private normalize(): void {
    const st = this.program.statements;
    for (;;) {
      if (st.isStore(this.s.pc)) {
        return;
      }
      const s = st.at(this.s.pc);
      if (!s) {
        return;
      }
      if (s.op === 'repeat') {
        if (s.count <= 0) {
          this.s.pc = s.end + 1;
        } else {
          this.s.loops.push({ start: this.s.pc, remaining: s.count });
          this.s.pc++;
        }
      } else if (s.op === 'end') {
        const top = this.s.loops[this.s.loops.length - 1];
        top.remaining--;
        if (top.remaining > 0) {
          this.s.pc = top.start + 1;
        } else {
          this.s.loops.pop();
          this.s.pc++;
        }
      } else {
        return;
      }
    }
  }

  private errorAt(stmt: Statement, e: unknown): TraceError {
    if (e instanceof TraceError) {
      return e;
    }
    if (e instanceof SimError) {
      const col = (e.arg && stmt.pos.args?.[e.arg]) || stmt.pos.col;
      return new TraceError(this.program.file, stmt.pos.line, col, e.message);
    }
    const msg = e instanceof Error ? e.message : String(e);
    return new TraceError(this.program.file, stmt.pos.line, stmt.pos.col, `internal error while running '${stmt.op}': ${msg}`);
  }

  step(): StepOutcome {
    return this.advance(true)!;
  }

  /** One step; its outcome only when asked for (a bulk run needs none, and makes no garbage). */
  private advance(want: boolean): StepOutcome | null {
    if (this.done) {
      throw new Error('the trace has finished');
    }
    const index = this.s.pc;
    const table = this.program.statements;
    // A store kept as a row runs from its columns (no statement object).
    const stmt = table.isStore(index) ? null : table.at(index)!;
    const line = table.lineAt(index);
    const m = this.s.m;
    const sink = m.sink;
    sink.record = this.recordEvents;
    sink.line = line;
    sink.depth = 0;
    sink.reset();
    let res;
    try {
      res = stmt === null ? this.exec.storeRow(table, index) : this.exec.exec(stmt);
      m.checkSl1ma();
    } catch (e) {
      throw this.errorAt(stmt ?? table.at(index)!, e);
    }
    this.s.steps++;
    if (stmt === null || hasFocus(stmt)) {
      // A store row always names its vCPU and VA.
      this.s.focusIndex = index;
    }
    const out: StepOutcome | null = want ? { index, line, step: this.s.steps, events: sink.events, violations: sink.violations } : null;
    if (res.answer) {
      if (!res.finished) {
        this.s.nAnswers = put(this.answers, this.s.nAnswers, res.answer);
      } else {
        // `refresh phase=finish` completes the answer its draw phase recorded: an append-only
        // completion record, applied when the report is made (history stays valid across time travel).
        let index = -1;
        for (let i = this.s.nAnswers - 1; i >= 0 && index < 0; i--) {
          const a = this.answers[i];
          if (a.fb === res.answer.fb && a.line === res.answer.line && a.refresh) {
            index = i;
          }
        }
        this.s.nFinishes = put(this.finishes, this.s.nFinishes, { index, stale: res.answer.stale ?? [] });
      }
      if (out) {
        out.answer = res.answer;
      }
      if (res.answer.stale) {
        this.s.lastScreen.set(res.answer.fb, res.answer.stale);
      }
    }
    if (res.ioreq) {
      this.s.nIoreq = put(this.ioreq, this.s.nIoreq, res.ioreq);
    }
    if (res.logdirty) {
      this.s.nLogdirty = put(this.logdirty, this.s.nLogdirty, res.logdirty);
    }
    if (res.note !== undefined) {
      const bytes = this.s.notesOmitted === 0 && this.s.nNotes < NOTES_MAX ? Buffer.byteLength(res.note, 'utf8') : 0;
      if (this.s.notesOmitted === 0 && this.s.nNotes < NOTES_MAX && this.s.notesBytes + bytes <= NOTES_TEXT_MAX) {
        this.s.nNotes = put(this.notes, this.s.nNotes, { line, text: res.note });
        this.s.notesBytes += bytes;
      } else {
        this.s.notesOmitted++;
      }
      if (out) {
        out.note = res.note;
      }
    }
    if (sink.violations.length > 0) {
      for (const v of sink.violations) {
        this.s.nViolations = put(this.violations, this.s.nViolations, v);
      }
    }
    if (stmt !== null && stmt.op.charCodeAt(0) === 101 /* e */ && stmt.op.startsWith('expect')) {
      const fail = this.checkExpect(stmt);
      if (fail === null) {
        this.s.passed++;
      } else {
        this.s.nFailed = put(this.failed, this.s.nFailed, { line, message: fail });
        if (out) {
          out.expectFailure = fail;
        }
      }
    }
    this.s.pc++;
    this.normalize();
    this.checkpointIfDue();
    return out;
  }

  run(opts: { maxSteps?: number; deadline?: number; stop?: (o: StepOutcome) => boolean; collect?: boolean }): RunResult {
    const outcomes: StepOutcome[] = [];
    const max = opts.maxSteps ?? Infinity;
    const want = opts.collect === true || opts.stop !== undefined;
    const table = this.program.statements;
    let n = 0;
    let nextClock = 64;
    while (!this.done) {
      if (n >= max) {
        return { outcomes, reason: 'budget' };
      }
      if (opts.deadline !== undefined && n >= nextClock) {
        nextClock = n + 64;
        if (performance.now() > opts.deadline) {
          return { outcomes, reason: 'budget' };
        }
      }
      if (!want && !this.recordEvents && Engine.batchStores && table.isStore(this.s.pc)) {
        const k = this.storeBatch(max - n);
        if (k > 0) {
          n += k;
          continue;
        }
      }
      const o = this.advance(want);
      n++;
      if (opts.collect) {
        outcomes.push(o!);
      }
      if (opts.stop && opts.stop(o!)) {
        return { outcomes, reason: 'stop', stopped: o! };
      }
    }
    return { outcomes, reason: 'done' };
  }

  /**
   * Bulk runs (no outcomes, no events): consecutive stores from the statement table run as a batch
   * (Executor.storeBatch, which bounds its length), at most `max` of them and never past a
   * checkpoint's step; the step bookkeeping of `advance` for each. Returns how many ran (0: run this
   * statement with `advance`).
   */
  private storeBatch(max: number): number {
    const s = this.s;
    const m = s.m;
    let to = s.pc + Math.min(max, this.program.statements.length - s.pc);
    if (this.interval > 0) {
      to = Math.min(to, s.pc + this.interval - (s.steps % this.interval));
    }
    const sink = m.sink;
    sink.record = false;
    sink.depth = 0;
    sink.reset();
    let k: number;
    try {
      k = this.exec.storeBatch(this.program.statements, s.pc, to);
    } catch (e) {
      const done = this.exec.batchDone;
      s.steps += done;
      if (done > 0) {
        s.focusIndex = s.pc + done - 1;
      }
      s.pc += done;
      throw this.errorAt(this.program.statements.at(s.pc)!, e);
    }
    if (k === 0) {
      return 0;
    }
    s.steps += k;
    for (const v of sink.violations) {
      s.nViolations = put(this.violations, s.nViolations, v);
    }
    // A batch is consecutive store rows (no repeat or end among them), each naming its vCPU and VA.
    s.focusIndex = s.pc + k - 1;
    s.pc += k;
    this.normalize();
    this.checkpointIfDue();
    return k;
  }

  /** A checkpoint at every `interval`-th step (once). */
  private checkpointIfDue(): void {
    if (this.interval > 0 && this.s.steps % this.interval === 0 && this.checkpoints[this.checkpoints.length - 1].step < this.s.steps) {
      this.takeCheckpoint();
    }
  }

  /** The answers so far, split refreshes completed by their `phase=finish`. */
  private completedAnswers(): AnswerRecord[] {
    const out = this.answers.slice(0, this.s.nAnswers);
    for (let k = 0; k < this.s.nFinishes; k++) {
      const f = this.finishes[k];
      if (f.index >= 0 && f.index < out.length) {
        out[f.index] = { ...out[f.index], stale: f.stale };
      }
    }
    return out;
  }

  private lastAnswer(fb: string): AnswerRecord | null {
    for (let i = this.s.nAnswers - 1; i >= 0; i--) {
      if (this.answers[i].fb === fb) {
        return this.answers[i];
      }
    }
    return null;
  }

  // ---- expects ---------------------------------------------------------------------------------

  private checkExpect(s: Statement): string | null {
    switch (s.op) {
      case 'expect-fb': {
        const last = this.lastAnswer(s.fb);
        if (!last) {
          return `expected an answer for '${s.fb}', but none was made`;
        }
        const got = describeAnswer(last);
        let want: string;
        if (s.dirty === 'all' || s.dirty === 'enodata') {
          want = s.dirty;
        } else if (s.dirty === 'none') {
          want = 'none';
        } else {
          want = [...new Set(s.dirty)].sort((a, b) => a - b).join(',');
        }
        return got === want ? null : `expected fb=${s.fb} dirty=${want}, got ${got} (line ${last.line})`;
      }
      case 'expect-violation': {
        const since = this.violations.slice(this.s.expectMark, this.s.nViolations);
        this.s.expectMark = this.s.nViolations;
        const ids = new Set(since.map((v) => v.id));
        if (s.ids === 'none') {
          return ids.size === 0 ? null : `expected no violations, got ${[...ids].join(',')}`;
        }
        const missing = s.ids.filter((id: InvariantId) => !ids.has(id));
        return missing.length === 0 ? null : `expected violation ${missing.join(',')}, got ${ids.size ? [...ids].join(',') : 'none'}`;
      }
      case 'expect-screen': {
        const stale = this.s.lastScreen.get(s.fb);
        if (!stale) {
          return `expected a refresh of '${s.fb}', but none was made`;
        }
        const want = s.stale === 'none' ? [] : [...new Set(s.stale)].sort((a, b) => a - b);
        const got = stale.join(',') || 'none';
        return got === (want.join(',') || 'none') ? null : `expected screen of '${s.fb}' stale=${want.join(',') || 'none'}, got ${got}`;
      }
      case 'expect-cost': {
        const t = this.s.m.costs.totals();
        const v = t[s.counter];
        if (s.min !== undefined && v < s.min) {
          return `expected ${s.counter} ≥ ${s.min}, got ${v}`;
        }
        if (s.max !== undefined && v > s.max) {
          return `expected ${s.counter} ≤ ${s.max}, got ${v}`;
        }
        return null;
      }
      case 'expect-logdirty': {
        let last: LogdirtyRecord | null = null;
        for (let i = this.s.nLogdirty - 1; i >= 0; i--) {
          if (this.logdirty[i].dom === s.dom) {
            last = this.logdirty[i];
            break;
          }
        }
        if (!last) {
          return `expected a logdirty peek or clean of '${s.dom}', but none was made`;
        }
        const want = s.dirty === 'none' ? 'none' : [...new Set(s.dirty)].sort((a, b) => a - b).join(',');
        const got = last.dirty.join(',') || 'none';
        return got === want ? null : `expected logdirty dom=${s.dom} dirty=${want}, got ${got} (line ${last.line})`;
      }
      case 'expect-ioreq': {
        let last: IoreqRecord | null = null;
        for (let i = this.s.nIoreq - 1; i >= 0; i--) {
          if (this.ioreq[i].op === 'access') {
            last = this.ioreq[i];
            break;
          }
        }
        if (!last) {
          return 'expected an ioreq access, but none was made';
        }
        return last.server === s.server ? null : `expected ioreq server=${s.server ?? 'none'}, got ${last.server ?? 'none'} (line ${last.line})`;
      }
      default:
        return null;
    }
  }

  // ---- time travel -----------------------------------------------------------------------------

  private takeCheckpoint(thin = true): void {
    const m = this.s.m;
    const sink = m.sink;
    m.sink = new StepSink();
    const state = deepClone(this.s);
    m.sink = sink;
    const bytes = checkpointBytes(m);
    this.checkpoints.push({ step: this.s.steps, state, logPos: m.pages.position, bytes });
    this.checkpointBytes += bytes;
    while (thin && this.checkpointBytes > this.budget && this.checkpoints.length > 2 && this.interval > 0) {
      // Thin uniformly: the interval doubles, and only checkpoints on the new grid (and the first) stay.
      this.interval *= 2;
      const kept = this.checkpoints.filter((c, i) => i === 0 || c.step % this.interval === 0);
      this.checkpoints = kept;
      this.checkpointBytes = kept.reduce((a, c) => a + c.bytes, 0);
    }
  }

  /** Bench hooks: the cost of one checkpoint, and of restoring the newest one. */
  takeCheckpointForBench(): void {
    this.takeCheckpoint(false);
    const c = this.checkpoints.pop()!;
    this.checkpointBytes -= c.bytes;
  }
  restoreLatestForBench(): void {
    const c = this.checkpoints[this.checkpoints.length - 1];
    this.restore(c);
    this.seek(c.step);
  }

  /** Steps held by checkpoints (the debugger replays from the nearest; tests and the bench). */
  checkpointSteps(): number[] {
    return this.checkpoints.map((c) => c.step);
  }

  private restore(c: Checkpoint): void {
    this.s = deepClone(c.state);
    this.s.m.pages.moveTo(c.logPos);
    this.exec = new Executor(this.s.m, this.options.tracker, this.options.adaptPaging);
    // The record lists keep their history: replay re-creates identical records in place.
    // Checkpoints after this point stay valid (replay is deterministic), so they are kept.
  }

  seek(step: number): void {
    if (step < 0) {
      step = 0;
    }
    if (step !== this.s.steps) {
      if (step < this.s.steps || !this.canRunForwardTo(step)) {
        let best = this.checkpoints[0];
        for (const c of this.checkpoints) {
          if (c.step <= step && c.step > best.step) {
            best = c;
          }
        }
        if (step < this.s.steps || best.step > this.s.steps) {
          this.restore(best);
        }
      }
    }
    const rec = this.recordEvents;
    this.recordEvents = false;
    try {
      while (this.s.steps < step && !this.done) {
        this.stepReplay();
      }
    } finally {
      this.recordEvents = rec;
    }
  }
  private canRunForwardTo(step: number): boolean {
    // Running forward from here is cheaper unless a checkpoint sits closer to the target.
    for (const c of this.checkpoints) {
      if (c.step > this.s.steps && c.step <= step) {
        return false;
      }
    }
    return true;
  }
  /** Replaying a step already recorded: records are re-created identically, so drop duplicates. */
  private stepReplay(): void {
    const before = this.checkpoints.length;
    this.step();
    if (this.checkpoints.length > before) {
      // step() appended a checkpoint: drop it if one for that step already exists, keep the list sorted.
      const added = this.checkpoints[this.checkpoints.length - 1];
      if (this.checkpoints.some((c) => c !== added && c.step === added.step)) {
        this.checkpoints.pop();
        this.checkpointBytes -= added.bytes;
      } else {
        this.checkpoints.sort((a, b) => a.step - b.step);
      }
    }
  }

  // ---- report ----------------------------------------------------------------------------------

  report(): Report {
    const doms = [...this.s.m.domains.values()];
    const trackers = new Set(doms.map((d) => d.tracker));
    return {
      trace: this.program.file,
      tracker: trackers.size === 0 ? (this.options.tracker ?? 'none') : trackers.size === 1 ? doms[0].tracker : 'mixed',
      steps: this.s.steps,
      answers: this.completedAnswers().map(stripTracker),
      violations: this.violations.slice(0, this.s.nViolations),
      logdirty: this.logdirty.slice(0, this.s.nLogdirty),
      ioreq: this.ioreq.slice(0, this.s.nIoreq),
      expects: { passed: this.s.passed, failed: this.failed.slice(0, this.s.nFailed) },
      costs: this.s.m.costs.totals(),
      notes: this.notes.slice(0, this.s.nNotes),
      notesOmitted: this.s.notesOmitted,
    };
  }

  // ---- inspection ------------------------------------------------------------------------------

  costTotals(): CostTotals {
    return this.s.m.costs.totals();
  }

  summary(): StateSummary {
    const m = this.s.m;
    return {
      step: this.s.steps,
      time: m.time,
      line: this.done ? null : this.program.statements.lineAt(this.s.pc),
      done: this.done,
      domains: [...m.domains.values()].map((d) => ({
        name: d.name, paging: d.paging, memBytes: d.memPages * PAGE_SIZE, tracker: d.tracker, tlb: d.tlbMode, pml: d.pml,
        vcpus: d.vcpus.map((v) => ({ id: v.id, dom: d.name, index: v.idx, process: displayProcess(v.process), cr3Gfn: m.processes.get(v.process)!.cr3, tlbEntries: v.tlb.size })),
        framebuffers: d.fbs.map((n) => {
          const f = m.fbs.get(n)!;
          return { name: f.name, dom: f.dom, gfn: f.gfn, pages: f.pages, width: f.width, height: f.height, bpp: f.bpp, tracked: d.trackedFb === f.name };
        }),
        processes: d.processes.map((n) => {
          const p = m.processes.get(n)!;
          return { name: displayProcess(p.name), cr3Gfn: p.cr3, exited: p.exited };
        }),
        ptFrames: d.ptFrames.entries().map((e) => e[0]),
        logdirty: d.logdirty,
      })),
      costs: m.costs.totals(),
      violations: this.violations.slice(Math.max(0, this.s.nViolations - 200), this.s.nViolations),
      ...this.focus(),
    };
  }

  /** StateSummary.focus, from the last statement run that names a vCPU and a VA. */
  private focus(): { focus?: StateSummary['focus'] } {
    const i = this.s.focusIndex;
    const s = i >= 0 ? this.program.statements.at(i) : undefined;
    const f = s ? stmtFocus(s) : null;
    return f ? { focus: { ...f, line: this.program.statements.lineAt(i) } } : {};
  }

  private vcpuById(id: string) {
    const m = this.s.m;
    const dot = id.lastIndexOf('.');
    if (dot < 0) {
      const d = [...m.domains.values()][0];
      if (!d) {
        throw new Error('no domain yet');
      }
      return m.vcpu(d.name, Number(id));
    }
    return m.vcpu(id.slice(0, dot), Number(id.slice(dot + 1)));
  }

  tlb(vcpu: string): TlbEntryView[] {
    const m = this.s.m;
    const v = this.vcpuById(vcpu);
    const d = m.dom(v.dom);
    const out: TlbEntryView[] = [];
    for (const [vpn, e] of v.tlb.entries()) {
      let stale: TlbEntryView['stale'] = null;
      const vers = d.ptVer.get(Math.floor(e.pt / 512));
      if (vers && vers[e.pt % 512] !== e.ptVer) {
        stale = 'guest';
      } else if (d.paging === 'shadow') {
        const t = d.shTables.get(Math.floor(e.src / 512));
        if (!t || (t.ver[e.src % 512] !== e.srcVer && t.why[e.src % 512] === WHY_HV)) {
          stale = 'hypervisor';
        }
      } else if (d.p2m.version(e.gfn) !== e.srcVer) {
        stale = 'hypervisor';
      }
      out.push({ va: vpn * PAGE_SIZE, mfn: e.mfn, writable: e.w, dirty: e.d, global: e.g, stale });
    }
    return out;
  }

  walk(vcpu: string, va: number): WalkView {
    const m = this.s.m;
    const v = this.vcpuById(vcpu);
    const d = m.dom(v.dom);
    const p = m.processes.get(v.process)!;
    const view: WalkView = { vcpu: v.id, va, guest: [], shadow: [], writable: false };
    let table = p.cr3;
    let rw = true;
    for (let l = 4; l >= 1; l--) {
      const idx = vaIndex(va, l);
      const [f, frame] = readPte(m.guestTable(d, table), idx);
      const lv: WalkLevelView = { level: l as 4 | 3 | 2 | 1, table, index: idx, raw: pteHex(f, frame), flags: flagsView(f), target: frame };
      if (d.paging === 'shadow') {
        lv.writeProtected = m.isShadowed(d, table);
      }
      view.guest.push(lv);
      if (!(f & P)) {
        view.stop = `guest L${l} entry not present`;
        break;
      }
      rw = rw && !!(f & RW);
      if (l === 1) {
        view.gfn = frame;
      }
      table = frame;
    }
    if (d.paging === 'shadow') {
      const top = d.shHash.get(p.cr3 * 8 + 4);
      let t = top === undefined ? undefined : d.shTables.get(top);
      for (let l = 4; l >= 1 && t; l--) {
        const idx = vaIndex(va, l);
        const f = t.f[idx];
        view.shadow.push({ level: l as 4 | 3 | 2 | 1, table: t.smfn, index: idx, raw: pteHex(f, t.e[idx]), flags: flagsView(f), target: t.e[idx] });
        if (!(f & P)) {
          break;
        }
        if (l === 1) {
          view.mfn = t.e[idx];
          view.writable = !!(f & RW);
        }
        t = d.shTables.get(t.e[idx]);
      }
      if (view.gfn !== undefined && view.mfn === undefined) {
        // Shadows are built lazily: nothing maps the VA for the CPU until an access faults.
        view.stop = 'no shadow entry maps this VA yet: the next access takes a shadow fault (sh_page_fault)';
      }
    } else if (view.gfn !== undefined) {
      view.ept = this.p2m(d.name, view.gfn, 1)[0];
      view.mfn = view.ept.mfn ?? undefined;
      view.writable = rw && view.ept.w;
    }
    return view;
  }

  /** The p2m entries of gfns [gfn, gfn + count), at most P2M_VIEW_MAX of them. */
  p2m(dom: string, gfn: number, count: number): EptView[] {
    const m = this.s.m;
    const d = m.dom(dom);
    const out: EptView[] = [];
    for (let g = gfn; g < gfn + Math.min(count, P2M_VIEW_MAX); g++) {
      const b = m.backed(d, g);
      const t = d.p2m.type(g, b);
      const mfn = b ? m.backingMfn(d, g) : null;
      const w = d.paging === 'hap' ? d.p2m.eptW(g, t) : t === T.ram_rw;
      out.push({ gfn: g, mfn, type: typeName(t), r: t !== T.invalid && t !== T.mmio_dm, w, x: t === T.ram_rw || t === T.ram_logdirty, d: d.p2m.eptD(g), recalc: b && d.p2m.pending(g) });
    }
    return out;
  }

  bitmap(fbName: string, start: number, count: number): BitmapView {
    const m = this.s.m;
    const fb = m.fb(fbName);
    const d = m.dom(fb.dom);
    const o = m.oracles.get(fb.name)!;
    const n = Math.max(0, Math.min(count, fb.pages - start));
    const state = new Uint8Array(n);
    const last = this.lastAnswer(fb.name);
    const rep = new Set(last ? (last.kind === 'bitmap' ? last.dirty : []) : []);
    const extra = new Set(last ? last.extra : []);
    for (let i = 0; i < n; i++) {
      const p = start + i;
      let s = 0;
      if (o.written.has(p)) { s |= PAGE_WRITTEN; }
      if (last && (last.kind !== 'bitmap' || rep.has(p))) { s |= PAGE_REPORTED; }
      if (o.missed.has(p)) { s |= PAGE_MISSED; }
      if (extra.has(p)) { s |= PAGE_EXTRA; }
      const g = fb.gfn + p;
      const mfn = m.backingMfn(d, g);
      if (d.paging === 'shadow' ? m.writableCount(d, mfn) > 0 : d.p2m.type(g, true) === T.ram_rw) { s |= PAGE_WRITABLE; }
      if (screenDiffers(m, d, fb, o, p)) { s |= PAGE_STALE_SCREEN; }
      if (o.suspects.has(p) && differsFromCopy(m, d, fb, o, p)) { s |= PAGE_DIFFERS; }
      state[i] = s;
    }
    return { fb: fb.name, start, count: n, pages: fb.pages, state, lastAnswerLine: last ? last.line : null };
  }

  tracker(fbName: string): TrackerView | null {
    const m = this.s.m;
    const fb = m.fb(fbName);
    const d = m.dom(fb.dom);
    const last = this.lastAnswer(fb.name);
    const fields: Record<string, string | number | boolean> = { tracked: d.trackedFb === fb.name };
    if (d.tracker === 'sl1ma' && d.shVram) {
      const v = d.shVram;
      fields.begin_pfn = '0x' + v.begin.toString(16);
      fields.end_pfn = '0x' + v.end.toString(16);
      fields.last_dirty = v.lastDirty === -1 ? '-1 (idle: no scan; VRAM is mapped read-only until a write fault)' : `${(v.lastDirty / 1e9).toFixed(3)} s`;
      fields.sl1ma_known = v.sl1ma.size;
      const acc: number[] = [];
      for (let i = 0; i < v.end - v.begin; i++) {
        if (v.acc[i >> 3] & (1 << (i & 7))) {
          acc.push(i);
        }
      }
      fields.accumulator = acc.join(',') || 'empty';
    } else if (d.tracker === 'p2m-type' && d.hapVram) {
      fields.begin_pfn = '0x' + d.hapVram.begin.toString(16);
      fields.end_pfn = '0x' + d.hapVram.end.toString(16);
      fields.pml = d.pmlEnabled;
      fields.pml_pending = d.vcpus.reduce((a, v) => a + v.pml.length, 0);
    } else if (d.tracker === 'memcmp') {
      const o = m.oracles.get(fb.name)!;
      fields.copy = o.memcmpAt < 0 ? 'none yet (zeros)' : `as of the last refresh${o.memcmpRedraw ? ' (next: full update)' : ''}`;
    }
    return { tracker: d.tracker, fb: fb.name, fields, lastAnswer: last };
  }

  screen(fbName: string): ScreenView {
    const m = this.s.m;
    const fb = m.fb(fbName);
    const d = m.dom(fb.dom);
    const o = m.oracles.get(fb.name)!;
    const bytes = fb.width * fb.height * 4;
    const guest = new Uint8Array(bytes);
    const screen = new Uint8Array(bytes);
    for (let p = 0; p * PAGE_SIZE < bytes; p++) {
      const n = Math.min(PAGE_SIZE, bytes - p * PAGE_SIZE);
      guest.set(m.pages.read(m.backingMfn(d, fb.gfn + p)).subarray(0, n), p * PAGE_SIZE);
      screen.set(m.pages.read(o.screenMfn + p).subarray(0, n), p * PAGE_SIZE);
    }
    return { fb: fb.name, width: fb.width, height: fb.height, guest, screen };
  }

  readGuest(dom: string, gfn: number): Uint8Array {
    const m = this.s.m;
    const d = m.dom(dom);
    const mfn = m.backingMfn(d, gfn);
    return mfn < 0 ? new Uint8Array(PAGE_SIZE) : m.pages.read(mfn).slice();
  }

  readMachine(mfn: number): Uint8Array {
    const m = this.s.m;
    for (const d of m.domains.values()) {
      const t = d.shTables.get(mfn);
      if (t) {
        const out = new Uint8Array(PAGE_SIZE);
        const dv = new DataView(out.buffer);
        for (let i = 0; i < 512; i++) {
          const f = t.f[i];
          const lo = ((t.e[i] % 0x100000) * 0x1000 + (f & 0xfff)) >>> 0;
          dv.setUint32(i * 8, lo, true);
          dv.setUint32(i * 8 + 4, Math.floor(t.e[i] / 0x100000) >>> 0, true);
        }
        return out;
      }
    }
    return m.pages.read(mfn).slice();
  }

  dirtyCount(fbName: string): number {
    const m = this.s.m;
    const fb = m.fb(fbName);
    const d = m.dom(fb.dom);
    let n = 0;
    for (let i = 0; i < fb.pages; i++) {
      const g = fb.gfn + i;
      const mfn = m.backingMfn(d, g);
      if (d.tracker === 'sl1ma' && d.shVram) {
        const v = d.shVram;
        const sl = v.sl1ma.get(i);
        const wc = m.writableCount(d, mfn);
        const accBit = v.acc[i >> 3] & (1 << (i & 7));
        let dirty = !!accBit || wc > 1 || (wc === 1 && sl === -1);
        if (!dirty && wc === 1 && sl !== -1) {
          const t = d.shTables.get(Math.floor(sl / 512));
          dirty = !!t && !!(t.f[sl % 512] & D);
        }
        if (dirty) {
          n++;
        }
      } else if (d.tracker === 'p2m-type' && d.hapVram) {
        if (d.p2m.type(g, true) === T.ram_rw) {
          n++;
        }
      } else if (m.oracles.get(fb.name)!.written.has(i)) {
        n++;
      }
    }
    return n;
  }

  stateHash(): string {
    const h = new Hasher();
    const m = this.s.m;
    hashValue(h, {
      pc: this.s.pc, focusIndex: this.s.focusIndex, loops: this.s.loops, steps: this.s.steps, time: m.time, wc: m.writeCounter, next: m.nextMfn,
      bugs: [...m.bugs].sort(), costs: m.costs.counts,
    });
    m.pages.hashInto(h);
    for (const d of m.domains.values()) {
      h.str(d.name);
      d.p2m.hashInto(h);
      hashValue(h, {
        vcpus: d.vcpus.map((v) => ({ p: v.process, tlb: v.tlb.entries(), pml: v.pml, top: v.shTop })),
        sh: [...d.shTables.values()].sort((a, b) => a.smfn - b.smfn).map((t) => [t.smfn, t.gfn, t.level, t.e, t.f, t.refs, t.pinned, t.up]),
        wc: d.wcount.entries(),
        vram: d.shVram, hap: d.hapVram, pt: d.ptFrames.entries(), pml: d.pmlEnabled,
        // The other designs' state, and who holds log-dirty mode.
        multi: d.multi, multiLogdirty: d.multiLogdirty, vram2009: d.vram2009, dbit: d.dbit, linear: d.linear,
        tracked: d.trackedFb, logdirty: d.logdirty,
      });
    }
    m.ioreq.hashInto(h);
    for (const d of m.domains.values()) {
      if (d.trie) {
        d.trie.hashInto(h);
      }
    }
    for (const [name, o] of m.oracles) {
      h.str(name);
      hashValue(h, { w: o.written.toArray(), s: o.suspects.toArray(), mi: o.missed.toArray(), q: o.qemu, mc: [o.memcmpAt, o.memcmpRedraw] });
    }
    return h.hex();
  }
}

/** Put a record at position n of a history list (replacing a replayed one); returns n + 1. */
function put<T>(list: T[], n: number, item: T): number {
  if (n < list.length) {
    list[n] = item;
  } else {
    list.push(item);
  }
  return n + 1;
}

function describeAnswer(a: AnswerRecord): string {
  if (a.kind !== 'bitmap') {
    return a.kind;
  }
  return a.dirty.length ? a.dirty.join(',') : 'none';
}
function stripTracker(a: AnswerRecord): AnswerRecord {
  const { tracker: _t, ...rest } = a;
  return rest;
}

export function createEngine(program: Program, options: RunOptions = {}): Engine {
  return new Engine(program, options);
}

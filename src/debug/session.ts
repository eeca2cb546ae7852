/**
 * The `xpl` debug adapter: translates the Debug Adapter Protocol onto the model's EngineApi. It holds
 * no model of its own: positions, state, time travel and events all come from the engine.
 *
 * Positions. At a *boundary* the session is stopped before the statement at `engine.nextIndex` (the
 * state is that after `engine.stepCount` steps). *Inside* a statement (after step in, or a stop on an
 * event or a violation) the statement has run and the session walks its events one at a time; the
 * state shown there is the state after the statement, which the frames say.
 */
import * as path from 'path';
import {
  Breakpoint, BreakpointEvent, ContinuedEvent, DebugSession, Event, ExitedEvent, InitializedEvent, InvalidatedEvent, OutputEvent,
  ProgressEndEvent, ProgressStartEvent, ProgressUpdateEvent, Scope, Source, StackFrame, StoppedEvent, TerminatedEvent, Thread, Handles,
} from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import type { EngineApi } from '../sim/api';
import { BUGS, INVARIANTS, TRACKERS, TraceError, SimError, canonicalToVa48, stmtVa, stmtVcpu, vaToString, type BugId, type InvariantId, type Program, type RunOptions, type Statement, type TrackerId, COUNTERS, type CounterName } from '../sim/program';
import type { StepOutcome, ViolationRecord, EventKind } from '../sim/report';
import type { StateSummary, WalkLevelView, DomainView } from '../sim/inspect';
import {
  PAGE_DIFFERS, PAGE_EXTRA, PAGE_MISSED, PAGE_REPORTED, PAGE_STALE_SCREEN, PAGE_WRITABLE, PAGE_WRITTEN,
} from '../sim/inspect';
import { createEngine } from '../sim/engine';
import { parseTraceSliced } from '../trace/index';
import type { FileAccessor } from './fileAccessor';
import {
  ExprError, evalExpr, parseExpr, parseLogMessage, showValue, truthy, type Expr, type ExprEnv, type Value,
} from './expr';
import { CostSamples, STEPPED_EVENT, steppedBody, timelineMark, type CustomRequests, type TimelineMark } from './custom';

/** Launch attributes of the `xpl` debug type (package.json `debuggers[].configurationAttributes`). */
export interface XplLaunchArguments extends DebugProtocol.LaunchRequestArguments {
  /** Path of the `.xpt` (or `.xpt.jsonl`) trace. */
  trace: string;
  /** Override every domain's tracker. */
  tracker?: string;
  /** Bugs turned on from the start. */
  inject?: string | string[];
  /** Stop before the first statement. */
  stopOnEntry?: boolean;
  /** Steps between checkpoints for step back (default 1000; 0 disables them: time travel then replays from the start). */
  checkpointInterval?: number;
  /** Cycle prices overriding the model's defaults (the `xpl.costs` setting). */
  costs?: Record<string, number>;
}

/** Steps between checkpoints when the launch does not say (the engine's own default is none). */
const DEFAULT_CHECKPOINT_INTERVAL = 1000;
/** Longest time the model runs before the adapter yields to the event loop. */
const SLICE_MS = 20;
/** Thread id of the hypervisor and device model (statements no vCPU performs). */
const MACHINE_THREAD = 1;
const FRAMES_PER_THREAD = 1024;
/** Timeline marks kept for the visualizer (about 100 bytes each). */
const MAX_MARKS = 500_000;
/** Replays shorter than this finish too fast for a progress bar. */
const PROGRESS_MIN_STEPS = 200_000;
/** A step back replays at most this many steps in one go; farther, it replays in slices. */
const SYNC_REPLAY_MAX = 200_000;
const EVENT_KINDS: readonly EventKind[] = [
  'tlb-hit', 'tlb-miss', 'tlb-fill', 'walk', 'ad-update', 'store', 'load', 'vmexit', 'shadow-fault', 'propagate',
  'set-l1e', 'make-shadow', 'destroy-shadow', 'emulate', 'remove-write-access', 'ept-violation', 'ept-misconfig',
  'p2m-type-change', 'pml-log', 'pml-drain', 'tlb-flush', 'flush-skipped', 'invlpg', 'cr3', 'peek', 'peek-page', 'hypercall', 'answer',
  'refresh', 'logdirty', 'ioreq', 'dma', 'violation', 'note', 'tick', 'setup',
];
const INVARIANT_TEXT: Record<InvariantId, [string, string, boolean]> = {
  'lost-update': ['Lost update', 'An answer misses pages that changed, or a refresh leaves told-about pages stale on the screen.', true],
  'stale-tlb': ['Stale TLB entry used', 'A store went through a translation the hypervisor had made stale without invalidating it.', true],
  'clear-scope': ['Cleared another consumer\'s dirty state', 'One consumer cleared or re-armed dirty state another had not read yet.', true],
  'wrong-frame': ['Tracker read the wrong frame', 'A tracker read or cleared a frame that does not back the page it meant.', true],
  sl1ma: ['Remembered shadow L1e is wrong', 'A remembered shadow L1e is not a present writable entry mapping its page (or outlives all writable mappings).', true],
  'idle-writable': ['Writable mapping while idle', 'In the idle state a writable shadow L1e or TLB entry for a framebuffer page still exists.', true],
  rangeset: ['Rangeset broken', 'A rangeset is not sorted, disjoint and non-adjacent, or exceeds its limit.', true],
  'guest-no-flush': ['Guest forgot to flush', 'The guest changed a PTE and used the old translation without invlpg/cr3 (a guest bug).', false],
};
const EXPR_HELP = [
  'Commands: translate VA [VCPU] | pte VA [VCPU] | p2m GFN [DOM] | bitmap FB | tlb [VCPU] | help',
  'Expressions (also breakpoint conditions and logpoint {holes}):',
  '  names: step, line, time, done, and every counter (vmexits, shadowFaults, tlbFlushes, cycles, ...)',
  '  dirtyCount("fb")  tlbSize(VCPU)  tlbHas(VCPU, VA)  tlbDirty(VCPU, VA)  pte(VCPU, VA, "D")  spte(VCPU, VA, "D")',
  '  gfn(VCPU, VA)  mfn(VCPU, VA)  p2mType("dom", GFN)  pageState("fb", PAGE)  written("fb", PAGE)',
  '  violations()  violations("lost-update")  cost("vmexits")',
  '  VCPU is "dom.N", or N while there is one domain; numbers may be hex (0x...).',
  '  Operators: ! - * / % + - < <= > >= == != && || ( )',
];

/** `requested` is where the user put it; `line` the statement line it sits on (null: none, unverified). */
/** A line breakpoint; `elsewhere` once it was reported unverified as another trace's. */
interface LineBp { id: number; requested: number; line: number | null; condition?: Expr; hit?: HitCond; log?: (string | Expr)[]; hits: number; elsewhere?: boolean }
interface HitCond { op: '>=' | '>' | '==' | '<' | '<=' | '%'; n: number }
interface FnBp { id: number; name: string; condition?: Expr; hit?: HitCond; hits: number }
interface DataBp { id: number; dataId: string; condition?: Expr; hit?: HitCond; hits: number; last: string }

/** Why the model stopped, and where: at a boundary (`event` null) or at one of the step's events. */
interface Hit {
  reason: string;
  description: string;
  text?: string;
  event: number | null;
  bpIds?: number[];
  violation?: ViolationRecord;
}

type Var = DebugProtocol.Variable & { dataId?: string; dataDesc?: string };
type VarContainer =
  | { kind: 'list'; get: () => Var[] }
  | { kind: 'indexed'; total: number; get: (start: number, count: number) => Var[] };

class UserError extends Error {}

const hex = (n: number): string => '0x' + n.toString(16);
/** `n thing(s)`: '1 entry', '2 entries'. */
const count = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;
const yieldTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function message(e: unknown): string {
  if (e instanceof TraceError || e instanceof SimError || e instanceof ExprError || e instanceof UserError) {
    return e.message;
  }
  return e instanceof Error ? e.message : String(e);
}

function parseHit(text: string): HitCond {
  const m = /^\s*(>=|>|==|=|<=|<|%)?\s*(\d+)\s*$/.exec(text);
  if (!m) {
    throw new ExprError(`hit count '${text}' is not N, >=N, >N, ==N, <N, <=N or %N`);
  }
  const op = (m[1] === '=' ? '==' : m[1] ?? '>=') as HitCond['op'];
  if (op === '%' && Number(m[2]) === 0) {
    throw new ExprError(`hit count '${text}': %N needs N ≥ 1`);
  }
  return { op, n: Number(m[2]) };
}

function hitOk(h: HitCond | undefined, hits: number): boolean {
  if (!h) {
    return true;
  }
  switch (h.op) {
    case '>=': return hits >= h.n;
    case '>': return hits > h.n;
    case '==': return hits === h.n;
    case '<': return hits < h.n;
    case '<=': return hits <= h.n;
    case '%': return h.n > 0 && hits % h.n === 0;
  }
}

/** A number in trace syntax (decimal or hex, `_` separators, canonical VAs): returns a Va48/plain number. */
function parseNumber(text: string, what: string): number {
  const t = text.replace(/_/g, '');
  if (!/^(0[xX][0-9a-fA-F]+|[0-9]+)$/.test(t)) {
    throw new UserError(`${what} '${text}' is not a number`);
  }
  const big = BigInt(t);
  if (big >= 2n ** 48n) {
    const va = canonicalToVa48(big);
    if (va === undefined) {
      throw new UserError(`${what} '${text}' is not a canonical 48-bit address`);
    }
    return va;
  }
  return Number(big);
}

function pageStateText(s: number): string {
  const parts: string[] = [];
  if (s & PAGE_WRITTEN) { parts.push('written'); }
  if (s & PAGE_REPORTED) { parts.push('reported'); }
  if (s & PAGE_MISSED) { parts.push('MISSED'); }
  if (s & PAGE_EXTRA) { parts.push('extra'); }
  if (s & PAGE_WRITABLE) { parts.push('writable'); }
  if (s & PAGE_STALE_SCREEN) { parts.push('stale-screen'); }
  if (s & PAGE_DIFFERS) { parts.push('differs'); }
  return parts.length ? parts.join(' ') : 'clean';
}

function flagsText(l: WalkLevelView): string {
  const f = l.flags;
  const on = (Object.keys(f) as (keyof typeof f)[]).filter((k) => f[k]);
  return on.length ? on.join(' ') : '-';
}

/** Why a breakpoint in another trace file stays unverified. */
const NOT_THIS_TRACE = 'not the trace being debugged: breakpoints apply to the trace of the session';

/**
 * Requests DebugSession would answer with an empty success although the adapter does not implement
 * them (their capabilities are off, or the protocol has none): refused with an error instead, so a
 * client is not told that a variable was set or memory written. The text says why.
 */
const UNSUPPORTED: ReadonlyMap<string, string> = new Map([
  ['setVariable', 'the state of the model changes only by running the trace'],
  ['setExpression', 'the state of the model changes only by running the trace'],
  ['writeMemory', 'guest memory changes only by running the trace'],
  ['restartFrame', 'a trace has one frame: use step back or restart'],
  ['stepInTargets', 'a statement has no step-in targets'],
  ['terminateThreads', 'the trace runs on one thread'],
  ['source', 'traces are files, given by path'],
  ['loadedSources', 'the only source is the trace'],
  ['disassemble', 'a trace has no instructions'],
  ['setInstructionBreakpoints', 'a trace has no instructions: use line or function breakpoints'],
  ['cancel', ''],
]);

export class XplDebugSession extends DebugSession {
  private engine: EngineApi | null = null;
  private program: Program | null = null;
  private launchArgs: XplLaunchArguments | null = null;
  private traceKey = '';
  private lines: string[] = [];
  /** Inside a statement: its outcome and the event shown. */
  private sub: { outcome: StepOutcome; event: number } | null = null;
  /** Outcome of the step that produced the current state, when known. */
  private lastOutcome: StepOutcome | null = null;
  private lastHit: Hit | null = null;
  private faulted: string | null = null;
  private running = false;
  private pauseRequested = false;
  /** Bumped by restart/disconnect so that a run in progress abandons itself. */
  private generation = 0;
  /** The client disconnected or terminated: a launch still loading must not start running. */
  private closed = false;
  private configurationDone = false;
  private configWaiters: (() => void)[] = [];

  private nextBpId = 1;
  private lineBps = new Map<string, LineBp[]>();
  private fnBps: FnBp[] = [];
  private dataBps: DataBp[] = [];
  private exFilters = new Map<string, Expr | undefined>();

  private marks = new Map<number, TimelineMark>();
  /** Cost counters as steps ran, for the visualizer's chart (`xpl/costs`). */
  private readonly costSamples = new CostSamples();
  private conditionErrors = new Set<string>();
  private clientProgress = false;
  /** The client handles `invalidated` events (it said so in `initialize`). */
  private clientInvalidated = false;
  private nextProgressId = 1;
  private maxStep = 0;
  private threadIds = new Map<string, number>();
  private vars = new Handles<VarContainer>();
  /** The largest variables reference handed out: references of an earlier stop are never reused. */
  private lastVarRef = 0;
  private dataInfo = new Map<string, { dataId: string; description: string }>();

  constructor(private readonly files: FileAccessor) {
    super();
    this.setDebuggerLinesStartAt1(true);
    this.setDebuggerColumnsStartAt1(true);
  }

  // ---------------------------------------------------------------- plumbing

  /** Runs a request's body; an error it throws becomes the response (shown to the user), never a crash. */
  private guard(response: DebugProtocol.Response, body: () => void | Promise<void>): void {
    this.answer(true, response, body);
  }
  /**
   * `guard`, with the error shown to the user only if `showUser`: not for the requests the client
   * makes on its own (the Variables and Call Stack views, hovers, watches), whose errors it shows
   * where they were asked for (a Variables view expanding a reference of the previous stop is
   * routine, not the user's mistake, and must not pop up a notification).
   */
  private answer(showUser: boolean, response: DebugProtocol.Response, run: () => void | Promise<void>): void {
    const fail = (e: unknown): void => {
      // Not sendErrorResponse: its `{name}` substitution would mangle (or, for `{_x}`, throw on) trace text.
      const text = message(e);
      response.success = false;
      response.message = text;
      response.body = { error: { id: 1, format: text, showUser } };
      this.sendResponse(response);
    };
    try {
      const r = run();
      if (r instanceof Promise) {
        r.catch(fail);
      }
    } catch (e) {
      fail(e);
    }
  }

  protected override dispatchRequest(request: DebugProtocol.Request): void {
    try {
      const off = UNSUPPORTED.get(request.command);
      if (off !== undefined) {
        // DebugSession answers these with an empty success, as if done: say they are not.
        throw new UserError(`the xpl debugger does not support '${request.command}'${off ? ` (${off})` : ''}`);
      }
      super.dispatchRequest(request);
    } catch (e) {
      const response: DebugProtocol.Response = {
        seq: 0, type: 'response', request_seq: request.seq, command: request.command, success: false, message: message(e),
      };
      this.sendResponse(response);
    }
  }

  private mustEngine(): EngineApi {
    if (!this.engine || !this.program) {
      throw new UserError('no trace is being debugged (launch first)');
    }
    return this.engine;
  }

  private mustBeStopped(): EngineApi {
    const engine = this.mustEngine();
    if (this.running) {
      throw new UserError('the model is running: pause first');
    }
    return engine;
  }

  private source(): Source {
    const file = this.launchArgs?.trace ?? '';
    const full = file.includes('://') || path.isAbsolute(file) ? file : path.resolve(file);
    return new Source(path.basename(file), full);
  }

  /** The column of the argument an event is about (its va= or fb=), else the statement's. */
  private eventCol(stmt: Statement, kind: { va?: number; fb?: string; gfn?: number }): number {
    const args = stmt.pos.args ?? {};
    if (kind.va !== undefined && args.va !== undefined) {
      return args.va;
    }
    if (kind.fb !== undefined && args.fb !== undefined) {
      return args.fb;
    }
    if (kind.gfn !== undefined && args.gfn !== undefined) {
      return args.gfn;
    }
    return stmt.pos.col;
  }

  private stmtText(s: Statement): string {
    // The line as written (a JSON Lines trace shows its JSON), without a trailing comment.
    const raw = (this.lines[s.pos.line - 1] ?? s.op).trim();
    const text = raw.startsWith('{') ? raw : raw.replace(/\s+#[^"]*$/, '');
    return text.length > 100 ? text.slice(0, 99) + '…' : text;
  }

  private summary(): StateSummary {
    return this.mustEngine().summary();
  }

  private domains(): DomainView[] {
    return this.summary().domains;
  }

  /** Resolve a vCPU written as `dom.N`, an engine id, or a bare N while one domain exists. */
  private resolveVcpu(v: Value | undefined, fallback?: string | null): string {
    const doms = this.domains();
    const all = doms.flatMap((d) => d.vcpus);
    if (v === undefined) {
      if (fallback) {
        return this.resolveVcpu(fallback);
      }
      if (all.length === 1 || (all.length > 0 && doms.length === 1)) {
        return all[0].id;
      }
      throw new UserError('say which vCPU (dom.N)');
    }
    if (typeof v === 'number') {
      if (doms.length !== 1) {
        throw new UserError(`vCPU ${v}: a bare number needs exactly one domain; write "dom.${v}"`);
      }
      const c = doms[0].vcpus.find((x) => x.index === v);
      if (!c) {
        throw new UserError(`domain ${doms[0].name} has no vCPU ${v}`);
      }
      return c.id;
    }
    const s = String(v);
    const c = all.find((x) => x.id === s || `${x.dom}.${x.index}` === s);
    if (!c) {
      if (/^\d+$/.test(s)) {
        return this.resolveVcpu(Number(s));
      }
      throw new UserError(`no vCPU '${s}'`);
    }
    return c.id;
  }

  private vcpuDom(vcpu: string): string {
    const d = this.domains().find((x) => x.vcpus.some((c) => c.id === vcpu));
    if (!d) {
      throw new UserError(`no vCPU '${vcpu}'`);
    }
    return d.name;
  }

  private threadIdOf(vcpuName: string): number {
    let id = this.threadIds.get(vcpuName);
    if (id === undefined) {
      id = this.threadIds.size + 2;
      this.threadIds.set(vcpuName, id);
    }
    return id;
  }

  /** The statement the current position is about: the one inside which we stand, or the next one. */
  private currentStatement(): Statement | null {
    const program = this.program;
    const engine = this.engine;
    if (!program || !engine) {
      return null;
    }
    if (this.sub) {
      return program.statements.at(this.sub.outcome.index) ?? null;
    }
    return engine.nextIndex === null ? null : program.statements.at(engine.nextIndex) ?? null;
  }

  private activeThread(): number {
    const s = this.currentStatement();
    const v = s ? stmtVcpu(s) : null;
    return v ? this.threadIdOf(v) : MACHINE_THREAD;
  }

  private currentLine(): number | null {
    return this.currentStatement()?.pos.line ?? null;
  }

  // ---------------------------------------------------------------- expressions

  private env(extra?: Record<string, Value>): ExprEnv {
    const engine = this.mustEngine();
    const fallbackVcpu = (): string | null => {
      const s = this.currentStatement();
      return s ? stmtVcpu(s) : null;
    };
    const str = (v: Value | undefined, what: string): string => {
      if (v === undefined) {
        throw new ExprError(`missing ${what}`);
      }
      return String(v);
    };
    const numArg = (v: Value | undefined, what: string): number => {
      if (typeof v !== 'number') {
        throw new ExprError(`${what} must be a number`);
      }
      return v;
    };
    const va = (v: Value | undefined): number => {
      const n = numArg(v, 'VA');
      return n >= 2 ** 48 ? (canonicalToVa48(BigInt(Math.round(n))) ?? n) : n;
    };
    return {
      name: (id: string): Value => {
        if (extra && id in extra) {
          return extra[id];
        }
        switch (id) {
          case 'step': return engine.stepCount;
          case 'line': return this.currentLine() ?? 0;
          case 'done': return engine.done;
          case 'time': return this.summary().time;
        }
        const costs = this.summary().costs as Record<string, number>;
        if (id in costs) {
          return costs[id];
        }
        throw new ExprError(`unknown name '${id}' (try "help")`);
      },
      call: (fn: string, args: Value[]): Value => {
        switch (fn) {
          case 'dirtyCount': return engine.dirtyCount(str(args[0], 'framebuffer'));
          case 'tlbSize': return engine.tlb(this.resolveVcpu(args[0], fallbackVcpu())).length;
          case 'tlbHas': case 'tlbDirty': {
            const vcpu = this.resolveVcpu(args[0], fallbackVcpu());
            const page = Math.floor(va(args[1]) / 4096) * 4096;
            const e = engine.tlb(vcpu).find((x) => Math.floor(x.va / 4096) * 4096 === page);
            return fn === 'tlbHas' ? e !== undefined : e?.dirty ?? false;
          }
          case 'pte': case 'spte': {
            const w = engine.walk(this.resolveVcpu(args[0], fallbackVcpu()), va(args[1]));
            const levels = fn === 'pte' ? w.guest : w.shadow;
            const l1 = levels.find((l) => l.level === 1);
            const flag = str(args[2], 'flag') as keyof WalkLevelView['flags'];
            if (!l1) {
              return false;
            }
            if (!(flag in l1.flags)) {
              throw new ExprError(`unknown PTE flag '${flag}' (P RW US A D PS G NX)`);
            }
            return l1.flags[flag];
          }
          case 'gfn': case 'mfn': {
            const w = engine.walk(this.resolveVcpu(args[0], fallbackVcpu()), va(args[1]));
            return (fn === 'gfn' ? w.gfn : w.mfn) ?? -1;
          }
          case 'p2mType': {
            const e = engine.p2m(str(args[0], 'domain'), numArg(args[1], 'GFN'), 1)[0];
            return e ? e.type : 'invalid';
          }
          case 'pageState': case 'written': {
            const b = engine.bitmap(str(args[0], 'framebuffer'), numArg(args[1], 'page'), 1);
            const s = b.state[0] ?? 0;
            return fn === 'written' ? (s & PAGE_WRITTEN) !== 0 : s;
          }
          case 'violations': {
            const vs = this.summary().violations;
            return args.length ? vs.filter((v) => v.id === String(args[0])).length : vs.length;
          }
          case 'cost': {
            const costs = this.summary().costs as Record<string, number>;
            const k = str(args[0], 'counter');
            if (!(k in costs)) {
              throw new ExprError(`unknown counter '${k}'`);
            }
            return costs[k];
          }
        }
        throw new ExprError(`unknown function '${fn}' (try "help")`);
      },
    };
  }

  private evalText(parts: (string | Expr)[], env: ExprEnv): string {
    return parts.map((p) => {
      if (typeof p === 'string') {
        return p;
      }
      try {
        return showValue(evalExpr(p, env));
      } catch (e) {
        return `<${message(e)}>`;
      }
    }).join('');
  }

  // ---------------------------------------------------------------- initialize / launch

  protected override initializeRequest(response: DebugProtocol.InitializeResponse, args: DebugProtocol.InitializeRequestArguments): void {
    this.guard(response, () => {
      this.clientProgress = args?.supportsProgressReporting === true;
      this.clientInvalidated = args?.supportsInvalidatedEvent === true;
      response.body = {
        // Breakpoints: lines (adjusted to statements), conditions that read model state, hit counts, logpoints.
        supportsConfigurationDoneRequest: true,
        supportsConditionalBreakpoints: true,
        supportsHitConditionalBreakpoints: true,
        supportsLogPoints: true,
        supportsBreakpointLocationsRequest: true,
        // Event-kind breakpoints (`shadow-fault`, `tlb-flush`, or a function such as `sh_page_fault`).
        supportsFunctionBreakpoints: true,
        // PTE flags, p2m types, bitmap pages and TLB entries, from the Variables view.
        supportsDataBreakpoints: true,
        // Invariant violations.
        exceptionBreakpointFilters: [
          ...INVARIANTS.map((id) => ({
            filter: id, label: `${id}: ${INVARIANT_TEXT[id][0]}`, description: INVARIANT_TEXT[id][1], default: INVARIANT_TEXT[id][2],
            supportsCondition: true, conditionDescription: 'an expression, e.g. fb == "lfb" && pages > 1',
          })),
          {
            filter: 'any', label: 'Any invariant violation', default: false, supportsCondition: true,
            description: 'Stop on every violation (condition: e.g. id == "stale-tlb")',
            conditionDescription: 'an expression over id, fb, pages, gfn, mfn, vcpu',
          },
        ],
        supportsExceptionFilterOptions: true,
        supportsExceptionInfoRequest: true,
        // Time travel by checkpoint + replay.
        supportsStepBack: true,
        supportsGotoTargetsRequest: true,
        supportsRestartRequest: true,
        supportsTerminateRequest: true,
        // Debug Console, hex view.
        supportsEvaluateForHovers: false,
        supportsReadMemoryRequest: true,
        supportsWriteMemoryRequest: false,
        supportsSetVariable: false,
        supportsStepInTargetsRequest: false,
        // Debug Console completion of commands, functions, names and the trace's framebuffers and vCPUs.
        supportsCompletionsRequest: true,
        completionTriggerCharacters: ['(', '"', ' '],
        supportsCancelRequest: false,
      };
      this.sendResponse(response);
      this.sendEvent(new InitializedEvent());
    });
  }

  protected override configurationDoneRequest(response: DebugProtocol.ConfigurationDoneResponse, _args: DebugProtocol.ConfigurationDoneArguments): void {
    this.configurationDone = true;
    for (const w of this.configWaiters.splice(0)) {
      w();
    }
    this.sendResponse(response);
  }

  private waitForConfiguration(ms: number): Promise<void> {
    if (this.configurationDone) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.configWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  private validateLaunch(raw: unknown): XplLaunchArguments {
    const a = (raw ?? {}) as Record<string, unknown>;
    if (typeof a.trace !== 'string' || a.trace === '') {
      throw new UserError('launch: "trace" must be the path of a .xpt file');
    }
    if (a.tracker !== undefined && !(typeof a.tracker === 'string' && (TRACKERS as readonly string[]).includes(a.tracker))) {
      throw new UserError(`launch: "tracker" must be one of ${TRACKERS.join(', ')}`);
    }
    if (a.inject !== undefined) {
      const list = typeof a.inject === 'string' ? [a.inject] : a.inject;
      if (!Array.isArray(list) || !list.every((b) => typeof b === 'string' && (BUGS as readonly string[]).includes(b))) {
        throw new UserError(`launch: "inject" must be a bug or a list of bugs among ${BUGS.join(', ')}`);
      }
    }
    if (a.checkpointInterval !== undefined && !(typeof a.checkpointInterval === 'number' && Number.isInteger(a.checkpointInterval) && a.checkpointInterval >= 0)) {
      throw new UserError('launch: "checkpointInterval" must be a whole number ≥ 0');
    }
    if (a.costs !== undefined && !(typeof a.costs === 'object' && a.costs !== null && !Array.isArray(a.costs)
      && Object.entries(a.costs).every(([k, v]) => (COUNTERS as readonly string[]).includes(k) && typeof v === 'number' && Number.isFinite(v) && v >= 0))) {
      throw new UserError(`launch: "costs" must map counters (${COUNTERS.join(', ')}) to cycle prices ≥ 0`);
    }
    if (a.noDebug !== undefined && typeof a.noDebug !== 'boolean') {
      throw new UserError('launch: "noDebug" must be true or false');
    }
    if (a.stopOnEntry !== undefined && typeof a.stopOnEntry !== 'boolean') {
      throw new UserError('launch: "stopOnEntry" must be true or false');
    }
    return a as unknown as XplLaunchArguments;
  }

  /** Read and parse the trace, and make a fresh engine. Throws the trace's `FILE:LINE:COL` error. */
  private async load(args: XplLaunchArguments): Promise<void> {
    let text: string;
    try {
      text = await this.files.readFile(args.trace);
    } catch (e) {
      throw new UserError(`cannot read ${args.trace}: ${message(e)}`);
    }
    const program = await parseTraceSliced(text, args.trace);
    const options: RunOptions = {};
    if (args.tracker) {
      options.tracker = args.tracker as TrackerId;
    }
    if (args.inject !== undefined) {
      options.inject = (typeof args.inject === 'string' ? [args.inject] : args.inject) as BugId[];
    }
    options.checkpointInterval = args.checkpointInterval ?? DEFAULT_CHECKPOINT_INTERVAL;
    if (args.costs) {
      options.costs = args.costs as Partial<Record<CounterName, number>>;
    }
    const engine = createEngine(program, options);
    engine.recordEvents = true;
    this.generation++;
    this.engine = engine;
    this.program = program;
    this.launchArgs = args;
    this.traceKey = path.resolve(args.trace);
    this.lines = text.split(/\r?\n/);
    this.sub = null;
    this.lastOutcome = null;
    this.lastHit = null;
    this.faulted = null;
    this.running = false;
    this.pauseRequested = false;
    this.marks.clear();
    this.costSamples.clear();
    this.costSamples.note(engine.stepCount, () => engine.costTotals());
    this.conditionErrors.clear();
    this.doneSeen = false;
    this.maxStep = 0;
    for (const bp of [...this.lineBps.values()].flat()) {
      bp.hits = 0;
    }
    for (const bp of [...this.fnBps, ...this.dataBps]) {
      bp.hits = 0;
    }
    this.reverifyBreakpoints(program);
    this.resetDataValues();
  }

  protected override launchRequest(response: DebugProtocol.LaunchResponse, rawArgs: DebugProtocol.LaunchRequestArguments): void {
    this.guard(response, async () => {
      if (this.engine) {
        throw new UserError('already launched');
      }
      const args = this.validateLaunch(rawArgs);
      await this.load(args);
      await this.waitForConfiguration(2000);
      this.sendResponse(response);
      if (!this.closed) {
        this.begin(args);
      }
    });
  }

  private begin(args: XplLaunchArguments): void {
    if (args.noDebug) {
      void this.runToEndNoDebug();
      return;
    }
    if (args.stopOnEntry) {
      this.stopAt({ reason: 'entry', description: 'Paused before the first statement', event: null });
      return;
    }
    const first = this.checkBoundary(false);
    if (first) {
      this.stopAt(first);
      return;
    }
    void this.runForward();
  }

  protected override attachRequest(response: DebugProtocol.AttachResponse, _args: DebugProtocol.AttachRequestArguments): void {
    this.guard(response, () => {
      throw new UserError('there is nothing to attach to: use "request": "launch" with a "trace"');
    });
  }

  protected override restartRequest(response: DebugProtocol.RestartResponse, args: DebugProtocol.RestartArguments): void {
    this.guard(response, async () => {
      this.mustEngine();
      const next = args?.arguments && 'trace' in args.arguments ? this.validateLaunch(args.arguments) : this.launchArgs;
      if (!next) {
        throw new UserError('nothing to restart');
      }
      // Abandon a run in progress at once (it must not report a pause of the old model).
      const wasRunning = this.running;
      this.generation++;
      this.running = false;
      try {
        await this.load(next);
      } catch (e) {
        if (wasRunning) {
          this.stopAt({ reason: 'pause', description: 'Paused: the restart failed', event: null });
        }
        throw e;
      }
      this.sendResponse(response);
      if (this.closed) {
        return;
      }
      if (this.clientInvalidated) {
        this.sendEvent(new InvalidatedEvent(['all']));
      }
      this.begin(next);
    });
  }

  protected override disconnectRequest(response: DebugProtocol.DisconnectResponse, _args: DebugProtocol.DisconnectArguments): void {
    this.closed = true;
    this.generation++;
    this.pauseRequested = true;
    this.running = false;
    this.sendResponse(response);
    this.shutdown();
  }

  protected override terminateRequest(response: DebugProtocol.TerminateResponse, _args: DebugProtocol.TerminateArguments): void {
    this.closed = true;
    this.generation++;
    this.pauseRequested = true;
    this.running = false;
    this.sendResponse(response);
    this.sendEvent(new TerminatedEvent());
  }

  // ---------------------------------------------------------------- breakpoints

  private stepLines(program: Program): number[] {
    const set = new Set<number>();
    const st = program.statements;
    for (let i = 0; i < st.length; i++) {
      const op = st.opAt(i);
      if (op !== 'repeat' && op !== 'end') {
        set.add(st.lineAt(i));
      }
    }
    return [...set].sort((a, b) => a - b);
  }

  private async programFor(file: string): Promise<Program | null> {
    if (this.program && path.resolve(file) === this.traceKey) {
      return this.program;
    }
    try {
      return await parseTraceSliced(await this.files.readFile(file), file);
    } catch {
      return null;
    }
  }

  private verifyLine(lines: number[], line: number): number | null {
    return lines.find((l) => l >= line) ?? null;
  }

  protected override setBreakPointsRequest(response: DebugProtocol.SetBreakpointsResponse, args: DebugProtocol.SetBreakpointsArguments): void {
    this.guard(response, async () => {
      const file = args.source?.path;
      if (!file) {
        throw new UserError('setBreakpoints: the source needs a path');
      }
      const wanted: DebugProtocol.SourceBreakpoint[] = (args.breakpoints ?? (args.lines ?? []).map((line) => ({ line })))
        .map((w) => ({ ...w, line: this.convertClientLineToDebugger(w.line) }));
      const program = await this.programFor(file);
      const lines = program ? this.stepLines(program) : [];
      // Once a trace runs, only its own breakpoints can be hit.
      const elsewhere = this.traceKey !== '' && path.resolve(file) !== this.traceKey;
      const list: LineBp[] = [];
      const out: DebugProtocol.Breakpoint[] = [];
      for (const w of wanted) {
        const id = this.nextBpId++;
        const bp: LineBp = { id, requested: w.line, line: null, hits: 0, elsewhere };
        let problem: string | undefined;
        try {
          if (w.condition) {
            bp.condition = parseExpr(w.condition);
          }
          if (w.hitCondition) {
            bp.hit = parseHit(w.hitCondition);
          }
          if (w.logMessage) {
            bp.log = parseLogMessage(w.logMessage);
          }
        } catch (e) {
          problem = message(e);
        }
        const at = program ? this.verifyLine(lines, w.line) : null;
        const b = new Breakpoint(at !== null && !problem && !elsewhere, this.convertDebuggerLineToClient(at ?? w.line)) as DebugProtocol.Breakpoint;
        b.id = id;
        b.source = new Source(path.basename(file), file);
        if (problem) {
          b.message = problem;
        } else if (elsewhere) {
          b.message = NOT_THIS_TRACE;
        } else if (!program) {
          b.message = 'the trace does not parse; fix it and restart';
        } else if (at === null) {
          b.message = 'no statement at or after this line';
        }
        if (!problem) {
          // Kept even when unverified: a restart of the edited trace may give it a statement.
          bp.line = at;
          list.push(bp);
        }
        out.push(b);
      }
      this.lineBps.set(path.resolve(file), list);
      response.body = { breakpoints: out };
      this.sendResponse(response);
    });
  }

  /** After a (re)load the file may have changed: place breakpoints on statement lines again and tell the client. */
  private reverifyBreakpoints(program: Program): void {
    for (const [key, others] of this.lineBps) {
      if (key !== this.traceKey) {
        for (const bp of others) {
          bp.elsewhere = true;
          const b = new Breakpoint(false, this.convertDebuggerLineToClient(bp.line ?? bp.requested)) as DebugProtocol.Breakpoint;
          b.id = bp.id;
          b.message = NOT_THIS_TRACE;
          this.sendEvent(new BreakpointEvent('changed', b));
        }
      }
    }
    const bps = this.lineBps.get(this.traceKey);
    if (!bps) {
      return;
    }
    const lines = this.stepLines(program);
    for (const bp of bps) {
      const at = this.verifyLine(lines, bp.requested);
      if (at !== bp.line || bp.elsewhere) {
        bp.line = at;
        bp.elsewhere = false;
        const b = new Breakpoint(at !== null, this.convertDebuggerLineToClient(at ?? bp.requested)) as DebugProtocol.Breakpoint;
        b.id = bp.id;
        if (at === null) {
          b.message = 'no statement at or after this line';
        }
        this.sendEvent(new BreakpointEvent('changed', b));
      }
    }
  }

  protected override breakpointLocationsRequest(response: DebugProtocol.BreakpointLocationsResponse, args: DebugProtocol.BreakpointLocationsArguments): void {
    this.answer(false, response, async () => {
      const file = args.source?.path;
      const program = file ? await this.programFor(file) : null;
      const first = this.convertClientLineToDebugger(args.line);
      const end = this.convertClientLineToDebugger(args.endLine ?? args.line);
      const lines = program ? this.stepLines(program).filter((l) => l >= first && l <= end) : [];
      response.body = { breakpoints: lines.map((line) => ({ line: this.convertDebuggerLineToClient(line) })) };
      this.sendResponse(response);
    });
  }

  protected override setFunctionBreakPointsRequest(response: DebugProtocol.SetFunctionBreakpointsResponse, args: DebugProtocol.SetFunctionBreakpointsArguments): void {
    this.guard(response, () => {
      const out: DebugProtocol.Breakpoint[] = [];
      this.fnBps = [];
      for (const f of args.breakpoints ?? []) {
        const id = this.nextBpId++;
        const b = new Breakpoint(true) as DebugProtocol.Breakpoint;
        b.id = id;
        try {
          const name = f.name.trim();
          if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(name)) {
            throw new UserError(`'${f.name}' is not an event kind (${EVENT_KINDS.join(', ')}) or a function name`);
          }
          this.fnBps.push({
            id, name, hits: 0,
            condition: f.condition ? parseExpr(f.condition) : undefined,
            hit: f.hitCondition ? parseHit(f.hitCondition) : undefined,
          });
          if (!(EVENT_KINDS as readonly string[]).includes(name)) {
            b.message = `not an event kind: stops on events from the function '${name}'`;
          }
        } catch (e) {
          b.verified = false;
          b.message = message(e);
        }
        out.push(b);
      }
      response.body = { breakpoints: out };
      this.sendResponse(response);
    });
  }

  protected override setExceptionBreakPointsRequest(response: DebugProtocol.SetExceptionBreakpointsResponse, args: DebugProtocol.SetExceptionBreakpointsArguments): void {
    this.guard(response, () => {
      const known = [...INVARIANTS, 'any'] as string[];
      const filters = new Map<string, Expr | undefined>();
      const out: DebugProtocol.Breakpoint[] = [];
      const add = (id: string, condition?: string): void => {
        const b = new Breakpoint(true) as DebugProtocol.Breakpoint;
        if (!known.includes(id)) {
          b.verified = false;
          b.message = `unknown invariant '${id}'`;
        } else {
          try {
            filters.set(id, condition ? parseExpr(condition) : undefined);
          } catch (e) {
            b.verified = false;
            b.message = message(e);
          }
        }
        out.push(b);
      };
      for (const f of args.filters ?? []) {
        add(f);
      }
      for (const o of args.filterOptions ?? []) {
        add(o.filterId, o.condition);
      }
      this.exFilters = filters;
      response.body = { breakpoints: out };
      this.sendResponse(response);
    });
  }

  // ---------------------------------------------------------------- data breakpoints

  /** The current value of a data breakpoint target, as text (compared between steps). */
  private readData(dataId: string): string {
    const engine = this.mustEngine();
    const parts = dataId.split(':');
    switch (parts[0]) {
      case 'pte': case 'spte': {
        const [, vcpu, vaText, levelText, flag] = parts;
        const w = engine.walk(vcpu, parseNumber(vaText, 'VA'));
        const l = (parts[0] === 'pte' ? w.guest : w.shadow).find((x) => x.level === Number(levelText));
        if (!l) {
          return 'absent';
        }
        if (flag) {
          return String(l.flags[flag as keyof WalkLevelView['flags']]);
        }
        return l.raw;
      }
      case 'p2m': {
        const e = engine.p2m(parts[1], parseNumber(parts[2], 'GFN'), 1)[0];
        return e ? e.type : 'invalid';
      }
      case 'bit': {
        const b = engine.bitmap(parts[1], parseNumber(parts[2], 'page'), 1);
        return pageStateText(b.state[0] ?? 0);
      }
      case 'tlb': {
        const va = parseNumber(parts[2], 'VA');
        const e = engine.tlb(parts[1]).find((x) => Math.floor(x.va / 4096) === Math.floor(va / 4096));
        return e ? `mfn ${hex(e.mfn)} ${e.writable ? 'W' : 'R'}${e.dirty ? ' D' : ''}${e.stale ? ` stale:${e.stale}` : ''}` : 'absent';
      }
    }
    throw new UserError(`'${dataId}' is not a data breakpoint target`);
  }

  private describeData(dataId: string): string {
    const p = dataId.split(':');
    switch (p[0]) {
      case 'pte': return `guest L${p[3]} PTE${p[4] ? ` ${p[4]} bit` : ''} for ${p[2]} on ${p[1]}`;
      case 'spte': return `shadow L${p[3]} PTE${p[4] ? ` ${p[4]} bit` : ''} for ${p[2]} on ${p[1]}`;
      case 'p2m': return `p2m type of gfn ${p[2]} in ${p[1]}`;
      case 'bit': return `state of page ${p[2]} of ${p[1]}`;
      case 'tlb': return `TLB entry for ${p[2]} on ${p[1]}`;
    }
    return dataId;
  }

  private resetDataValues(): void {
    for (const d of this.dataBps) {
      try {
        d.last = this.engine ? this.readData(d.dataId) : '';
      } catch {
        d.last = 'absent';
      }
    }
  }

  protected override dataBreakpointInfoRequest(response: DebugProtocol.DataBreakpointInfoResponse, args: DebugProtocol.DataBreakpointInfoArguments): void {
    this.answer(false, response, () => {
      const known = args.variablesReference !== undefined ? this.dataInfo.get(`${args.variablesReference}\u0000${args.name}`) : undefined;
      if (known) {
        response.body = { dataId: known.dataId, description: known.description, accessTypes: ['write'], canPersist: true };
      } else if (/^(s?pte|p2m|bit|tlb):/.test(args.name)) {
        response.body = { dataId: args.name, description: this.describeData(args.name), accessTypes: ['write'], canPersist: true };
      } else {
        response.body = { dataId: null, description: `'${args.name}' cannot be watched (PTE flags, p2m types, bitmap pages and TLB entries can)` };
      }
      this.sendResponse(response);
    });
  }

  protected override setDataBreakpointsRequest(response: DebugProtocol.SetDataBreakpointsResponse, args: DebugProtocol.SetDataBreakpointsArguments): void {
    this.guard(response, () => {
      const out: DebugProtocol.Breakpoint[] = [];
      this.dataBps = [];
      for (const d of args.breakpoints ?? []) {
        const id = this.nextBpId++;
        const b = new Breakpoint(true) as DebugProtocol.Breakpoint;
        b.id = id;
        try {
          if (!/^(s?pte|p2m|bit|tlb):/.test(d.dataId)) {
            throw new UserError(`'${d.dataId}' is not a data breakpoint target`);
          }
          let last = '';
          try {
            last = this.engine ? this.readData(d.dataId) : '';
          } catch {
            last = 'absent';
          }
          this.dataBps.push({
            id, dataId: d.dataId, last, hits: 0,
            condition: d.condition ? parseExpr(d.condition) : undefined,
            hit: d.hitCondition ? parseHit(d.hitCondition) : undefined,
          });
          b.message = this.describeData(d.dataId);
        } catch (e) {
          b.verified = false;
          b.message = message(e);
        }
        out.push(b);
      }
      response.body = { breakpoints: out };
      this.sendResponse(response);
    });
  }

  // ---------------------------------------------------------------- stop conditions

  private condOk(c: Expr | undefined, extra?: Record<string, Value>): boolean {
    if (!c) {
      return true;
    }
    try {
      return truthy(evalExpr(c, this.env(extra)));
    } catch (e) {
      // Not true (yet): e.g. the vCPU or framebuffer it names is declared later. Say so once.
      const why = message(e);
      if (!this.conditionErrors.has(why)) {
        this.conditionErrors.add(why);
        this.output(`breakpoint condition is false where it cannot be evaluated: ${why}\n`, 'console');
      }
      return false;
    }
  }

  /** Record what a step did, and (outside scans) show its notes and violations. */
  private noteOutcome(o: StepOutcome, scan: boolean): void {
    this.lastOutcome = o;
    if (o.step > this.maxStep) {
      this.maxStep = o.step;
    }
    const engine = this.engine;
    if (engine && engine.stepCount === o.step) {
      this.costSamples.note(o.step, () => engine.costTotals());
    }
    if (this.marks.size < MAX_MARKS || this.marks.has(o.step)) {
      const mark = timelineMark(o);
      if (mark) {
        this.marks.set(o.step, mark);
      }
    }
    if (scan) {
      return;
    }
    if (o.note !== undefined) {
      this.output(`${o.note}\n`, 'console', o.line);
    }
    for (const v of o.violations) {
      this.output(`violation ${v.id} at line ${v.line}: ${v.message}\n`, 'stderr', v.line);
    }
    if (o.expectFailure) {
      this.output(`expect failed at line ${o.line}: ${o.expectFailure}\n`, 'stderr', o.line);
    }
  }

  private output(text: string, category: string, line?: number): void {
    const e = new OutputEvent(text, category) as DebugProtocol.OutputEvent;
    if (line !== undefined) {
      e.body.source = this.source();
      e.body.line = this.convertDebuggerLineToClient(line);
      e.body.column = this.convertDebuggerColumnToClient(1);
    }
    this.sendEvent(e);
  }

  private violationExtra(v: ViolationRecord): Record<string, Value> {
    return {
      id: v.id, fb: v.fb ?? '', pages: v.pages?.length ?? 0, gfn: v.gfn ?? -1, mfn: v.mfn ?? -1,
      vcpu: v.vcpu ?? '', va: v.va ?? '', vline: v.line,
    };
  }

  /** Stops due to the step just run (violations, event kinds). `scan` = counting nothing, printing nothing. */
  private checkEvents(o: StepOutcome, scan: boolean, after = -1): Hit | null {
    // The statement's events in order: the earliest one that a violation filter or a function
    // breakpoint stops on wins, with every function breakpoint that matches it. `after`: the event
    // the session stopped on inside this statement (resuming from there looks at later ones only).
    const vEvents: number[] = [];
    o.events.forEach((e, i) => {
      if (e.kind === 'violation') {
        vEvents.push(i);
      }
    });
    let best: Hit | null = null;
    let bestAt = Infinity;
    o.violations.forEach((v, k) => {
      // Without recorded events (bulk runs) a violation has no event: it is the statement's first stop.
      const at = k < vEvents.length ? vEvents[k] : -1;
      if ((at >= 0 && at <= after) || at >= bestAt) {
        return;
      }
      const extra = this.violationExtra(v);
      const specific = this.exFilters.has(v.id) && this.condOk(this.exFilters.get(v.id), extra);
      const any = this.exFilters.has('any') && this.condOk(this.exFilters.get('any'), extra);
      if (specific || any) {
        best = { reason: 'exception', description: `Paused on invariant violation: ${v.id}`, text: v.id, event: at >= 0 ? at : null, violation: v };
        bestAt = at;
      }
    });
    const matches = (f: FnBp, i: number): boolean => o.events[i].kind === f.name || o.events[i].fn === f.name;
    const fnHits: { f: FnBp; at: number }[] = [];
    for (const f of this.fnBps) {
      let at = -1;
      for (let i = after + 1; i < o.events.length; i++) {
        if (matches(f, i)) {
          at = i;
          break;
        }
      }
      if (at < 0 || !this.condOk(f.condition)) {
        continue;
      }
      if (!scan) {
        // One arrival per statement: resuming inside it does not count the breakpoint again.
        let earlier = false;
        for (let i = 0; i <= after && !earlier; i++) {
          earlier = matches(f, i);
        }
        if (!earlier) {
          f.hits++;
        }
        if (!hitOk(f.hit, f.hits)) {
          continue;
        }
      }
      fnHits.push({ f, at });
    }
    const first = fnHits.reduce((m, h) => Math.min(m, h.at), Infinity);
    if (first < bestAt) {
      const ev = o.events[first];
      return { reason: 'function breakpoint', description: `Paused on ${ev.kind} (${ev.fn})`, event: first, bpIds: fnHits.filter((h) => h.at === first).map((h) => h.f.id) };
    }
    return best;
  }

  /** Stops at the boundary now reached (data breakpoints, then line breakpoints). */
  private checkBoundary(scan: boolean, dataValues?: Map<number, string>): Hit | null {
    const engine = this.mustEngine();
    for (const d of this.dataBps) {
      let now: string;
      try {
        now = this.readData(d.dataId);
      } catch {
        now = 'absent';
      }
      const before = dataValues ? dataValues.get(d.id) ?? now : d.last;
      if (dataValues) {
        dataValues.set(d.id, now);
      } else {
        d.last = now;
      }
      if (now !== before && this.condOk(d.condition)) {
        if (!scan) {
          d.hits++;
          if (!hitOk(d.hit, d.hits)) {
            continue;
          }
        }
        return {
          reason: 'data breakpoint', description: `${this.describeData(d.dataId)} changed: ${before} → ${now}`,
          event: null, bpIds: [d.id],
        };
      }
    }
    if (engine.nextIndex === null) {
      return null;
    }
    const line = this.program?.statements.lineAt(engine.nextIndex);
    const all = this.lineBps.get(this.traceKey);
    if (!all || all.length === 0) {
      return null;
    }
    const bps = all.filter((b) => b.line === line);
    const hits: number[] = [];
    for (const bp of bps) {
      if (!this.condOk(bp.condition)) {
        continue;
      }
      if (!scan) {
        bp.hits++;
        if (!hitOk(bp.hit, bp.hits)) {
          continue;
        }
        if (bp.log) {
          this.output(this.evalText(bp.log, this.env()) + '\n', 'console', line);
          continue;
        }
      } else if (bp.log) {
        continue;
      }
      hits.push(bp.id);
    }
    return hits.length ? { reason: 'breakpoint', description: `Paused on breakpoint at line ${line}`, event: null, bpIds: hits } : null;
  }

  // ---------------------------------------------------------------- running

  /** Drop the variables of the last stop; new references continue above the old ones. */
  private resetVars(): void {
    this.vars = new Handles<VarContainer>(this.lastVarRef + 1);
  }
  private varRef(c: VarContainer): number {
    const ref = this.vars.create(c);
    this.lastVarRef = Math.max(this.lastVarRef, ref);
    return ref;
  }

  private beginRun(): number {
    this.running = true;
    this.pauseRequested = false;
    this.sub = null;
    this.resetVars();
    this.dataInfo.clear();
    return this.generation;
  }

  private stopAt(hit: Hit): void {
    const engine = this.mustEngine();
    this.running = false;
    this.lastHit = hit;
    this.sub = hit.event !== null && this.lastOutcome && this.lastOutcome.step === engine.stepCount
      ? { outcome: this.lastOutcome, event: hit.event }
      : null;
    this.resetVars();
    this.dataInfo.clear();
    // Data breakpoints compare against the state where the session stops (a stop on an event or a
    // violation skips the boundary check that would otherwise record it).
    this.resetDataValues();
    const ev = new StoppedEvent(hit.reason, this.activeThread(), hit.text) as DebugProtocol.StoppedEvent;
    ev.body.description = hit.description;
    ev.body.allThreadsStopped = true;
    if (hit.bpIds) {
      ev.body.hitBreakpointIds = hit.bpIds;
    }
    this.sendEvent(ev);
    this.sendStepped();
  }

  private sendStepped(): void {
    const engine = this.mustEngine();
    const o = this.lastOutcome && this.lastOutcome.step === engine.stepCount ? this.lastOutcome : null;
    this.sendEvent(new Event(STEPPED_EVENT, steppedBody(engine, o, this.currentLine())));
  }

  private fault(e: unknown): void {
    this.running = false;
    const text = message(e);
    if (!(e instanceof TraceError || e instanceof SimError || e instanceof UserError)) {
      this.output(`internal error: ${e instanceof Error ? e.stack ?? text : text}\n`, 'stderr');
    }
    this.faulted = text;
    this.output(`${text}\n`, 'stderr', this.currentLine() ?? undefined);
    this.stopAt({ reason: 'exception', description: 'The model cannot carry out this statement', text, event: null });
  }

  private reachedEnd(): void {
    this.endSummary();
    this.stopAt({ reason: 'end', description: 'End of the trace: step back, restart, or continue to finish', event: null });
  }
  /** The run's summary in the Debug Console, once the trace's last statement has run. */
  private endSummary(): void {
    const r = this.mustEngine().report();
    this.output(
      `end of trace: ${r.steps} steps, ${r.violations.length} violation(s), expects ${r.expects.passed} passed, ${r.expects.failed.length} failed\n`,
      'console',
    );
  }
  /** The exit status `xpl check` would give the run: 1 if an expect failed, else 0. */
  private exitCode(): number {
    return this.mustEngine().report().expects.failed.length > 0 ? 1 : 0;
  }
  /**
   * `continue` or a step past the last statement: nowhere to go, so the session finishes with the
   * status `xpl check` would give.
   */
  private finishAtEnd(response: DebugProtocol.Response): void {
    this.sendResponse(response);
    this.finish(this.exitCode());
  }
  /** The session ends: its exit status, then terminated. */
  private finish(code: number): void {
    this.running = false;
    this.sendEvent(new ExitedEvent(code));
    this.sendEvent(new TerminatedEvent());
  }

  /** Progress in the client's status bar for replays of many steps (reverse continue, goto, seek ahead). */
  private progress(title: string, steps: number): { update(done: number): void; end(): void } {
    if (!this.clientProgress || steps < PROGRESS_MIN_STEPS) {
      return { update: () => undefined, end: () => undefined };
    }
    const id = `xpl-${this.nextProgressId++}`;
    this.sendEvent(new ProgressStartEvent(id, title, `${steps} steps`));
    let shown = -1;
    return {
      update: (done: number): void => {
        const pct = Math.min(100, Math.floor((100 * done) / steps));
        if (pct !== shown) {
          shown = pct;
          const e = new ProgressUpdateEvent(id, `step ${done} of ${steps}`) as DebugProtocol.ProgressUpdateEvent;
          e.body.percentage = pct;
          this.sendEvent(e);
        }
      },
      end: (): void => this.sendEvent(new ProgressEndEvent(id)),
    };
  }

  /** Run forward in slices until a stop condition; `extra` adds a stop condition checked at boundaries. */
  private async runForward(extra?: () => Hit | null): Promise<void> {
    const engine = this.mustEngine();
    // Stopped inside a statement: its later events, then the boundary after it, come first.
    const inside = this.sub;
    const gen = this.beginRun();
    const box: { hit: Hit | null } = { hit: null };
    try {
      if (inside !== null) {
        const hit = this.checkEvents(inside.outcome, false, inside.event) ?? this.checkBoundary(false) ?? (extra ? extra() : null);
        if (hit) {
          this.stopAt(hit);
          return;
        }
      }
      for (;;) {
        await yieldTurn();
        if (gen !== this.generation) {
          return;
        }
        if (this.pauseRequested) {
          this.stopAt({ reason: 'pause', description: 'Paused', event: null });
          return;
        }
        if (engine.done) {
          this.reachedEnd();
          return;
        }
        box.hit = null;
        const r = engine.run({
          deadline: performance.now() + SLICE_MS,
          stop: (o) => {
            this.noteOutcome(o, false);
            box.hit = this.checkEvents(o, false) ?? this.checkBoundary(false) ?? (extra ? extra() : null);
            return box.hit !== null;
          },
        });
        if (box.hit) {
          this.stopAt(box.hit);
          return;
        }
        if (r.reason === 'done' || engine.done) {
          this.reachedEnd();
          return;
        }
      }
    } catch (e) {
      if (gen === this.generation) {
        this.fault(e);
      }
    }
  }

  private async runToEndNoDebug(): Promise<void> {
    const engine = this.mustEngine();
    const gen = this.beginRun();
    // Nobody will step into anything: run at bulk speed (notes and violations do not need events).
    engine.recordEvents = false;
    try {
      while (!engine.done) {
        await yieldTurn();
        if (gen !== this.generation) {
          return;
        }
        engine.run({ deadline: performance.now() + SLICE_MS, stop: (o) => { this.noteOutcome(o, false); return false; } });
      }
      this.endSummary();
      this.finish(this.exitCode());
    } catch (e) {
      this.output(`${message(e)}\n`, 'stderr');
      this.finish(2);
    }
  }

  /** Execute exactly one statement (no breakpoints), reporting its outcome. */
  private stepOne(): StepOutcome {
    const engine = this.mustEngine();
    const o = engine.step();
    this.noteOutcome(o, false);
    return o;
  }

  /**
   * Go to a position in time. Positions are ordered boundary(0) < inside(1) < boundary(1) < inside(2) …;
   * `inside` needs the step's outcome, so it seeks to the step before and runs the step — also used
   * at a boundary to know what the landing step did (step back, `xpl/seek`), for the visualizer.
   */
  private travel(step: number, inside: boolean): StepOutcome | null {
    const engine = this.mustEngine();
    this.faulted = null;
    if (inside && step >= 1) {
      engine.seek(step - 1);
      const o = engine.step();
      this.noteOutcome(o, true);
      return o;
    }
    engine.seek(step);
    this.lastOutcome = null;
    return null;
  }

  /** Where a travel to the state after `to` steps replays from: here if ahead is closer, else the nearest checkpoint. */
  private replayBase(to: number): number {
    const engine = this.mustEngine();
    const cp = engine.checkpointSteps().filter((c) => c <= to).reduce((a, c) => Math.max(a, c), 0);
    return engine.stepCount <= to ? Math.max(cp, engine.stepCount) : cp;
  }

  /**
   * `travel`, in slices when the replay it takes is long (the adapter, inside the extension host,
   * keeps answering; progress is shown). False when the run was abandoned meanwhile (a restart, a
   * disconnect); a pause waits for the travel to finish.
   */
  private async travelSliced(step: number, inside: boolean, gen: number): Promise<boolean> {
    const engine = this.mustEngine();
    const to = inside && step >= 1 ? step - 1 : step;
    const base = this.replayBase(to);
    if (to - base <= SYNC_REPLAY_MAX) {
      this.travel(step, inside);
      return true;
    }
    if (base !== engine.stepCount) {
      this.travel(base, false);
    }
    const bar = this.progress(`Replaying to step ${to}`, to - base);
    try {
      while (engine.stepCount < to) {
        await yieldTurn();
        bar.update(engine.stepCount - base);
        if (gen !== this.generation) {
          return false;
        }
        engine.run({ maxSteps: to - engine.stepCount, deadline: performance.now() + SLICE_MS, stop: (o) => { this.noteOutcome(o, true); return false; } });
      }
    } finally {
      bar.end();
    }
    this.lastOutcome = null;
    if (inside && step >= 1) {
      this.noteOutcome(engine.step(), true);
    }
    return true;
  }

  /**
   * Replay from the start up to (not including) position `limit` (2·step for a boundary, 2·step−1 inside
   * a step) and return the last position where `test` says stop. Runs in slices.
   */
  private async scanBack(limit: number, test: (o: StepOutcome | null, pos: number) => Hit | null, gen: number): Promise<{ pos: number; hit: Hit } | null> {
    const engine = this.mustEngine();
    engine.seek(0);
    let found: { pos: number; hit: Hit } | null = null;
    const h0 = test(null, 0);
    if (h0 && limit > 0) {
      found = { pos: 0, hit: h0 };
    }
    const lastStep = Math.floor(limit / 2);
    const bar = this.progress('Replaying from the start', lastStep);
    try {
      while (engine.stepCount < lastStep && !engine.done) {
        await yieldTurn();
        bar.update(engine.stepCount);
        if (gen !== this.generation) {
          return null;
        }
        if (this.pauseRequested) {
          break;
        }
        engine.run({
          maxSteps: lastStep - engine.stepCount,
          deadline: performance.now() + SLICE_MS,
          stop: (o) => {
            this.noteOutcome(o, true);
            const he = test(o, 2 * o.step - 1);
            if (he && 2 * o.step - 1 < limit) {
              found = { pos: 2 * o.step - 1, hit: he };
            }
            const hb = test(null, 2 * o.step);
            if (hb && 2 * o.step < limit) {
              found = { pos: 2 * o.step, hit: hb };
            }
            return false;
          },
        });
      }
    } finally {
      bar.end();
    }
    return found;
  }

  private position(): number {
    const engine = this.mustEngine();
    return this.sub ? 2 * engine.stepCount - 1 : 2 * engine.stepCount;
  }

  private async reverse(): Promise<void> {
    const gen = this.beginRunKeepingSub();
    const limit = this.position();
    try {
      const dataValues = new Map<number, string>();
      const found = await this.scanBack(limit, (o, pos) => {
        if (o) {
          return this.checkEvents(o, true);
        }
        if (pos === 0) {
          for (const d of this.dataBps) {
            try {
              dataValues.set(d.id, this.readData(d.dataId));
            } catch {
              dataValues.set(d.id, 'absent');
            }
          }
        }
        return this.checkBoundary(true, dataValues);
      }, gen);
      if (gen !== this.generation) {
        return;
      }
      if (this.pauseRequested) {
        // The replay had not reached where reverse continue started: go back there (the stops the
        // scan found so far were only candidates; the last one before the start was not known yet).
        this.pauseRequested = false;
        if (await this.travelSliced(Math.ceil(limit / 2), limit % 2 === 1, gen)) {
          this.resetDataValues();
          this.stopAt({ reason: 'pause', description: 'Paused; stayed where reverse continue started', event: null });
        }
        return;
      }
      if (!found) {
        this.travel(0, false);
        this.resetDataValues();
        this.stopAt({ reason: 'entry', description: 'Reached the start of the trace', event: null });
        return;
      }
      const { pos, hit } = found as { pos: number; hit: Hit };
      if (!(await this.travelSliced(Math.ceil(pos / 2), pos % 2 === 1, gen))) {
        return;
      }
      this.resetDataValues();
      this.stopAt(hit);
    } catch (e) {
      if (gen === this.generation) {
        this.fault(e);
      }
    }
  }

  private beginRunKeepingSub(): number {
    const sub = this.sub;
    const gen = this.beginRun();
    this.sub = sub;
    return gen;
  }

  // ---------------------------------------------------------------- execution requests

  private forwardAllowed(): void {
    if (this.faulted) {
      throw new UserError(`the model stopped at an error (${this.faulted}): step back, jump elsewhere or restart`);
    }
  }

  protected override continueRequest(response: DebugProtocol.ContinueResponse, _args: DebugProtocol.ContinueArguments): void {
    this.guard(response, () => {
      const engine = this.mustBeStopped();
      this.forwardAllowed();
      response.body = { allThreadsContinued: true };
      if (engine.done) {
        this.finishAtEnd(response);
        return;
      }
      this.sendResponse(response);
      void this.runForward();
    });
  }

  protected override nextRequest(response: DebugProtocol.NextResponse, _args: DebugProtocol.NextArguments): void {
    this.guard(response, () => {
      const engine = this.mustBeStopped();
      if (this.sub) {
        // Over the current event's children: the next event at the same depth or shallower.
        const { outcome, event } = this.sub;
        const depth = outcome.events[event].depth;
        const next = outcome.events.findIndex((e, i) => i > event && e.depth <= depth);
        this.sendResponse(response);
        this.stopAt(next >= 0
          ? { reason: 'step', description: 'Step', event: next }
          : { reason: 'step', description: 'Step', event: null });
        return;
      }
      this.forwardAllowed();
      if (engine.done) {
        this.finishAtEnd(response);
        return;
      }
      this.sendResponse(response);
      this.stepStatement(false);
    });
  }

  private stepStatement(into: boolean): void {
    try {
      const o = this.stepOne();
      if (this.mustEngine().done) {
        this.endSummary();
      }
      // A step stops where a breakpoint inside the statement would (a violation filter, a function
      // breakpoint); arriving at the next line counts its breakpoints' hits and prints its
      // logpoints, and a data breakpoint the statement set off is reported as such.
      const hit = this.checkEvents(o, false);
      if (hit) {
        this.stopAt(hit);
        return;
      }
      const boundary = this.checkBoundary(false);
      if (boundary && boundary.reason === 'data breakpoint') {
        this.stopAt(boundary);
        return;
      }
      const first = into && o.events.length ? 0 : null;
      this.stopAt({ reason: 'step', description: into ? 'Stepped into the statement (state after it)' : 'Step', event: first });
    } catch (e) {
      this.fault(e);
    }
  }

  protected override stepInRequest(response: DebugProtocol.StepInResponse, _args: DebugProtocol.StepInArguments): void {
    this.guard(response, () => {
      const engine = this.mustBeStopped();
      if (this.sub) {
        const { outcome, event } = this.sub;
        this.sendResponse(response);
        const next = event + 1 < outcome.events.length ? event + 1 : null;
        this.stopAt({ reason: 'step', description: 'Step in', event: next });
        return;
      }
      this.forwardAllowed();
      if (engine.done) {
        this.finishAtEnd(response);
        return;
      }
      this.sendResponse(response);
      this.stepStatement(true);
    });
  }

  protected override stepOutRequest(response: DebugProtocol.StepOutResponse, _args: DebugProtocol.StepOutArguments): void {
    this.guard(response, () => {
      const engine = this.mustBeStopped();
      if (this.sub) {
        const { outcome, event } = this.sub;
        const depth = outcome.events[event].depth;
        const next = depth === 0 ? -1 : outcome.events.findIndex((e, i) => i > event && e.depth < depth);
        this.sendResponse(response);
        this.stopAt({ reason: 'step', description: 'Step out', event: next >= 0 ? next : null });
        return;
      }
      this.forwardAllowed();
      if (engine.done) {
        this.finishAtEnd(response);
        return;
      }
      // Out of the innermost `repeat` body: run until the statement after its `end`.
      const program = this.mustEngine().program;
      const at = engine.nextIndex ?? 0;
      const inner = program.statements.enclosingRepeats(at)[0];
      const loop = inner === undefined ? undefined : { s: program.statements.at(inner)!, i: inner };
      this.sendResponse(response);
      if (!loop || loop.s.op !== 'repeat') {
        void this.runForward();
        return;
      }
      const end = loop.s.end;
      void this.runForward(() => {
        const n = engine.nextIndex;
        return n === null || n > end || n < loop.i
          ? { reason: 'step', description: `Stepped out of repeat at line ${loop.s.pos.line}`, event: null }
          : null;
      });
    });
  }

  protected override stepBackRequest(response: DebugProtocol.StepBackResponse, _args: DebugProtocol.StepBackArguments): void {
    this.guard(response, () => {
      const engine = this.mustBeStopped();
      if (this.sub) {
        // The mirror of `next`: the previous event at the same depth or shallower.
        const { outcome, event } = this.sub;
        const depth = outcome.events[event].depth;
        let prev = -1;
        for (let i = event - 1; i >= 0; i--) {
          if (outcome.events[i].depth <= depth) {
            prev = i;
            break;
          }
        }
        if (prev >= 0) {
          this.sendResponse(response);
          this.stopAt({ reason: 'step', description: 'Step back', event: prev });
          return;
        }
      }
      const target = engine.stepCount - 1;
      if (target < 0) {
        throw new UserError('already at the start of the trace');
      }
      this.sendResponse(response);
      if (target - this.replayBase(target) > SYNC_REPLAY_MAX) {
        // Far from a checkpoint (`checkpointInterval: 0`, or a coarse one): replay in slices, so the
        // adapter (inside the extension host) keeps answering.
        void this.replayTo(target);
        return;
      }
      // The landing step is replayed with its events, so the visualizer shows what it did.
      this.travel(target, target >= 1);
      this.resetDataValues();
      this.stopAt({ reason: 'step', description: 'Step back', event: null });
    });
  }

  /** Step back far from a checkpoint: replay to `target` in slices, then stop there. */
  private async replayTo(target: number): Promise<void> {
    const gen = this.beginRun();
    this.sendEvent(new ContinuedEvent(this.activeThread(), true));
    try {
      if (await this.travelSliced(target, target >= 1, gen)) {
        this.resetDataValues();
        this.stopAt({ reason: 'step', description: 'Step back', event: null });
      }
    } catch (e) {
      if (gen === this.generation) {
        this.fault(e);
      }
    }
  }

  protected override reverseContinueRequest(response: DebugProtocol.ReverseContinueResponse, _args: DebugProtocol.ReverseContinueArguments): void {
    this.guard(response, () => {
      this.mustBeStopped();
      if (this.position() === 0) {
        throw new UserError('already at the start of the trace');
      }
      response.body = { allThreadsContinued: true };
      this.sendResponse(response);
      void this.reverse();
    });
  }

  protected override pauseRequest(response: DebugProtocol.PauseResponse, _args: DebugProtocol.PauseArguments): void {
    this.guard(response, () => {
      this.mustEngine();
      // Not running (a stop crossed the request) or Run Without Debugging (runs to the end): nothing to do.
      if (this.running && !this.launchArgs?.noDebug) {
        this.pauseRequested = true;
      }
      this.sendResponse(response);
    });
  }

  protected override gotoTargetsRequest(response: DebugProtocol.GotoTargetsResponse, args: DebugProtocol.GotoTargetsArguments): void {
    this.guard(response, () => {
      const engine = this.mustEngine();
      const lines = this.stepLines(engine.program);
      const line = this.verifyLine(lines, this.convertClientLineToDebugger(args.line));
      const targets: DebugProtocol.GotoTarget[] = [];
      if (line !== null) {
        const st = engine.program.statements;
        for (let i = 0; i < st.length; i++) {
          const op = st.opAt(i);
          if (st.lineAt(i) === line && op !== 'repeat' && op !== 'end') {
            const s = st.at(i)!;
            targets.push({
              id: i + 1, label: `travel in time to line ${line}: ${this.stmtText(s)}`,
              line: this.convertDebuggerLineToClient(line), column: this.convertDebuggerColumnToClient(s.pos.col),
            });
          }
        }
      }
      response.body = { targets };
      this.sendResponse(response);
    });
  }

  protected override gotoRequest(response: DebugProtocol.GotoResponse, args: DebugProtocol.GotoArguments): void {
    this.guard(response, () => {
      const engine = this.mustBeStopped();
      if (!Number.isInteger(args.targetId) || args.targetId < 1 || args.targetId > engine.program.statements.length) {
        throw new UserError(`no goto target ${args.targetId}`);
      }
      const index = args.targetId - 1;
      const stmt = engine.program.statements.at(index)!;
      if (!stmt || stmt.op === 'repeat' || stmt.op === 'end') {
        throw new UserError(`no goto target ${args.targetId}`);
      }
      this.sendResponse(response);
      if (this.sub === null && engine.nextIndex === index) {
        // Jump to Cursor on the line the session is stopped before: it is already there.
        this.stopAt({ reason: 'goto', description: `Already at line ${engine.program.statements.lineAt(index)}`, event: null });
        return;
      }
      void this.travelToStatement(index);
    });
  }

  /**
   * "Jump to Cursor": the latest earlier moment when the statement was next if it lies before the
   * current statement, otherwise the next such moment ahead; the other direction if none.
   */
  private async travelToStatement(index: number): Promise<void> {
    const engine = this.mustEngine();
    const gen = this.beginRunKeepingSub();
    const start = engine.stepCount;
    const here = this.position();
    this.sub = null;
    const backFirst = engine.nextIndex === null || index <= (engine.nextIndex ?? 0);
    const target = (o: StepOutcome | null): Hit | null =>
      o === null && engine.nextIndex === index ? { reason: 'goto', description: `Travelled to line ${engine.program.statements.lineAt(index)}`, event: null } : null;
    try {
      const back = async (): Promise<boolean> => {
        const found = await this.scanBack(here, (o) => target(o), gen);
        return found !== null && gen === this.generation && this.travelSliced(found.pos / 2, false, gen);
      };
      const ahead = async (): Promise<boolean> => {
        if (!(await this.travelSliced(start, false, gen))) {
          return false;
        }
        try {
          while (!engine.done) {
            if (gen !== this.generation || this.pauseRequested) {
              return false;
            }
            const r = engine.run({ deadline: performance.now() + SLICE_MS, stop: (o) => { this.noteOutcome(o, true); return engine.nextIndex === index; } });
            if (r.reason === 'stop') {
              return true;
            }
            await yieldTurn();
          }
        } catch {
          // The search ran into a statement the model cannot carry out: the line is not reachable ahead.
        }
        return false;
      };
      const ok = backFirst ? (await back()) || (await ahead()) : (await ahead()) || (await back());
      if (gen !== this.generation) {
        return;
      }
      if (!ok && !(await this.travelSliced(start, false, gen))) {
        return;
      }
      if (!ok && this.pauseRequested) {
        this.stopAt({ reason: 'pause', description: 'Paused; stayed where the jump started', event: null });
        return;
      }
      if (!ok) {
        this.output(`line ${engine.program.statements.lineAt(index)} is never reached\n`, 'console');
      }
      this.resetDataValues();
      this.stopAt(ok
        ? { reason: 'goto', description: `Travelled to line ${engine.program.statements.lineAt(index)} (step ${engine.stepCount})`, event: null }
        : { reason: 'goto', description: 'That line is never reached; stayed here', event: null });
    } catch (e) {
      if (gen === this.generation) {
        this.fault(e);
      }
    }
  }

  // ---------------------------------------------------------------- threads, stack, scopes

  protected override threadsRequest(response: DebugProtocol.ThreadsResponse): void {
    this.answer(false, response, () => {
      const threads = [new Thread(MACHINE_THREAD, 'Xen + device model')];
      if (this.engine) {
        for (const d of this.domains()) {
          for (const v of d.vcpus) {
            const name = `${d.name}.${v.index}`;
            threads.push(new Thread(this.threadIdOf(name), `vCPU ${name} (${v.process})`));
          }
        }
      }
      response.body = { threads };
      this.sendResponse(response);
    });
  }

  private threadVcpu(threadId: number): string | null {
    for (const [name, id] of this.threadIds) {
      if (id === threadId) {
        return name;
      }
    }
    return null;
  }

  /** The repeat statements enclosing statement `index`, innermost first. */
  private enclosingRepeats(index: number): Statement[] {
    const st = this.mustEngine().program.statements;
    return st.enclosingRepeats(index).map((i) => st.at(i)!);
  }

  protected override stackTraceRequest(response: DebugProtocol.StackTraceResponse, args: DebugProtocol.StackTraceArguments): void {
    this.answer(false, response, () => {
      const engine = this.mustBeStopped();
      const base = args.threadId * FRAMES_PER_THREAD;
      const src = this.source();
      const frames: StackFrame[] = [];
      const stmt = this.currentStatement();
      const active = this.activeThread();
      if (args.threadId !== active) {
        const name = this.threadVcpu(args.threadId);
        const f = new StackFrame(base, `${name ? `vCPU ${name}` : 'Xen + device model'}: not running this statement`, src, stmt?.pos.line ?? 1, 1);
        (f as DebugProtocol.StackFrame).presentationHint = 'subtle';
        frames.push(f);
      } else if (!stmt) {
        const last = engine.program.statements.at(engine.program.statements.length - 1)!;
        frames.push(new StackFrame(base, `end of trace (step ${engine.stepCount})`, src, last?.pos.line ?? 1, 1));
      } else if (this.sub) {
        const { outcome, event } = this.sub;
        const evs = outcome.events;
        const chain = [event];
        let depth = evs[event].depth;
        for (let i = event - 1; i >= 0 && depth > 0; i--) {
          if (evs[i].depth < depth) {
            chain.push(i);
            depth = evs[i].depth;
          }
        }
        chain.forEach((i, k) => {
          const e = evs[i];
          frames.push(new StackFrame(base + k, `${e.fn} — ${e.detail}`, src, outcome.line, this.eventCol(stmt, e)));
        });
        frames.push(new StackFrame(base + chain.length, `${this.stmtText(stmt)}  [step ${outcome.step}; state shown is after it]`, src, stmt.pos.line, stmt.pos.col));
        for (const r of this.enclosingRepeats(outcome.index)) {
          frames.push(new StackFrame(base + frames.length, this.stmtText(r), src, r.pos.line, r.pos.col));
        }
      } else {
        frames.push(new StackFrame(base, `${this.stmtText(stmt)}  [next: step ${engine.stepCount + 1}]`, src, stmt.pos.line, stmt.pos.col));
        for (const r of this.enclosingRepeats(engine.nextIndex ?? 0)) {
          frames.push(new StackFrame(base + frames.length, this.stmtText(r), src, r.pos.line, r.pos.col));
        }
      }
      const start = args.startFrame ?? 0;
      const count = args.levels ? args.levels : frames.length;
      const shown = frames.slice(start, start + count);
      for (const f of shown) {
        f.line = this.convertDebuggerLineToClient(f.line);
        f.column = this.convertDebuggerColumnToClient(f.column);
      }
      response.body = { stackFrames: shown, totalFrames: frames.length };
      this.sendResponse(response);
    });
  }

  /** The VA the frame is about: the event's, else the statement's. */
  private frameVa(frameId: number): number | null {
    const stmt = this.currentStatement();
    if (this.sub) {
      const { outcome, event } = this.sub;
      const k = frameId % FRAMES_PER_THREAD;
      const e = outcome.events[event];
      if (k === 0 && e.va !== undefined) {
        return e.va;
      }
    }
    return stmt ? stmtVa(stmt) : null;
  }

  protected override scopesRequest(response: DebugProtocol.ScopesResponse, args: DebugProtocol.ScopesArguments): void {
    this.answer(false, response, () => {
      this.mustBeStopped();
      const threadId = Math.floor(args.frameId / FRAMES_PER_THREAD);
      const vcpuName = this.threadVcpu(threadId);
      const vcpu = vcpuName ? this.resolveVcpu(vcpuName) : null;
      const va = this.frameVa(args.frameId);
      const dom = vcpu ? this.vcpuDom(vcpu) : null;
      const paging = dom ? this.domains().find((d) => d.name === dom)?.paging : this.domains()[0]?.paging;
      const scopes: DebugProtocol.Scope[] = [];
      const add = (name: string, c: VarContainer, expensive = false, hint?: string): void => {
        const s = new Scope(name, this.varRef(c), expensive) as DebugProtocol.Scope;
        if (hint) {
          s.presentationHint = hint;
        }
        scopes.push(s);
      };
      add(vcpu ? `vCPU ${vcpuName}` : 'vCPUs', { kind: 'list', get: () => this.vcpuVars(vcpu) }, false, 'registers');
      add(va !== null ? `Guest page tables (${vaToString(va)})` : 'Guest page tables', { kind: 'list', get: () => this.guestVars(vcpu, va) });
      if (paging === 'hap') {
        add('EPT', { kind: 'list', get: () => this.eptVars(vcpu, va) }, true);
      } else {
        add(va !== null ? `Shadow tables (${vaToString(va)})` : 'Shadow tables', { kind: 'list', get: () => this.shadowVars(vcpu, va) }, true);
      }
      add('p2m', { kind: 'list', get: () => this.p2mVars() }, true);
      add('Framebuffers', { kind: 'list', get: () => this.fbVars() });
      add('Costs', { kind: 'list', get: () => this.costVars() });
      add('Violations', { kind: 'list', get: () => this.violationVars() });
      response.body = { scopes };
      this.sendResponse(response);
    });
  }

  // ---------------------------------------------------------------- variables

  private child(name: string, value: string, c: VarContainer, extra?: Partial<Var>): Var {
    const ref = this.varRef(c);
    const v: Var = { name, value, variablesReference: ref, ...extra };
    if (c.kind === 'indexed') {
      v.indexedVariables = c.total;
    }
    return v;
  }

  private leaf(name: string, value: string | number | boolean, extra?: Partial<Var>): Var {
    return { name, value: typeof value === 'number' && value >= 10 ? `${value} (${hex(value)})` : String(value), variablesReference: 0, ...extra };
  }

  private guestRef(dom: string, gfn: number): string {
    return `g:${dom}:${hex(gfn)}`;
  }

  private machineRef(mfn: number): string {
    return `m:${hex(mfn)}`;
  }

  private oneVcpuVars(vcpu: string): Var[] {
    const engine = this.mustEngine();
    const d = this.domains().find((x) => x.vcpus.some((c) => c.id === vcpu));
    const v = d?.vcpus.find((c) => c.id === vcpu);
    if (!d || !v) {
      return [];
    }
    const tlb = engine.tlb(vcpu);
    return [
      this.leaf('domain', d.name),
      this.leaf('paging', d.paging === 'hap' ? `HAP (EPT), tlb=${d.tlb}${d.pml ? ', PML' : ''}` : `shadow, tlb=${d.tlb}`),
      this.leaf('process', v.process),
      this.leaf('CR3', `gfn ${hex(v.cr3Gfn)}`, { memoryReference: this.guestRef(d.name, v.cr3Gfn) }),
      this.child('TLB', count(tlb.length, 'entry', 'entries'), {
        kind: 'indexed', total: tlb.length,
        get: (start, count) => engine.tlb(vcpu).slice(start, start + count).map((e) => this.leaf(
          `[${vaToString(e.va)}]`,
          `→ mfn ${hex(e.mfn)} ${e.writable ? 'W' : 'R'}${e.dirty ? ' D' : ''}${e.global ? ' G' : ''}${e.stale ? ` STALE (${e.stale})` : ''}`,
          { memoryReference: this.machineRef(e.mfn), dataId: `tlb:${vcpu}:${hex(e.va)}`, dataDesc: `TLB entry for ${vaToString(e.va)} on ${vcpu}` },
        )),
      }),
    ];
  }

  private vcpuVars(vcpu: string | null): Var[] {
    if (vcpu) {
      return this.oneVcpuVars(vcpu);
    }
    return this.domains().flatMap((d) => d.vcpus.map((v) => this.child(
      `${d.name}.${v.index}`, `${v.process}, CR3 gfn ${hex(v.cr3Gfn)}, ${count(v.tlbEntries, 'TLB entry', 'TLB entries')}`,
      { kind: 'list', get: () => this.oneVcpuVars(v.id) },
    )));
  }

  private levelVars(vcpu: string, va: number, levels: WalkLevelView[], kind: 'pte' | 'spte', dom: string): Var[] {
    return levels.map((l) => this.child(
      `L${l.level}[${l.index}]`,
      `${l.raw}  ${flagsText(l)} → ${kind === 'pte' ? 'gfn' : 'mfn'} ${hex(l.target)}${l.writeProtected ? '  (write-protected)' : ''}`,
      {
        kind: 'list', get: () => [
          this.leaf('table', `${kind === 'pte' ? 'gfn' : 'mfn'} ${hex(l.table)}`, { memoryReference: kind === 'pte' ? this.guestRef(dom, l.table) : this.machineRef(l.table) }),
          this.leaf('index', l.index),
          this.leaf('raw', l.raw, { dataId: `${kind}:${vcpu}:${hex(va)}:${l.level}`, dataDesc: `${kind === 'pte' ? 'guest' : 'shadow'} L${l.level} entry for ${vaToString(va)}` }),
          this.leaf('target', hex(l.target)),
          ...(Object.keys(l.flags) as (keyof WalkLevelView['flags'])[]).map((f) => this.leaf(f, l.flags[f], {
            dataId: `${kind}:${vcpu}:${hex(va)}:${l.level}:${f}`,
            dataDesc: `${f} bit of the ${kind === 'pte' ? 'guest' : 'shadow'} L${l.level} entry for ${vaToString(va)} on ${vcpu}`,
          })),
          ...(l.writeProtected !== undefined ? [this.leaf('writeProtected', l.writeProtected)] : []),
        ],
      },
      { memoryReference: kind === 'pte' ? this.guestRef(dom, l.table) : this.machineRef(l.table) },
    ));
  }

  private pickVcpu(vcpu: string | null): string | null {
    if (vcpu) {
      return vcpu;
    }
    const s = this.currentStatement();
    const v = s ? stmtVcpu(s) : null;
    if (v) {
      return this.resolveVcpu(v);
    }
    return this.domains()[0]?.vcpus[0]?.id ?? null;
  }

  private guestVars(vcpuIn: string | null, va: number | null): Var[] {
    const engine = this.mustEngine();
    const vcpu = this.pickVcpu(vcpuIn);
    if (!vcpu) {
      return [this.leaf('(no guest yet)', '')];
    }
    const dom = this.vcpuDom(vcpu);
    const d = this.domains().find((x) => x.name === dom);
    const out: Var[] = [];
    if (va !== null) {
      const w = engine.walk(vcpu, va);
      out.push(this.leaf('VA', vaToString(va)));
      out.push(...this.levelVars(vcpu, va, w.guest, 'pte', dom));
      out.push(this.leaf('result', w.gfn !== undefined ? `gfn ${hex(w.gfn)}${w.writable ? ' writable' : ' read-only'}` : w.stop ?? 'not mapped'));
    }
    const frames = d?.ptFrames ?? [];
    out.push(this.child('page-table frames', `${frames.length} guest frames`, {
      kind: 'indexed', total: frames.length,
      get: (start, count) => frames.slice(start, start + count).map((g, i) => this.leaf(`[${start + i}]`, `gfn ${hex(g)}`, { memoryReference: this.guestRef(dom, g) })),
    }));
    return out;
  }

  private shadowVars(vcpuIn: string | null, va: number | null): Var[] {
    const engine = this.mustEngine();
    const vcpu = this.pickVcpu(vcpuIn);
    if (!vcpu || va === null) {
      return [this.leaf('(no address)', 'stop on a statement with a va= to see its shadow walk')];
    }
    const dom = this.vcpuDom(vcpu);
    const w = engine.walk(vcpu, va);
    return [
      this.leaf('VA', vaToString(va)),
      ...this.levelVars(vcpu, va, w.shadow, 'spte', dom),
      this.leaf('result', w.mfn !== undefined ? `mfn ${hex(w.mfn)}${w.writable ? ' writable' : ' read-only'}` : w.stop ?? 'no shadow entry'),
    ];
  }

  private eptEntryVar(dom: string, e: { gfn: number; mfn: number | null; type: string; r: boolean; w: boolean; x: boolean; d: boolean; recalc: boolean }, name?: string): Var {
    return this.leaf(
      name ?? `gfn ${hex(e.gfn)}`,
      `${e.mfn === null ? 'no frame' : `mfn ${hex(e.mfn)}`} ${e.type} ${e.r ? 'r' : '-'}${e.w ? 'w' : '-'}${e.x ? 'x' : '-'}${e.d ? ' D' : ''}${e.recalc ? ' recalc' : ''}`,
      {
        memoryReference: this.guestRef(dom, e.gfn),
        dataId: `p2m:${dom}:${hex(e.gfn)}`, dataDesc: `p2m type of gfn ${hex(e.gfn)} in ${dom}`,
      },
    );
  }

  private eptVars(vcpuIn: string | null, va: number | null): Var[] {
    const engine = this.mustEngine();
    const vcpu = this.pickVcpu(vcpuIn);
    const out: Var[] = [];
    if (vcpu && va !== null) {
      const w = engine.walk(vcpu, va);
      const dom = this.vcpuDom(vcpu);
      out.push(this.leaf('VA', vaToString(va)));
      out.push(w.ept ? this.eptEntryVar(dom, w.ept, `EPT entry of gfn ${hex(w.ept.gfn)}`) : this.leaf('EPT entry', w.stop ?? 'not mapped'));
    }
    for (const d of this.domains().filter((x) => x.paging === 'hap')) {
      for (const fb of d.framebuffers) {
        out.push(this.child(`${fb.name} (gfn ${hex(fb.gfn)}..)`, count(fb.pages, 'EPT entry', 'EPT entries'), {
          kind: 'indexed', total: fb.pages,
          get: (start, count) => engine.p2m(d.name, fb.gfn + start, Math.min(count, fb.pages - start)).map((e) => this.eptEntryVar(d.name, e)),
        }));
      }
    }
    return out.length ? out : [this.leaf('(no HAP framebuffer)', '')];
  }

  private p2mVars(): Var[] {
    const engine = this.mustEngine();
    return this.domains().map((d) => {
      const pages = Math.floor(d.memBytes / 4096);
      return this.child(d.name, `${pages} gfns (RAM)${d.logdirty ? ', log-dirty on' : ''}`, {
        kind: 'indexed', total: pages,
        get: (start, count) => engine.p2m(d.name, start, Math.min(count, pages - start)).map((e) => this.eptEntryVar(d.name, e)),
      });
    });
  }

  private fbVars(): Var[] {
    const engine = this.mustEngine();
    const out: Var[] = [];
    for (const d of this.domains()) {
      for (const fb of d.framebuffers) {
        out.push(this.child(fb.name, `${fb.pages} pages at gfn ${hex(fb.gfn)} (${d.name}), ${fb.tracked ? 'tracked' : 'not tracked'}`, {
          kind: 'list', get: () => {
            const t = engine.tracker(fb.name);
            const vars: Var[] = [
              this.leaf('domain', d.name),
              this.leaf('gfn', hex(fb.gfn)),
              this.leaf('pages', fb.pages),
              this.leaf('geometry', `${fb.width}×${fb.height}, ${fb.bpp} bpp`),
              this.leaf('tracked', fb.tracked),
              this.leaf('dirtyCount', engine.dirtyCount(fb.name)),
            ];
            if (t) {
              vars.push(this.child('tracker', t.tracker, {
                kind: 'list', get: () => Object.entries(t.fields).map(([k, v]) => this.leaf(k, v)),
              }));
              const a = t.lastAnswer;
              vars.push(a ? this.child('last answer', `line ${a.line}: ${a.kind}${a.kind === 'bitmap' ? ` [${a.dirty.join(',')}]` : ''}`, {
                kind: 'list', get: () => [
                  this.leaf('line', a.line), this.leaf('kind', a.kind),
                  this.leaf('dirty', `[${a.dirty.join(', ')}]`), this.leaf('written', `[${a.written.join(', ')}]`),
                  this.leaf('changed', `[${a.changed.join(', ')}]`), this.leaf('missed', `[${a.missed.join(', ')}]`),
                  this.leaf('late', `[${a.late.join(', ')}]`), this.leaf('extra', `[${a.extra.join(', ')}]`),
                ],
              }) : this.leaf('last answer', 'none yet'));
            }
            vars.push(this.child('bitmap', `${fb.pages} pages`, {
              kind: 'indexed', total: fb.pages,
              get: (start, count) => {
                const b = engine.bitmap(fb.name, start, Math.min(count, fb.pages - start));
                return [...b.state].map((s, i) => this.leaf(`[${start + i}]`, pageStateText(s), {
                  memoryReference: this.guestRef(d.name, fb.gfn + start + i),
                  dataId: `bit:${fb.name}:${start + i}`, dataDesc: `state of page ${start + i} of ${fb.name}`,
                }));
              },
            }));
            return vars;
          },
        }, { memoryReference: this.guestRef(d.name, fb.gfn) }));
      }
    }
    return out.length ? out : [this.leaf('(no framebuffer yet)', '')];
  }

  private costVars(): Var[] {
    return Object.entries(this.summary().costs).map(([k, v]) => this.leaf(k, v));
  }

  private violationVars(): Var[] {
    const vs = this.summary().violations;
    if (!vs.length) {
      return [this.leaf('(none)', '')];
    }
    return vs.map((v, i) => this.child(`[${i}] line ${v.line}`, `${v.id}: ${v.message}`, {
      kind: 'list', get: () => Object.entries(v).map(([k, x]) => this.leaf(k, Array.isArray(x) ? `[${x.join(', ')}]` : x as string | number)),
    }));
  }

  protected override variablesRequest(response: DebugProtocol.VariablesResponse, args: DebugProtocol.VariablesArguments): void {
    this.answer(false, response, () => {
      this.mustBeStopped();
      const c = this.vars.get(args.variablesReference);
      if (!c) {
        throw new UserError(`unknown variables reference ${args.variablesReference} (stale after a step?)`);
      }
      let list: Var[];
      if (c.kind === 'indexed') {
        const start = Math.max(0, args.start ?? 0);
        const count = Math.max(0, Math.min(args.count ?? c.total - start, c.total - start, 4096));
        list = count > 0 ? c.get(start, count) : [];
      } else {
        list = c.get();
      }
      const variables: DebugProtocol.Variable[] = list.map((v) => {
        const { dataId, dataDesc, ...plain } = v;
        if (dataId) {
          this.dataInfo.set(`${args.variablesReference}\u0000${v.name}`, { dataId, description: dataDesc ?? dataId });
        }
        return plain;
      });
      response.body = { variables };
      this.sendResponse(response);
    });
  }

  // ---------------------------------------------------------------- memory

  protected override readMemoryRequest(response: DebugProtocol.ReadMemoryResponse, args: DebugProtocol.ReadMemoryArguments): void {
    this.answer(false, response, () => {
      const engine = this.mustBeStopped();
      const m = /^(?:g:([A-Za-z_][A-Za-z0-9_-]*):|m:)(0x[0-9a-f]+|\d+)$/.exec(args.memoryReference);
      if (!m) {
        throw new UserError(`'${args.memoryReference}' is not a memory reference of this adapter`);
      }
      const dom = m[1];
      const frame = Number(m[2]);
      const count = Math.min(Math.max(0, args.count), 1 << 20);
      const startAddr = frame * 4096 + (args.offset ?? 0);
      if (startAddr < 0) {
        response.body = { address: '0x0', unreadableBytes: count };
        this.sendResponse(response);
        return;
      }
      const out = new Uint8Array(count);
      let done = 0;
      let unreadable = 0;
      while (done < count) {
        const addr = startAddr + done;
        const f = Math.floor(addr / 4096);
        const off = addr % 4096;
        const n = Math.min(4096 - off, count - done);
        let page: Uint8Array | null = null;
        try {
          page = dom ? engine.readGuest(dom, f) : engine.readMachine(f);
        } catch {
          page = null;
        }
        if (!page) {
          unreadable = count - done;
          break;
        }
        out.set(page.subarray(off, off + n), done);
        done += n;
      }
      response.body = {
        address: hex(startAddr),
        data: Buffer.from(out.subarray(0, done)).toString('base64'),
        unreadableBytes: unreadable || undefined,
      };
      this.sendResponse(response);
    });
  }

  // ---------------------------------------------------------------- exceptions

  protected override exceptionInfoRequest(response: DebugProtocol.ExceptionInfoResponse, _args: DebugProtocol.ExceptionInfoArguments): void {
    this.answer(false, response, () => {
      const engine = this.mustBeStopped();
      const hit = this.lastHit;
      if (!hit || hit.reason !== 'exception') {
        throw new UserError('not stopped on an exception');
      }
      const v = hit.violation;
      if (!v) {
        response.body = {
          exceptionId: 'trace-error', description: hit.text ?? hit.description, breakMode: 'always',
          details: { message: hit.text, typeName: 'TraceError' },
        };
      } else {
        const st = engine.program.statements;
        let stmt: Statement | undefined;
        for (let i = 0; i < st.length && stmt === undefined; i++) {
          if (st.lineAt(i) === v.line) {
            stmt = st.at(i);
          }
        }
        const parts: string[] = [];
        if (v.fb) { parts.push(`framebuffer ${v.fb}`); }
        if (v.pages?.length) { parts.push(`pages [${v.pages.join(', ')}]`); }
        if (v.vcpu) { parts.push(`vCPU ${v.vcpu}`); }
        if (v.va) { parts.push(`va ${v.va}`); }
        if (v.gfn !== undefined) { parts.push(`gfn ${hex(v.gfn)}`); }
        if (v.mfn !== undefined) { parts.push(`mfn ${hex(v.mfn)}`); }
        const cause = `line ${v.line}: ${stmt ? this.stmtText(stmt) : ''}`;
        response.body = {
          exceptionId: v.id,
          description: `${v.message}${parts.length ? ` (${parts.join(', ')})` : ''} — caused by ${cause}`,
          breakMode: 'always',
          details: {
            message: v.message, typeName: `invariant ${v.id}`, fullTypeName: INVARIANT_TEXT[v.id]?.[0] ?? v.id,
            stackTrace: `${cause}\n${parts.join('\n')}`,
          },
        };
      }
      this.sendResponse(response);
    });
  }

  // ---------------------------------------------------------------- evaluate

  protected override evaluateRequest(response: DebugProtocol.EvaluateResponse, args: DebugProtocol.EvaluateArguments): void {
    // The Debug Console shows a failed evaluation inline; a notification as well would be noise.
    this.answer(false, response, () => {
      const text = (args.expression ?? '').trim();
      if (text === 'help' || text === '?') {
        response.body = { result: EXPR_HELP.join('\n'), variablesReference: 0 };
        this.sendResponse(response);
        return;
      }
      const engine = this.mustBeStopped();
      const [cmd, ...rest] = text.split(/\s+/);
      const frameVcpu = args.frameId !== undefined ? this.threadVcpu(Math.floor(args.frameId / FRAMES_PER_THREAD)) : null;
      const stmt = this.currentStatement();
      const defVcpu = frameVcpu ?? (stmt ? stmtVcpu(stmt) : null);
      let result: { result: string; variablesReference: number; memoryReference?: string };
      switch (cmd) {
        case 'translate': case 'pte': {
          if (!rest[0]) {
            throw new UserError(`usage: ${cmd} VA [VCPU]`);
          }
          const va = parseNumber(rest[0], 'VA');
          const vcpu = this.resolveVcpu(rest[1], defVcpu);
          const dom = this.vcpuDom(vcpu);
          const w = engine.walk(vcpu, va);
          if (cmd === 'translate') {
            const lines = [
              `${vaToString(va)} on ${vcpu}: ${w.gfn !== undefined ? `gfn ${hex(w.gfn)}` : 'no gfn'}${w.mfn !== undefined ? ` → mfn ${hex(w.mfn)}` : ''}${w.gfn !== undefined ? (w.writable ? ' (writable)' : ' (read-only)') : ''}${w.stop ? ` — ${w.stop}` : ''}`,
              ...w.guest.map((l) => `  guest  L${l.level}[${l.index}] in gfn ${hex(l.table)}: ${l.raw} ${flagsText(l)}`),
              ...w.shadow.map((l) => `  shadow L${l.level}[${l.index}] in mfn ${hex(l.table)}: ${l.raw} ${flagsText(l)}`),
              ...(w.ept ? [`  ept    gfn ${hex(w.ept.gfn)}: ${w.ept.type}${w.ept.mfn !== null ? ` mfn ${hex(w.ept.mfn)}` : ''}`] : []),
            ];
            result = {
              result: lines.join('\n'),
              variablesReference: this.varRef({ kind: 'list', get: () => [...this.levelVars(vcpu, va, w.guest, 'pte', dom), ...this.levelVars(vcpu, va, w.shadow, 'spte', dom)] }),
              memoryReference: w.gfn !== undefined ? this.guestRef(dom, w.gfn) : undefined,
            };
          } else {
            const g = w.guest.find((l) => l.level === 1);
            const s = w.shadow.find((l) => l.level === 1);
            const lines = [
              g ? `guest L1e for ${vaToString(va)}: ${g.raw} ${flagsText(g)} → gfn ${hex(g.target)} (table gfn ${hex(g.table)}[${g.index}])` : `no guest L1e for ${vaToString(va)}${w.stop ? ` — ${w.stop}` : ''}`,
              ...(s ? [`shadow L1e: ${s.raw} ${flagsText(s)} → mfn ${hex(s.target)} (table mfn ${hex(s.table)}[${s.index}])`] : []),
            ];
            result = {
              result: lines.join('\n'),
              variablesReference: g ? this.varRef({ kind: 'list', get: () => this.levelVars(vcpu, va, [g, ...(s ? [s] : [])], 'pte', dom) }) : 0,
              memoryReference: g ? this.guestRef(dom, g.table) : undefined,
            };
          }
          break;
        }
        case 'p2m': {
          if (!rest[0]) {
            throw new UserError('usage: p2m GFN [DOM]');
          }
          const gfn = parseNumber(rest[0], 'GFN');
          const doms = this.domains();
          const dom = rest[1] ?? (defVcpu ? defVcpu.split('.')[0] : doms.length === 1 ? doms[0].name : undefined);
          if (!dom || !doms.some((d) => d.name === dom)) {
            throw new UserError(dom ? `no domain '${dom}'` : 'say which domain: p2m GFN DOM');
          }
          const e = engine.p2m(dom, gfn, 1)[0];
          if (!e) {
            throw new UserError(`gfn ${hex(gfn)} is outside ${dom}`);
          }
          result = {
            result: `${dom} gfn ${hex(gfn)}: ${e.mfn === null ? 'no frame' : `mfn ${hex(e.mfn)}`}, type ${e.type}, ${e.r ? 'r' : '-'}${e.w ? 'w' : '-'}${e.x ? 'x' : '-'}${e.d ? ', D' : ''}${e.recalc ? ', recalc pending' : ''}`,
            variablesReference: 0,
            memoryReference: e.mfn !== null ? this.machineRef(e.mfn) : undefined,
          };
          break;
        }
        case 'bitmap': {
          const fbName = rest[0];
          const fb = this.domains().flatMap((d) => d.framebuffers).find((f) => f.name === fbName);
          if (!fb) {
            throw new UserError(fbName ? `no framebuffer '${fbName}'` : 'usage: bitmap FB');
          }
          const b = engine.bitmap(fb.name, 0, fb.pages);
          const groups = new Map<string, number[]>();
          b.state.forEach((s, i) => {
            const k = pageStateText(s);
            groups.set(k, [...(groups.get(k) ?? []), i]);
          });
          const lines = [`${fb.name}: ${fb.pages} pages, ${engine.dirtyCount(fb.name)} dirty now${b.lastAnswerLine !== null ? `, last answer at line ${b.lastAnswerLine}` : ''}`];
          for (const [k, pages] of groups) {
            lines.push(`  ${k}: ${pages.length > 64 ? `${pages.slice(0, 64).join(',')}… (${pages.length})` : pages.join(',')}`);
          }
          result = { result: lines.join('\n'), variablesReference: 0 };
          break;
        }
        case 'tlb': {
          const vcpu = this.resolveVcpu(rest[0], defVcpu);
          const entries = engine.tlb(vcpu);
          const lines = [`TLB of ${vcpu}: ${count(entries.length, 'entry', 'entries')}`, ...entries.slice(0, 256).map((e) =>
            `  ${vaToString(e.va)} → mfn ${hex(e.mfn)} ${e.writable ? 'W' : 'R'}${e.dirty ? ' D' : ''}${e.global ? ' G' : ''}${e.stale ? ` STALE (${e.stale})` : ''}`)];
          result = { result: lines.join('\n'), variablesReference: this.varRef({ kind: 'list', get: () => this.oneVcpuVars(vcpu) }) };
          break;
        }
        default: {
          const v = evalExpr(parseExpr(text), this.env());
          result = { result: showValue(v), variablesReference: 0 };
        }
      }
      response.body = result;
      this.sendResponse(response);
    });
  }

  /**
   * Run forward in slices until `step` steps have executed (no breakpoints). Resolves true there;
   * otherwise goes back to where it started and rejects with the reason.
   */
  private async seekAhead(step: number): Promise<boolean> {
    const engine = this.mustEngine();
    const gen = this.beginRun();
    // The client shows the session running (and offers Pause) until the stop at the target.
    this.sendEvent(new ContinuedEvent(this.activeThread(), true));
    const start = engine.stepCount;
    this.travel(start, false);
    const bar = this.progress(`Running to step ${step}`, step - start);
    try {
      while (engine.stepCount < step && !engine.done) {
        await yieldTurn();
        bar.update(engine.stepCount - start);
        if (gen !== this.generation) {
          return false;
        }
        if (this.pauseRequested) {
          throw new UserError(`paused at step ${engine.stepCount} before reaching step ${step}`);
        }
        engine.run({ maxSteps: step - engine.stepCount, deadline: performance.now() + SLICE_MS, stop: (o) => { this.noteOutcome(o, true); return false; } });
      }
    } catch (e) {
      if (gen === this.generation) {
        this.travel(start, false);
        this.stopAt({ reason: 'goto', description: 'Stayed where the seek started', event: null });
      }
      throw e;
    } finally {
      bar.end();
    }
    if (engine.stepCount !== step) {
      const total = engine.stepCount;
      this.travel(start, false);
      this.stopAt({ reason: 'goto', description: 'Stayed where the seek started', event: null });
      throw new UserError(`step ${step} is past the end of the trace (${total} steps)`);
    }
    this.resetDataValues();
    return true;
  }

  protected override completionsRequest(response: DebugProtocol.CompletionsResponse, args: DebugProtocol.CompletionsArguments): void {
    this.answer(false, response, () => {
      const text = args.text.slice(0, Math.max(0, args.column - 1));
      const word = /[A-Za-z_][A-Za-z0-9_.-]*$/.exec(text)?.[0] ?? '';
      const items: DebugProtocol.CompletionItem[] = [];
      const add = (label: string, type: DebugProtocol.CompletionItemType, detail?: string): void => {
        if (label.startsWith(word) && label !== word) {
          items.push({ label, type, detail, start: args.column - 1 - word.length, length: word.length });
        }
      };
      const atStart = text.trim() === word;
      if (atStart) {
        for (const c of ['translate', 'pte', 'p2m', 'bitmap', 'tlb', 'help']) {
          add(c, 'keyword', 'command');
        }
      }
      const command = /^\s*(translate|pte|p2m|bitmap|tlb)\s/.exec(text)?.[1];
      if (command) {
        // A command's arguments: framebuffers, vCPUs or domains.
        for (const d of this.engine ? this.summary().domains : []) {
          if (command === 'p2m') {
            add(d.name, 'module', 'domain');
          }
          for (const v of command === 'bitmap' || command === 'p2m' ? [] : d.vcpus) {
            add(`${d.name}.${v.index}`, 'value', 'vCPU');
          }
          for (const fb of command === 'bitmap' ? d.framebuffers : []) {
            add(fb.name, 'value', 'framebuffer');
          }
        }
        response.body = { targets: items };
        this.sendResponse(response);
        return;
      }
      for (const f of ['dirtyCount', 'tlbSize', 'tlbHas', 'tlbDirty', 'pte', 'spte', 'gfn', 'mfn', 'p2mType', 'pageState', 'written', 'violations', 'cost']) {
        add(f, 'function');
      }
      for (const n of ['step', 'line', 'time', 'done']) {
        add(n, 'variable');
      }
      if (this.engine) {
        const sum = this.summary();
        for (const k of Object.keys(sum.costs)) {
          add(k, 'variable', 'counter');
        }
        for (const d of sum.domains) {
          add(d.name, 'module', 'domain');
          for (const v of d.vcpus) {
            add(`${d.name}.${v.index}`, 'value', 'vCPU');
          }
          for (const fb of d.framebuffers) {
            add(fb.name, 'value', 'framebuffer');
          }
        }
      }
      response.body = { targets: [...new Map(items.map((i) => [i.label, i])).values()] };
      this.sendResponse(response);
    });
  }

  // ---------------------------------------------------------------- custom requests (visualizer)

  protected override customRequest(command: string, response: DebugProtocol.Response, args: unknown): void {
    // The visualizer reports its own requests' errors in its panel.
    this.answer(false, response, () => {
      const a = (args ?? {}) as Record<string, unknown>;
      const str = (k: string): string => {
        if (typeof a[k] !== 'string') {
          throw new UserError(`${command}: "${k}" must be a string`);
        }
        return a[k] as string;
      };
      const int = (k: string): number => {
        const v = a[k];
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
          throw new UserError(`${command}: "${k}" must be a whole number ≥ 0`);
        }
        return v;
      };
      const reply = <K extends keyof CustomRequests>(_k: K, body: CustomRequests[K]['result']): void => {
        response.body = body;
        this.sendResponse(response);
      };
      if (!command.startsWith('xpl/')) {
        throw new UserError(`unknown request '${command}'`);
      }
      const engine = this.mustBeStopped();
      switch (command) {
        case 'xpl/summary': return reply('xpl/summary', engine.summary());
        case 'xpl/tlb': return reply('xpl/tlb', { entries: engine.tlb(this.resolveVcpu(str('vcpu'))) });
        case 'xpl/walk': return reply('xpl/walk', engine.walk(this.resolveVcpu(str('vcpu')), int('va')));
        case 'xpl/p2m': return reply('xpl/p2m', { entries: engine.p2m(str('dom'), int('gfn'), int('count')) });
        case 'xpl/bitmap': {
          const b = engine.bitmap(str('fb'), int('start'), Math.min(int('count'), 262144));
          return reply('xpl/bitmap', { ...b, state: Buffer.from(b.state).toString('base64') });
        }
        case 'xpl/tracker': return reply('xpl/tracker', engine.tracker(str('fb')));
        case 'xpl/screen': {
          const s = engine.screen(str('fb'));
          return reply('xpl/screen', { ...s, guest: Buffer.from(s.guest).toString('base64'), screen: Buffer.from(s.screen).toString('base64') });
        }
        case 'xpl/timeline': {
          const from = int('from');
          const to = int('to');
          const marks = [...this.marks.values()].filter((m) => m.step >= from && m.step < to).sort((x, y) => x.step - y.step);
          return reply('xpl/timeline', { total: Math.max(this.maxStep, engine.stepCount), complete: engine.done || this.reachedDone(), marks });
        }
        case 'xpl/costs': return reply('xpl/costs', { series: this.costSamples.list() });
        case 'xpl/seek': {
          const step = int('step');
          const known = Math.max(this.maxStep, engine.stepCount);
          if (step <= known) {
            // (with the landing step's events, for the visualizer's "what this step did")
            this.travel(step, step >= 1);
            this.resetDataValues();
            reply('xpl/seek', { step });
            this.stopAt({ reason: 'goto', description: `Travelled to step ${step}`, event: null });
            return;
          }
          // Never executed yet: run there in slices, as a continue would.
          return this.seekAhead(step).then((reached) => {
            if (reached) {
              reply('xpl/seek', { step });
              this.stopAt({ reason: 'goto', description: `Travelled to step ${step}`, event: null });
            }
          });
        }
      }
      throw new UserError(`unknown request '${command}'`);
    });
  }

  private doneSeen = false;
  private reachedDone(): boolean {
    if (this.engine?.done) {
      this.doneSeen = true;
    }
    return this.doneSeen;
  }
}

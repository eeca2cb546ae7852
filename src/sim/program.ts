/**
 * The executable form of a trace: what src/trace produces and what the engine runs.
 * It lives in src/sim so that the model never depends on the language layer; positions are plain
 * numbers (1-based line and column, columns in Unicode code points).
 */

export type Paging = 'shadow' | 'hap';
export type TrackerId = 'memcmp' | 'dbit-2007' | 'linear-2007' | 'sl1ma' | 'logdirty-2009' | 'p2m-type' | 'multi-fb';
export const TRACKERS: readonly TrackerId[] = ['memcmp', 'dbit-2007', 'linear-2007', 'sl1ma', 'logdirty-2009', 'p2m-type', 'multi-fb'];
export type BugId = 'skip-flush' | 'no-pml-drain' | 'contiguous-mfn' | 'clear-whole-leaf' | 'acc-typo' | 'qemu-reset-after-read' | 'no-idle-heuristic';
export const BUGS: readonly BugId[] = ['skip-flush', 'no-pml-drain', 'contiguous-mfn', 'clear-whole-leaf', 'acc-typo', 'qemu-reset-after-read', 'no-idle-heuristic'];
export type P2mTypeName = 'ram_rw' | 'ram_logdirty' | 'mmio_dm' | 'ioreq_server';
export type PteFlagName = 'P' | 'RW' | 'US' | 'A' | 'D' | 'G' | 'NX';
export type InvariantId = 'lost-update' | 'stale-tlb' | 'clear-scope' | 'wrong-frame' | 'sl1ma' | 'idle-writable' | 'rangeset' | 'guest-no-flush';
export const INVARIANTS: readonly InvariantId[] = ['lost-update', 'stale-tlb', 'clear-scope', 'wrong-frame', 'sl1ma', 'idle-writable', 'rangeset', 'guest-no-flush'];
export type CounterName =
  | 'vmexits' | 'eptViolations' | 'shadowFaults' | 'ptEmulations' | 'hypercalls' | 'pteScans' | 'p2mTypeChanges'
  | 'tlbFlushes' | 'tlbRefills' | 'pmlDrains' | 'bytesCompared' | 'bytesCopied' | 'rangesetNodesVisited';
export const COUNTERS: readonly CounterName[] = [
  'vmexits', 'eptViolations', 'shadowFaults', 'ptEmulations', 'hypercalls', 'pteScans', 'p2mTypeChanges',
  'tlbFlushes', 'tlbRefills', 'pmlDrains', 'bytesCompared', 'bytesCopied', 'rangesetNodesVisited',
];
export type IoreqKind = 'port' | 'mmio' | 'pci';

/** A vCPU reference after name resolution: domain name and vCPU index. */
export interface VcpuRef { dom: string; idx: number }

/** 1-based position of a statement, and of each of its arguments (by key, or `#N` for bare word N). */
export interface SrcPos { line: number; col: number; args?: Record<string, number> }

/**
 * Virtual addresses are held as 48-bit numbers (the canonical sign extension dropped), which fit
 * a double exactly; `vaToString` puts the extension back for display.
 */
export type Va48 = number;

export type Stmt =
  | { op: 'domain'; name: string; paging: Paging; mem: number; vcpus: number; tracker?: TrackerId; tlb: 'tagged' | 'flush-on-exit'; pml: boolean; mfns: 'contiguous' | 'scatter'; seed: number }
  | { op: 'vram'; name: string; dom: string; gfn: number; pages: number; width?: number; height?: number; bpp: number }
  | { op: 'p2m'; dom: string; gfn: number; pages: number; type: P2mTypeName }
  | { op: 'process'; name: string; dom: string }
  | { op: 'inject'; bug: BugId | 'none' }
  | { op: 'costs'; values: Partial<Record<CounterName, number>> }
  | { op: 'map'; vcpu: VcpuRef; va: Va48; gfn?: number; pages?: number; fb?: string; ro: boolean; user: boolean; global: boolean }
  | { op: 'unmap'; vcpu: VcpuRef; va: Va48; pages: number }
  | { op: 'pte'; vcpu: VcpuRef; va: Va48; set: PteFlagName[]; clear: PteFlagName[] }
  | { op: 'write'; vcpu: VcpuRef; va: Va48; len: number; byte?: number }
  | { op: 'read'; vcpu: VcpuRef; va: Va48; len: number }
  | { op: 'draw'; vcpu: VcpuRef; fb: string; rect: [number, number, number, number]; color: number }
  | { op: 'blit'; vcpu: VcpuRef; fb: string; from: [number, number, number, number]; to: [number, number] }
  | { op: 'invlpg'; vcpu: VcpuRef; va: Va48 }
  | { op: 'cr3'; vcpu: VcpuRef; process: string }
  | { op: 'exit'; process: string }
  | { op: 'vmexit'; vcpu: VcpuRef; reason?: string }
  | { op: 'dma'; dom: string; gfn: number; len: number; byte?: number }
  | { op: 'peek'; fb: string }
  | { op: 'refresh'; fb: string; phase?: 'draw' | 'finish' }
  | { op: 'untrack'; fb: string }
  | { op: 'resize'; fb: string; pages: number }
  | { op: 'reclaim'; dom: string; va?: Va48 }
  | { op: 'logdirty'; dom: string; action: 'enable' | 'disable' | 'peek' | 'clean' }
  | { op: 'flush'; dom: string }
  | { op: 'tick'; ns: number }
  | { op: 'ioreq-server'; name: string; dom: string; limit: number }
  | { op: 'ioreq-map' | 'ioreq-unmap'; server: string; kind: IoreqKind; start: number; end: number }
  | { op: 'ioreq-access'; dom: string; kind: IoreqKind; addr: number; size: number }
  | { op: 'rangeset'; impl: 'list' | 'tree' }
  /** `repeat N`: `end` is the index of the matching `end` statement. */
  | { op: 'repeat'; count: number; end: number }
  /** `end`: `start` is the index of the matching `repeat`. */
  | { op: 'end'; start: number }
  | { op: 'note'; text: string }
  | { op: 'expect-fb'; fb: string; dirty: number[] | 'all' | 'none' | 'enodata' }
  | { op: 'expect-violation'; ids: InvariantId[] | 'none' }
  | { op: 'expect-screen'; fb: string; stale: number[] | 'none' }
  | { op: 'expect-logdirty'; dom: string; dirty: number[] | 'none' }
  | { op: 'expect-ioreq'; server: string | null }
  | { op: 'expect-cost'; counter: CounterName | 'guestCycles' | 'dom0Cycles' | 'cycles'; min?: number; max?: number };

export type Statement = Stmt & { pos: SrcPos };

/** The vCPU a statement acts through (`dom.N`), if it names one. */
export function stmtVcpu(s: Statement): string | null {
  return 'vcpu' in s ? `${s.vcpu.dom}.${s.vcpu.idx}` : null;
}

/** The guest virtual address a statement is about, if it names one. */
export function stmtVa(s: Statement): number | null {
  switch (s.op) {
    case 'map': case 'unmap': case 'pte': case 'write': case 'read': case 'invlpg':
      return s.va;
    case 'reclaim':
      return s.va ?? null;
    default:
      return null;
  }
}

/** Does the statement name both a vCPU and a VA (see `stmtFocus`)? Allocates nothing. */
export function hasFocus(s: Statement): boolean {
  return 'vcpu' in s && stmtVa(s) !== null;
}

/** The translation a statement is about — a vCPU and a VA — for views that follow the trace (the walk). */
export function stmtFocus(s: Statement): { vcpu: string; va: number } | null {
  return hasFocus(s) ? { vcpu: stmtVcpu(s)!, va: stmtVa(s)! } : null;
}
export type Op = Stmt['op'];

/** A parsed trace. `statements` is flat; `repeat`/`end` pairs point at each other. */
export interface Program {
  /** The path as given by the user (reported as `trace`). */
  file: string;
  statements: StatementTable;
}

type WriteStatement = Extract<Statement, { op: 'write' }>;

/**
 * The statements of a program. Every statement but a store is kept as its object; a store (the
 * statement of bulk traces, millions of them) is a row of typed-array columns, from which `at()`
 * makes its object when asked. A million-store trace is then a few flat arrays instead of millions
 * of objects, which every full garbage collection while the trace runs would have to mark. The
 * engine runs stores from the columns (`isStore`, `storeVcpu`, ...); `opAt` and `lineAt` answer for
 * any statement without making an object. Rows are append-only.
 */
export class StatementTable {
  private n = 0;
  /** Non-store statements at their index (undefined at a store's). */
  private objs: (Statement | undefined)[] = [];
  private store = new Uint8Array(64);
  private vaCol = new Float64Array(64);
  private lenCol = new Int32Array(64);
  /** The fill byte, or -1 for the trace's running counter. */
  private byteCol = new Int16Array(64);
  private vcpuCol = new Int32Array(64);
  private lineCol = new Int32Array(64);
  private colCol = new Int32Array(64);
  private argsCol = new Int32Array(64);
  /** Shared values that rows refer to by index: vCPU references and argument-column tables. */
  private vcpus: VcpuRef[] = [];
  private vcpuIndex = new Map<VcpuRef, number>();
  private argTables: (Record<string, number> | undefined)[] = [];
  private argIndex = new Map<Record<string, number> | undefined, number>();

  /** `rows = false` keeps stores as objects too (tests compare the two forms). */
  constructor(private readonly rows = true) {}

  static from(statements: Iterable<Statement>, rows = true): StatementTable {
    const t = new StatementTable(rows);
    for (const s of statements) {
      t.push(s);
    }
    return t;
  }

  get length(): number {
    return this.n;
  }

  /** Append a statement: a store as a row (its vCPU reference and argument table shared by identity). */
  push(s: Statement): void {
    const i = this.n;
    if (i === this.store.length) {
      this.grow();
    }
    this.n = i + 1;
    if (this.rows && s.op === 'write') {
      this.objs.push(undefined);
      this.store[i] = 1;
      this.vaCol[i] = s.va;
      this.lenCol[i] = s.len;
      this.byteCol[i] = s.byte ?? -1;
      this.vcpuCol[i] = intern(this.vcpus, this.vcpuIndex, s.vcpu);
      this.lineCol[i] = s.pos.line;
      this.colCol[i] = s.pos.col;
      this.argsCol[i] = intern(this.argTables, this.argIndex, s.pos.args);
      return;
    }
    this.objs.push(s);
    this.store[i] = 0;
  }

  at(index: number): Statement | undefined {
    if (!(index >= 0 && index < this.n)) {
      return undefined;
    }
    if (this.store[index] === 0) {
      return this.objs[index];
    }
    const st: WriteStatement = { op: 'write', vcpu: this.vcpus[this.vcpuCol[index]], va: this.vaCol[index], len: this.lenCol[index], pos: this.posOf(index) };
    const b = this.byteCol[index];
    if (b >= 0) {
      st.byte = b;
    }
    return st;
  }

  *[Symbol.iterator](): Iterator<Statement> {
    for (let i = 0; i < this.n; i++) {
      yield this.at(i)!;
    }
  }

  /** Statement i's keyword (i in range). */
  opAt(i: number): Op {
    return this.store[i] === 1 ? 'write' : this.objs[i]!.op;
  }
  /** Statement i's line (i in range). */
  lineAt(i: number): number {
    return this.store[i] === 1 ? this.lineCol[i] : this.objs[i]!.pos.line;
  }
  /** The statements with keyword `op`, in order. */
  withOp<O extends Op>(op: O): Extract<Statement, { op: O }>[] {
    const out: Extract<Statement, { op: O }>[] = [];
    for (let i = 0; i < this.n; i++) {
      if (this.opAt(i) === op) {
        out.push(this.at(i) as Extract<Statement, { op: O }>);
      }
    }
    return out;
  }
  /** Indices of the `repeat` statements whose bodies hold statement `index`, innermost first. */
  enclosingRepeats(index: number): number[] {
    const out: number[] = [];
    for (let i = 0; i < index && i < this.n; i++) {
      const s = this.store[i] === 1 ? undefined : this.objs[i];
      if (s !== undefined && s.op === 'repeat' && s.end > index) {
        out.unshift(i);
      }
    }
    return out;
  }

  /** Is statement i a store kept as a row? (Then the accessors below describe it.) */
  isStore(i: number): boolean {
    return this.store[i] === 1;
  }
  storeVcpu(i: number): VcpuRef {
    return this.vcpus[this.vcpuCol[i]];
  }
  storeVa(i: number): Va48 {
    return this.vaCol[i];
  }
  storeLen(i: number): number {
    return this.lenCol[i];
  }
  /** The store's fill byte, or -1. */
  storeByte(i: number): number {
    return this.byteCol[i];
  }
  private posOf(i: number): SrcPos {
    const args = this.argTables[this.argsCol[i]];
    return args === undefined ? { line: this.lineCol[i], col: this.colCol[i] } : { line: this.lineCol[i], col: this.colCol[i], args };
  }

  private grow(): void {
    const cap = this.store.length * 2;
    const more = <T extends Uint8Array | Int16Array | Int32Array | Float64Array>(a: T, make: new (n: number) => T): T => {
      const b = new make(cap);
      b.set(a as never);
      return b;
    };
    this.store = more(this.store, Uint8Array);
    this.vaCol = more(this.vaCol, Float64Array);
    this.lenCol = more(this.lenCol, Int32Array);
    this.byteCol = more(this.byteCol, Int16Array);
    this.vcpuCol = more(this.vcpuCol, Int32Array);
    this.lineCol = more(this.lineCol, Int32Array);
    this.colCol = more(this.colCol, Int32Array);
    this.argsCol = more(this.argsCol, Int32Array);
  }
}

/** The index of v in list (appended on first sight). */
function intern<T>(list: T[], index: Map<T, number>, v: T): number {
  let k = index.get(v);
  if (k === undefined) {
    k = list.length;
    list.push(v);
    index.set(v, k);
  }
  return k;
}

/** What the engine is asked to do on top of the trace (CLI flags, launch attributes). */
export interface RunOptions {
  /** Overrides every domain's tracker (`--tracker`). */
  tracker?: TrackerId;
  /**
   * With `tracker`: give each domain the paging mode the tracker needs instead of refusing the
   * trace (`xpl compare`, which runs one workload under every design).
   */
  adaptPaging?: boolean;
  /** Bugs turned on from the start (`--inject`). */
  inject?: BugId[];
  /** Cycle prices overriding the defaults before the first statement (the trace's `costs` lines still apply after). */
  costs?: Partial<Record<CounterName, number>>;
  /** Steps between checkpoints for time travel; 0 disables checkpoints. */
  checkpointInterval?: number;
  /** Cap on memory held by checkpoints (bytes, approximate); older ones are thinned past it. */
  checkpointBudgetBytes?: number;
}

/** An error attributable to a trace position: printed as `FILE:LINE:COL: error: MESSAGE`. */
export class TraceError extends Error {
  constructor(readonly file: string, readonly line: number, readonly col: number, readonly detail: string) {
    super(`${file}:${line}:${col}: error: ${detail}`);
    this.name = 'TraceError';
  }
}

/** Thrown by the model for a statement it cannot carry out; `arg` names the argument at fault. */
export class SimError extends Error {
  constructor(message: string, readonly arg?: string) {
    super(message);
    this.name = 'SimError';
  }
}

const VA_MASK = 2 ** 48;
/** Format a 48-bit VA in canonical form (sign-extended), as `0x...`. */
export function vaToString(va: Va48): string {
  if (va >= 2 ** 47) {
    return '0xffff' + va.toString(16).padStart(12, '0');
  }
  return '0x' + va.toString(16);
}
/** Canonical 64-bit VA (as bigint) to its 48-bit form; undefined if not canonical. */
export function canonicalToVa48(v: bigint): Va48 | undefined {
  const low = v & 0xffff_ffff_ffffn;
  const top = v >> 47n;
  if (top === 0n || top === 0x1ffffn) {
    return Number(low);
  }
  return undefined;
}
export const VA48_LIMIT = VA_MASK;

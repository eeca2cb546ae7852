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
export type Op = Stmt['op'];

/** A parsed trace. `statements` is flat; `repeat`/`end` pairs point at each other. */
export interface Program {
  /** The path as given by the user (reported as `trace`). */
  file: string;
  statements: Statement[];
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

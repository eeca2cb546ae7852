/**
 * Read-only views of the model's state, by parts, for the debugger's Variables and the visualizer.
 * Everything here is plain data (JSON-serialisable except the byte arrays), computed on demand.
 */
import type { CostTotals, ViolationRecord, AnswerRecord } from './report';
import type { P2mTypeName, Paging, TrackerId } from './program';

export interface VcpuView { id: string; dom: string; index: number; process: string; cr3Gfn: number; tlbEntries: number }
export interface FramebufferView {
  name: string; dom: string; gfn: number; pages: number; width: number; height: number; bpp: number;
  /** Whether the tracker currently has this range armed. */
  tracked: boolean;
}
export interface DomainView {
  name: string; paging: Paging; memBytes: number; tracker: TrackerId; tlb: 'tagged' | 'flush-on-exit'; pml: boolean;
  vcpus: VcpuView[]; framebuffers: FramebufferView[]; processes: { name: string; cr3Gfn: number; exited: boolean }[];
  /** Guest frames that hold page tables (any level). */
  ptFrames: number[];
  logdirty: boolean;
}

export interface TlbEntryView {
  va: number; mfn: number; writable: boolean; dirty: boolean; global: boolean;
  /** Why the cached translation no longer matches the tables, if it does not. */
  stale: null | 'hypervisor' | 'guest';
}

export interface PteFlagsView { P: boolean; RW: boolean; US: boolean; A: boolean; D: boolean; PS: boolean; G: boolean; NX: boolean }
export interface WalkLevelView {
  level: 4 | 3 | 2 | 1;
  /** Frame holding the table: a gfn for guest tables, an mfn for shadow tables. */
  table: number;
  index: number;
  /** The raw 64-bit entry, hex. */
  raw: string;
  flags: PteFlagsView;
  /** Frame the entry points to (gfn for guest entries, mfn for shadow entries). */
  target: number;
  /** Guest table frames are write-protected under shadow paging. */
  writeProtected?: boolean;
}
export interface EptView { gfn: number; mfn: number | null; type: P2mTypeName | 'invalid'; r: boolean; w: boolean; x: boolean; d: boolean; recalc: boolean }
export interface WalkView {
  vcpu: string; va: number;
  guest: WalkLevelView[];
  /** Shadow tables (shadow paging) for the same VA, as far as they exist. */
  shadow: WalkLevelView[];
  /** The EPT entry of the final gfn (HAP). */
  ept?: EptView;
  gfn?: number; mfn?: number; writable: boolean;
  /** Why a walk stops early (`guest L2 not present`, ...). */
  stop?: string;
}

/** Per-page state of a framebuffer for the bitmap view. Bits of `PageState`. */
export const PAGE_WRITTEN = 1; // stored to since the previous answer
export const PAGE_REPORTED = 2; // in the last answer
export const PAGE_MISSED = 4; // changed but not reported at the last answer (and still not redrawn)
export const PAGE_EXTRA = 8; // reported but not written at the last answer
export const PAGE_WRITABLE = 16; // some writable mapping exists (shadow count > 0 / p2m type rw)
export const PAGE_STALE_SCREEN = 32; // differs between guest memory and the device model's screen
export const PAGE_DIFFERS = 64; // differs from the device model's copy now

export interface BitmapView { fb: string; start: number; count: number; pages: number; state: Uint8Array; lastAnswerLine: number | null }

export interface TrackerView {
  tracker: TrackerId; fb: string;
  /** Tracker-specific fields, as name → display value (sl1ma, accumulator, last_dirty, ...). */
  fields: Record<string, string | number | boolean>;
  lastAnswer: AnswerRecord | null;
}

export interface ScreenView { fb: string; width: number; height: number; guest: Uint8Array; screen: Uint8Array }

export interface StateSummary {
  step: number; time: number; line: number | null; done: boolean;
  domains: DomainView[];
  costs: CostTotals;
  violations: ViolationRecord[];
  /**
   * The translation the last statement run that names one is about — its vCPU, VA and line (a store,
   * a load, a mapping, a PTE edit, an invlpg; `EngineApi.focusIndex`): views that follow the trace show it.
   */
  focus?: { vcpu: string; va: number; line: number };
}

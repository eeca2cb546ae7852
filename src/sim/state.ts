/**
 * The model's state as plain data: a tree with references by number or name, so a checkpoint is a
 * deep copy (pages are shared copy-on-write). Behaviour lives in machine.ts and the mechanism files.
 */
import type { BugId, Paging, TrackerId } from './program';
import { P2m } from './p2m';
import { Scatter } from './util';
import type { LogDirtyTrie } from './logdirty';
import { createDirtyMemory, type DirtyImpl, type DirtyMemory } from './qemu/dirty';

/** A cached translation: {va → mfn, writable, dirty} plus what it was filled from. */
export interface TlbEntry {
  mfn: number;
  gfn: number;
  w: boolean;
  d: boolean;
  g: boolean;
  /** Shadow: the shadow L1e's address (smfn * 512 + slot); HAP: the gfn of the EPT entry. */
  src: number;
  /** Version of that entry when the translation was filled. */
  srcVer: number;
  /** Guest leaf PTE: table gfn * 512 + index, and its version at fill. */
  pt: number;
  ptVer: number;
  /** A violation was already reported for this entry. */
  warned: boolean;
}

export class Vcpu {
  tlb = new Map<number, TlbEntry>();
  /** PML buffer: logged gfns (NR_PML_ENTRIES = 512). */
  pml: number[] = [];
  constructor(readonly dom: string, readonly idx: number, public process: string) {}
  get id(): string {
    return `${this.dom}.${this.idx}`;
  }
  /** Checkpoint copy: TLB entries are small flat records, copied in one tight loop. */
  cloneShared(): Vcpu {
    const v = new Vcpu(this.dom, this.idx, this.process);
    for (const [k, e] of this.tlb) {
      v.tlb.set(k, { mfn: e.mfn, gfn: e.gfn, w: e.w, d: e.d, g: e.g, src: e.src, srcVer: e.srcVer, pt: e.pt, ptVer: e.ptVer, warned: e.warned });
    }
    v.pml = this.pml.slice();
    return v;
  }
}

export class Process {
  exited = false;
  constructor(readonly name: string, readonly dom: string, readonly cr3: number) {}
}

export class Framebuffer {
  constructor(
    readonly name: string, readonly dom: string, readonly gfn: number, public pages: number,
    readonly width: number, readonly height: number, readonly bpp: number,
  ) {}
}

/** Frames backing a gfn range, allocated from the global allocator at once. */
export class Backing {
  scatter: Scatter | null;
  constructor(readonly gfn: number, readonly count: number, readonly base: number, scatterSeed: number | null) {
    this.scatter = scatterSeed === null ? null : new Scatter(count, scatterSeed);
  }
  mfn(gfn: number): number {
    const i = gfn - this.gfn;
    return this.base + (this.scatter ? this.scatter.forward(i) : i);
  }
  gfnOf(mfn: number): number {
    const j = mfn - this.base;
    return this.gfn + (this.scatter ? this.scatter.inverse(j) : j);
  }
  hasGfn(gfn: number): boolean {
    return gfn >= this.gfn && gfn < this.gfn + this.count;
  }
  hasMfn(mfn: number): boolean {
    return mfn >= this.base && mfn < this.base + this.count;
  }
}

/** One shadow page table: a shadow of guest table frame `gfn` at `level`, held in machine frame `smfn`. */
export class ShadowTable {
  /** L1: target mfn; upper levels: the child shadow's smfn. */
  e = new Float64Array(512);
  f = new Uint16Array(512);
  /** Bumped whenever an entry loses permissions or changes target (TLB staleness). */
  ver = new Uint32Array(512);
  /** Who made the last such change: 1 hypervisor, 2 guest (WHY_* of p2m.ts). */
  why = new Uint8Array(512);
  constructor(readonly smfn: number, readonly gfn: number, readonly level: number) {}
}

/** struct sh_dirty_vram (xen/arch/x86/mm/shadow/private.h). */
export class ShDirtyVram {
  /** Machine address of the remembered shadow L1e per page, as smfn * 512 + slot; -1 = INVALID_PADDR. */
  sl1ma: Float64Array;
  /** The accumulator: bits found between peeks (dirty_bitmap). */
  acc: Uint8Array;
  /** Time (ns) of the last observed dirtiness; -1 = idle, write access removed. */
  lastDirty = 0;
  constructor(readonly begin: number, readonly end: number) {
    this.sl1ma = new Float64Array(end - begin).fill(-1);
    this.acc = new Uint8Array(Math.ceil((end - begin) / 8));
  }
}

/** The 2007 RFC's state: the range, and whether the LFB's L1 shadows changed since the last call. */
export class Dbit2007 {
  first = true;
  changed = false;
  constructor(readonly begin: number, readonly end: number) {}
}

/** The 2007 review's design: the VA of the single writable LFB mapping and the made/cleared bits. */
export class Linear2007 {
  va = -1;
  first = true;
  bits = new Set<number>();
  constructor(readonly begin: number, readonly end: number) {}
}

/** 2009–2012 HAP VRAM tracking through the log-dirty trie (183d02baf2). */
export class Vram2009 {
  constructor(readonly begin: number, readonly end: number) {}
}

/** One range of the 2012 multiple-framebuffer design (dirty_vram.c). */
export class MultiRange {
  /** Shadow: every shadow L1e (smfn * 512 + slot) mapping each page — the dv_paddr_link chains. */
  links = new Map<number, number[]>();
  /** Shadow: pages found dirty between peeks (entries that went away with D set). */
  acc = new Set<number>();
  constructor(readonly fb: string, readonly begin: number, readonly end: number) {}
}

/** struct hap_dirty_vram. */
export class HapDirtyVram {
  constructor(public begin: number, public end: number) {}
}

export class Domain {
  vcpus: Vcpu[] = [];
  p2m = new P2m();
  ram: Backing;
  vram: Backing[] = [];
  /** Guest page-table frames and their level. */
  ptFrames = new Map<number, number>();
  /** Guest PTE versions per table frame (bumped by guest edits; guest-no-flush). */
  ptVer = new Map<number, Uint32Array>();
  nextPtGfn: number;
  fbs: string[] = [];
  processes: string[] = [];
  /** Shadow tables by smfn; hash (gfn * 8 + level) → smfn; present L1 entries by target mfn. */
  shTables = new Map<number, ShadowTable>();
  shHash = new Map<number, number>();
  rmap = new Map<number, number[]>();
  /** Writable type count per mfn (present writable shadow L1 entries). */
  wcount = new Map<number, number>();
  shVram: ShDirtyVram | null = null;
  hapVram: HapDirtyVram | null = null;
  /** Which framebuffer the one-range trackers currently track. */
  trackedFb: string | null = null;
  pmlEnabled = false;
  /** Global log-dirty mode (live migration). */
  logdirty = false;
  /** The log-dirty trie (migration, or the 2009 VRAM tracking that shared it). */
  trie: LogDirtyTrie | null = null;
  dbit: Dbit2007 | null = null;
  linear: Linear2007 | null = null;
  vram2009: Vram2009 | null = null;
  /** multi-fb: tracked ranges by framebuffer name. */
  multi = new Map<string, MultiRange>();
  constructor(
    readonly name: string, readonly paging: Paging, readonly memPages: number, public tracker: TrackerId,
    readonly tlbMode: 'tagged' | 'flush-on-exit', readonly pml: boolean, readonly scatterSeed: number | null,
    ramBase: number,
  ) {
    this.ram = new Backing(0, memPages, ramBase, scatterSeed);
    this.nextPtGfn = memPages - 1;
  }
}

export const MARK_WRITTEN = 1;
export const MARK_SUSPECT = 2;
export const MARK_SCREEN = 4;

/** The device model's view of one framebuffer, and the oracle's bookkeeping for it. */
export class FbOracle {
  /**
   * What a device model redrawing every reported page would hold, as the page-store log position at
   * which each page was last copied (`copyAll` for pages without their own entry).
   */
  copy = new Map<number, number>();
  copyAll = 0;
  /** The screen surface: frames screenMfn + page in the page store; only `refresh` writes it. */
  screenMfn = 0;
  /** Screen pages that may differ from guest memory (written since drawn, or partly drawn). */
  screenSuspect = new Set<number>();
  /** Pages stored to by a vCPU since the previous answer. */
  written = new Set<number>();
  /** Pages that may differ from `copy` (written, DMA'd, or missed earlier). */
  suspects = new Set<number>();
  /** Pages missed at an earlier answer and not reported since. */
  missed = new Set<number>();
  /** Pages written by an emulated device since the previous answer (reported by QEMU itself). */
  dma = new Set<number>();
  /** QEMU's dirty memory for this framebuffer's region (VGA, CODE and MIGRATION clients). */
  qemu: DirtyMemory;
  /** Pages reported to the device model since the screen last drew them. */
  told = new Set<number>();
  /** The answer record of a split refresh, completed by `phase=finish`. */
  pendingRecord: import('./report').AnswerRecord | null = null;
  lastAnswerIndex = -1;
  /** memcmp tracker: qemu-dm's own copy of the framebuffer (null until the first peek). */
  memcmpCopy: Map<number, number> | null = null;
  memcmpAll = 0;
  /**
   * Per page: MARK_* bits mirroring membership of `written`, `suspects` and `screenSuspect`, so a
   * store to a page already in all three costs one byte read (the store path's fast case).
   */
  marks: Uint8Array;
  constructor(pages: number, private readonly impl: DirtyImpl) {
    this.qemu = createDirtyMemory(impl, pages);
    this.marks = new Uint8Array(pages);
  }
  /** A mode switch to a larger framebuffer: per-page state grows, QEMU's bits are kept. */
  grow(pages: number): void {
    if (pages <= this.marks.length) {
      return;
    }
    const marks = new Uint8Array(pages);
    marks.set(this.marks);
    this.marks = marks;
    const q = createDirtyMemory(this.impl, pages);
    for (let c = 0; c < 3; c++) {
      const out = new Int32Array(this.qemu.pages);
      const n = this.qemu.collect(0, this.qemu.pages, c, out);
      for (let k = 0; k < n; k++) {
        q.setRange(out[k], 1, 1 << c);
      }
    }
    this.qemu = q;
  }
}

export interface MachineCounters {
  time: number;
  writeCounter: number;
}

export type BugSet = Set<BugId>;

/**
 * The model's state as plain data: a tree with references by number or name, so a checkpoint is a
 * deep copy (pages are shared copy-on-write). Behaviour lives in machine.ts and the mechanism files.
 */
import type { BugId, Paging, TrackerId } from './program';
import { P2m } from './p2m';
import { Scatter } from './util';
import { Tlb } from './tlb';
import { CowTable, Rmap } from './cow';
import { PageSet } from './pageset';
import type { LogDirtyTrie } from './logdirty';
import { createDirtyMemory, type DirtyImpl, type DirtyMemory } from './qemu/dirty';

export class Vcpu {
  tlb: Tlb;
  /** PML buffer: logged gfns (NR_PML_ENTRIES = 512). */
  pml: number[];
  /** Shadow paging: the smfn of the top-level shadow this vCPU has loaded (shadow_table[0]); -1: none. */
  shTop = -1;
  constructor(readonly dom: string, readonly idx: number, public process: string, tlb?: Tlb, pml?: number[]) {
    this.tlb = tlb ?? new Tlb();
    this.pml = pml ?? [];
  }
  get id(): string {
    return `${this.dom}.${this.idx}`;
  }
  /** Checkpoint copy: the TLB's entries and the PML buffer. */
  cloneShared(): Vcpu {
    const v = new Vcpu(this.dom, this.idx, this.process, this.tlb.cloneShared(), this.pml.slice());
    v.shTop = this.shTop;
    return v;
  }
}

/** A process's name as traces write it: each domain's kernel address space is `kernel`. */
export function displayProcess(name: string): string {
  return name.startsWith('kernel:') ? 'kernel' : name;
}

export class Process {
  exited = false;
  constructor(readonly name: string, readonly dom: string, public cr3: number) {}
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
  e: Float64Array;
  f: Uint16Array;
  /** Bumped whenever an entry loses permissions or changes target (TLB staleness). */
  ver: Uint32Array;
  /** Who made the last such change: 1 hypervisor, 2 guest (WHY_* of p2m.ts). */
  why: Uint8Array;
  /**
   * The shadow's reference count (page_info u.sh.count): one per present entry of a parent shadow
   * pointing to it, one per vCPU that has it loaded as its top level (shadow_table[]), one while it
   * is pinned. Only top-level (L4) shadows are pinned (sh_type_is_pinnable); a shadow whose count
   * drops to 0 is destroyed (sh_put_ref → sh_destroy_shadow), putting its own children in turn.
   */
  refs = 0;
  pinned = false;
  /** The up-pointer (below the top level): the first parent entry that points to it, as smfn * 512 + index; -1: none. */
  up = -1;
  /** The four arrays share one buffer: a checkpoint copies a table with one allocation. */
  private buf: ArrayBuffer;
  constructor(readonly smfn: number, readonly gfn: number, readonly level: number, from?: ArrayBuffer) {
    this.buf = from ? from.slice(0) : new ArrayBuffer(512 * (8 + 4 + 2 + 1));
    this.e = new Float64Array(this.buf, 0, 512);
    this.ver = new Uint32Array(this.buf, 512 * 8, 512);
    this.f = new Uint16Array(this.buf, 512 * 12, 512);
    this.why = new Uint8Array(this.buf, 512 * 14, 512);
  }
  clone(): ShadowTable {
    const t = new ShadowTable(this.smfn, this.gfn, this.level, this.buf);
    t.refs = this.refs;
    t.pinned = this.pinned;
    t.up = this.up;
    return t;
  }
}

const POOL_SHIFT = 10;
const POOL_MASK = (1 << POOL_SHIFT) - 1;

/**
 * A domain's shadow tables by smfn: the hardware walk looks one up per level, so a lookup is two
 * array loads, not a hash. Iteration is in ascending smfn order (the order they were made: the
 * frame allocator only counts up).
 */
export class ShadowPool {
  private pages: (ShadowTable | undefined)[][] = [];
  private n = 0;
  /** Bumped whenever a table is added or removed (for caches of the pool's order). */
  version = 0;
  get size(): number {
    return this.n;
  }
  get(smfn: number): ShadowTable | undefined {
    const p = this.pages[smfn >>> POOL_SHIFT];
    return p === undefined ? undefined : p[smfn & POOL_MASK];
  }
  set(smfn: number, t: ShadowTable): void {
    const pi = smfn >>> POOL_SHIFT;
    let p = this.pages[pi];
    if (p === undefined) {
      p = new Array<ShadowTable | undefined>(1 << POOL_SHIFT).fill(undefined);
      this.pages[pi] = p;
    }
    if (p[smfn & POOL_MASK] === undefined) {
      this.n++;
    }
    p[smfn & POOL_MASK] = t;
    this.version++;
  }
  delete(smfn: number): boolean {
    const p = this.pages[smfn >>> POOL_SHIFT];
    if (p === undefined || p[smfn & POOL_MASK] === undefined) {
      return false;
    }
    p[smfn & POOL_MASK] = undefined;
    this.n--;
    this.version++;
    return true;
  }
  /** Every table, ascending by smfn (a fresh array: safe to change the pool while iterating it). */
  values(): ShadowTable[] {
    const out: ShadowTable[] = [];
    for (const p of this.pages) {
      if (p !== undefined) {
        for (const t of p) {
          if (t !== undefined) {
            out.push(t);
          }
        }
      }
    }
    return out;
  }
  cloneShared(): ShadowPool {
    const c = new ShadowPool();
    for (const t of this.values()) {
      c.set(t.smfn, t.clone());
    }
    return c;
  }
}

/** struct sh_dirty_vram (xen/arch/x86/mm/shadow/private.h). */
export class ShDirtyVram {
  /**
   * Machine address of the remembered shadow L1e per page, as smfn * 512 + slot; -1 = INVALID_PADDR.
   * Copy-on-write: it changes only as shadow entries come and go, so checkpoints mostly share it.
   */
  sl1ma = CowTable.float64(-1);
  /** The accumulator: bits found between peeks (dirty_bitmap). */
  acc: Uint8Array;
  /** Time (ns) of the last observed dirtiness; -1 = idle, write access removed. */
  lastDirty = 0;
  constructor(readonly begin: number, readonly end: number) {
    this.acc = new Uint8Array(Math.ceil((end - begin) / 8));
  }
}

/** The 2007 RFC's state: the range, and whether the LFB's L1 shadows changed since the last call. */
export class Dbit2007 {
  first = true;
  changed = false;
  /** L1 shadows created since the previous call (an LFB entry made in one means it "holds" the LFB now). */
  fresh = new Set<number>();
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
  /**
   * Shadow: pages whose mappings could not all be linked (stuck_dirty: more than
   * DV_ADDR_LINK_LIST_LIMIT of them): reported dirty at every peek, for the range's life.
   */
  stuck = new Set<number>();
  /** HAP: pages marked dirty in the range since its last peek (range->dirty_count). */
  dirtyCount = 0;
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
  /**
   * Guest page-table frames: their level by gfn (0: not one). A table of arrays, not a map: the store
   * path asks about every store's gfn (two array loads instead of a hash lookup).
   */
  ptFrames = CowTable.int32(0);
  /** Guest PTE versions per table frame (bumped by guest edits; guest-no-flush). */
  ptVer = new Map<number, Uint32Array>();
  nextPtGfn: number;
  fbs: string[] = [];
  processes: string[] = [];
  /** Shadow tables by smfn; hash (gfn * 8 + level) → smfn; present L1 entries by target mfn. */
  shTables = new ShadowPool();
  shHash = new Map<number, number>();
  rmap = new Rmap();
  /**
   * Bumped whenever a version that a cached translation could have recorded changes (a guest PTE,
   * a shadow entry, a shadow table destroyed): a TLB hit whose entry was filled at the current
   * epoch (and p2m epoch) cannot be stale, so the hit skips the per-entry checks.
   */
  permEpoch = 0;
  /** Writable type count per mfn (present writable shadow L1 entries). */
  wcount = CowTable.int32(0);
  shVram: ShDirtyVram | null = null;
  hapVram: HapDirtyVram | null = null;
  /** Which framebuffer the one-range trackers currently track. */
  trackedFb: string | null = null;
  /** PML on (kept by the p2m, whose `ept_p2m_type_to_flags` reads it when it writes an entry). */
  get pmlEnabled(): boolean {
    return this.p2m.pml;
  }
  set pmlEnabled(on: boolean) {
    this.p2m.pml = on;
  }
  /** Global log-dirty mode (live migration). */
  logdirty = false;
  /** The log-dirty trie (migration, or the 2009 VRAM tracking that shared it). */
  trie: LogDirtyTrie | null = null;
  dbit: Dbit2007 | null = null;
  linear: Linear2007 | null = null;
  vram2009: Vram2009 | null = null;
  /** multi-fb: tracked ranges by framebuffer name. */
  multi = new Map<string, MultiRange>();
  /**
   * `multi-fb` under HAP: log-dirty mode was turned on by the first range (bae850f060's
   * hap_track_dirty_vram calls paging_log_dirty_enable, which pauses the domain, when it is off);
   * `logdirty disable` turns it off again.
   */
  multiLogdirty = false;
  /**
   * `logdirty-2009`: VRAM tracking installed its own log-dirty hooks (hap_vram_tracking_init, at its
   * first call); they stay, `untrack` or not, until migration installs the global ones
   * (hap_logdirty_init).
   */
  vram2009Hooks = false;
  constructor(
    readonly name: string, readonly paging: Paging, readonly memPages: number, public tracker: TrackerId,
    readonly tlbMode: 'tagged' | 'flush-on-exit', readonly pml: boolean, readonly scatterSeed: number | null,
    ramBase: number,
  ) {
    this.ram = new Backing(0, memPages, ramBase, scatterSeed);
    this.nextPtGfn = memPages - 1;
  }
}

/** The device model's view of one framebuffer, and the oracle's bookkeeping for it. */
export class FbOracle {
  /**
   * What a device model redrawing every reported page would hold, as the page-store log position at
   * which each page was last copied (-1: `copyAll`, the position of the last whole copy).
   */
  copy: Float64Array;
  copyAll = 0;
  /** The screen surface: frames screenMfn + page in the page store; only `refresh` writes it. */
  screenMfn = 0;
  /** Screen pages that may differ from guest memory (written since drawn, or partly drawn). */
  screenSuspect: PageSet;
  /** Pages stored to by a vCPU since the previous answer. */
  written: PageSet;
  /** Pages that may differ from `copy` (written, DMA'd, or missed earlier). */
  suspects: PageSet;
  /** Pages missed at an earlier answer and not reported since. */
  missed: PageSet;
  /** Pages written by an emulated device since the previous answer (reported by QEMU itself). */
  dma: PageSet;
  /** QEMU's dirty memory for this framebuffer's region (VGA, CODE and MIGRATION clients). */
  qemu: DirtyMemory;
  /** Pages reported to the device model since the screen last drew them. */
  told: PageSet;
  /** The answer record of a split refresh, completed by `phase=finish`. */
  pendingRecord: import('./report').AnswerRecord | null = null;
  /**
   * Pre-2017 QEMU: the pages [first, last] that the last scanline loop's reset covers (from the
   * first drawn line's first byte to the last drawn line's last byte); null when no line was drawn.
   */
  drawnSpan: [number, number] | null = null;
  lastAnswerIndex = -1;
  /**
   * memcmp tracker: qemu-dm's own copy of VRAM, as the page-store position of its last call (every
   * call brings every page's copy up to date); -1 before the first (a zero-filled copy).
   */
  memcmpAt = -1;
  /** memcmp: the next call is a full update (a new mode, or tracking again after `untrack`). */
  memcmpRedraw = false;
  constructor(pages: number, private readonly impl: DirtyImpl) {
    this.qemu = createDirtyMemory(impl, pages);
    this.copy = new Float64Array(pages).fill(-1);
    this.screenSuspect = new PageSet(pages);
    this.written = new PageSet(pages);
    this.suspects = new PageSet(pages);
    this.missed = new PageSet(pages);
    this.dma = new PageSet(pages);
    this.told = new PageSet(pages);
  }
  /** The log position of the device model's copy of page p. */
  copyOf(p: number): number {
    const c = p < this.copy.length ? this.copy[p] : -1;
    return c < 0 ? this.copyAll : c;
  }
  /** A mode switch to a larger framebuffer: per-page state grows, QEMU's bits are kept. */
  grow(pages: number): void {
    if (pages <= this.copy.length) {
      return;
    }
    const copy = new Float64Array(pages).fill(-1);
    copy.set(this.copy);
    this.copy = copy;
    for (const set of [this.screenSuspect, this.written, this.suspects, this.missed, this.dma, this.told]) {
      set.grow(pages);
    }
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

/**
 * The p2m: guest frame → machine frame and type, as Xen's EPT-based p2m keeps it
 * (xen/arch/x86/mm/p2m.c, p2m-ept.c). Types are per gfn; range type changes are lazy
 * (p2m_change_type_range → ept_invalidate_emt_range marks entries for recalculation and the
 * "log-dirty" rangeset records the intent); the next access takes an EPT misconfiguration exit and
 * resolve_misconfig recomputes the type from that rangeset (p2m_recalc_type). Lookups
 * (ept_get_entry) report the recalculated type, so p2m_change_type_one sees it too.
 */
import type { P2mTypeName } from './program';
import type { Hasher } from './util';

export const enum T {
  ram_rw = 0,
  ram_logdirty = 2,
  mmio_dm = 4,
  ioreq_server = 15,
  invalid = 255,
}

export function typeName(t: number): P2mTypeName | 'invalid' {
  switch (t) {
    case T.ram_rw: return 'ram_rw';
    case T.ram_logdirty: return 'ram_logdirty';
    case T.mmio_dm: return 'mmio_dm';
    case T.ioreq_server: return 'ioreq_server';
    default: return 'invalid';
  }
}
export function typeCode(n: P2mTypeName): T {
  switch (n) {
    case 'ram_rw': return T.ram_rw;
    case 'ram_logdirty': return T.ram_logdirty;
    case 'mmio_dm': return T.mmio_dm;
    case 'ioreq_server': return T.ioreq_server;
  }
}
/** P2M_CHANGEABLE_TYPES */
export function changeable(t: number): boolean {
  return t === T.ram_rw || t === T.ram_logdirty || t === T.ioreq_server;
}
export function isRam(t: number): boolean {
  return t === T.ram_rw || t === T.ram_logdirty;
}

/** Why an entry last lost permissions: the stale-TLB check tells hypervisor and guest apart. */
export const WHY_NONE = 0;
export const WHY_HV = 1;
export const WHY_GUEST = 2;

/** `eptType`'s answer for an entry whose recalculation is pending. */
export const PENDING = -1;

/** Entries of an EPT table (EPT_PAGETABLE_ENTRIES). */
export const EPT_ENTRIES = 512;
const EPT_BITS = 9;
const CHUNK_BITS = 12;
const CHUNK = 1 << CHUNK_BITS;
const CMASK = CHUNK - 1;

/**
 * Per 4096 gfns: explicit state. Absent chunk = defaults (type by backing, D set, no recalc).
 * An entry's fields sit side by side (W words per entry), so that an access that reads or writes
 * several of them touches one cache line, not one per field: a big guest's p2m does not stay in the
 * caches, and an EPT violation reads the type, the recalculation stamp, D and the version.
 */
const W = 4;
/** Word 0: the type byte, whether it is explicit (else the backing default applies), EPT D. */
const M_TYPE = 0xff;
const M_EXPLICIT = 0x100;
/** EPT D bit (EPT A/D and PML). rw entries are made with A=D=1; logdirty ones with D=0. */
const M_D = 0x200;
/**
 * EPT w of a ram_logdirty entry: ept_p2m_type_to_flags gives it w=1 when PML was on as the entry was
 * written (a write sets EPT D and is logged instead of exiting). Flags are computed only when an
 * entry is written with a type — a recalculation that keeps the type keeps them — so an entry can
 * keep w=1 after PML is turned off.
 */
const M_PMLW = 0x400;
/** Word 1: the recalc stamp: the entry is current w.r.t. range changes with stamp ≤ this. */
const W_STAMP = 1;
/** Word 2: the version, bumped whenever the entry's permissions drop (TLB staleness). */
const W_VER = 2;

class Chunk {
  e: Uint32Array;
  /**
   * Per EPT leaf table (512 entries): the stamp up to which every present entry was last
   * recalculated together (see P2m.resolveTable); a table with no range change newer than this has
   * nothing pending and needs no scan.
   */
  tableStamp = new Uint32Array(CHUNK / EPT_ENTRIES);
  /** Entries with an explicit type. */
  nExplicit = 0;
  constructor(from?: Chunk) {
    if (from !== undefined) {
      this.e = from.e.slice();
      this.tableStamp.set(from.tableStamp);
      this.nExplicit = from.nExplicit;
    } else {
      this.e = new Uint32Array(CHUNK * W);
      for (let i = 0; i < CHUNK * W; i += W) {
        this.e[i] = T.invalid | M_D;
      }
    }
  }
  clone(): Chunk {
    return new Chunk(this);
  }
}

export interface Backing {
  /** First gfn, count, and the function giving the mfn of gfn (allocation order). */
  gfn: number;
  count: number;
  base: number;
  /** Null for contiguous frames, else the permutation seed key (see Scatter). */
  scatter: boolean;
}

/** `effective`'s flag for an entry that was pending, and its answer for an entry without a type. */
const E_PENDING = 0x10000;
const NO_TYPE = -2;

export class P2m {
  /** Chunks by gfn / 4096 (a sparse array: absent chunk = defaults). */
  chunks: (Chunk | undefined)[] = [];
  /** Chunks allocated (for the checkpoint budget). */
  get chunkCount(): number {
    return this.chunks.reduce((n, c) => n + (c ? 1 : 0), 0);
  }
  /** Pending lazy range changes: [s, e) and the stamp they carry. */
  recalcRanges: { s: number; e: number; stamp: number }[] = [];
  globalStamp = 0;
  /** Bumped with every entry version (see Domain.permEpoch). */
  verEpoch = 0;
  nextStamp = 1;
  /** p2m->logdirty_ranges (inclusive ends in Xen; [s, e) here). */
  logdirtyRanges: { s: number; e: number }[] = [];
  globalLogdirty = false;
  /** PML enabled (vmx_domain_pml_enabled): what ept_p2m_type_to_flags reads for a logdirty entry. */
  pml = false;
  /**
   * p2m->ioreq.server: an ioreq server has claimed the ioreq_server type
   * (XEN_DMOP_map_mem_type_to_ioreq_server). While one has, recalculation keeps ioreq_server
   * entries (p2m_recalc_type_range); the trace language cannot release the claim.
   */
  ioreqServer = false;
  /** Number of entries of type ioreq_server (hap_enable_log_dirty refuses while non-zero). */
  ioreqEntries = 0;

  /** Chunks this p2m may write in place (the others are shared with a checkpoint: copy on write). */
  private owned: boolean[] = [];

  /** The chunk of gfn; `write`: made if absent, and this p2m's own (copied if shared). */
  private chunk(gfn: number, write: boolean): Chunk | undefined {
    const k = Math.floor(gfn / CHUNK);
    let c = this.chunks[k];
    if (write && (c === undefined || !this.owned[k])) {
      c = c === undefined ? new Chunk() : c.clone();
      this.chunks[k] = c;
      this.owned[k] = true;
    }
    return c;
  }

  /** Checkpoint copy: chunks are shared until either side writes one. */
  cloneShared(): P2m {
    const p = Object.create(P2m.prototype) as P2m;
    Object.assign(p, this);
    p.chunks = this.chunks.slice();
    p.owned = [];
    this.owned = [];
    p.recalcRanges = this.recalcRanges.map((r) => ({ ...r }));
    p.logdirtyRanges = this.logdirtyRanges.map((r) => ({ ...r }));
    return p;
  }

  /** The type stored in the entry (before any pending recalculation). */
  rawType(gfn: number, backed: boolean): number {
    const c = this.chunk(gfn, false);
    const w = c !== undefined ? c.e[(gfn & CMASK) * W] : 0;
    if (w & M_EXPLICIT) {
      return w & M_TYPE;
    }
    return backed ? T.ram_rw : T.invalid;
  }

  /**
   * Is every entry of [s, e) a backed default — type ram_rw, nothing pending — so a range scan may
   * skip the per-entry lookup? (No explicit type in any chunk of the range, no range change over it.)
   */
  plainRange(s: number, e: number): boolean {
    if (this.globalStamp > 0) {
      return false;
    }
    for (const r of this.recalcRanges) {
      if (r.s < e && s < r.e) {
        return false;
      }
    }
    for (let k = Math.floor(s / CHUNK); k * CHUNK < e; k++) {
      const c = this.chunks[k];
      if (c !== undefined && c.nExplicit > 0) {
        return false;
      }
    }
    return true;
  }

  /** Is a lazy recalculation pending on this entry (an EPT misconfiguration on access)? */
  pending(gfn: number): boolean {
    return this.changedSince(gfn, this.entryStamp(gfn));
  }
  /** The stamp of the entry's last recalculation. */
  private entryStamp(gfn: number): number {
    const c = this.chunk(gfn, false);
    return c !== undefined ? c.e[(gfn & CMASK) * W + W_STAMP] : 0;
  }
  /** Is there a range (or global) type change covering gfn newer than stamp `st`? `rangesOnly`: a range change. */
  private changedSince(gfn: number, st: number, rangesOnly = false): boolean {
    if (!rangesOnly && this.globalStamp > st) {
      return true;
    }
    const rs = this.recalcRanges;
    for (let i = 0; i < rs.length; i++) {
      const r = rs[i];
      if (gfn >= r.s && gfn < r.e && r.stamp > st) {
        return true;
      }
    }
    return false;
  }

  /**
   * The EPT check of a backed entry, with one chunk lookup: PENDING if a recalculation is pending
   * (the access takes a misconfiguration exit), else the stored type (`pending` and `rawType`).
   */
  eptType(gfn: number): number {
    const r = this.effective(gfn, true);
    return r === NO_TYPE ? T.invalid : r & E_PENDING ? PENDING : r;
  }

  /** p2m_is_logdirty_range for one gfn. */
  inLogdirtyRange(gfn: number): boolean {
    if (this.globalLogdirty) {
      return true;
    }
    const rs = this.logdirtyRanges;
    for (let i = 0; i < rs.length; i++) {
      if (gfn >= rs[i].s && gfn < rs[i].e) {
        return true;
      }
    }
    return false;
  }

  /** p2m_recalc_type */
  private recalc(t: number, gfn: number): number {
    if (!changeable(t)) {
      return t;
    }
    if (t === T.ioreq_server && this.ioreqServer) {
      return t;
    }
    return this.inLogdirtyRange(gfn) ? T.ram_logdirty : T.ram_rw;
  }

  /** ept_get_entry: the effective type (recalculated if pending). */
  type(gfn: number, backed: boolean): number {
    const r = this.effective(gfn, backed);
    return r === NO_TYPE ? T.invalid : r & ~E_PENDING;
  }

  /**
   * resolve_misconfig after an access to gfn: the whole EPT leaf table holding it is recomputed
   * under the one misconfiguration exit (p2m-ept.c, the level-0 loop over all 512 entries), so every
   * pending entry of gfn's 512-aligned block gets its recalculated type stored and its mark cleared,
   * not gfn's alone. `backed(g)`: whether a frame backs g. Returns how many entries were recalculated.
   */
  resolveTable(gfn: number, backed: (g: number) => boolean): number {
    const base = gfn - (gfn % EPT_ENTRIES);
    if (!this.tableNewer(gfn) && !this.pending(gfn)) {
      // No range change since the table was last recalculated (and gfn, perhaps not present then,
      // is not pending either): nothing in it is pending.
      return 0;
    }
    let n = 0;
    for (let g = base; g < base + EPT_ENTRIES; g++) {
      const t = this.rawType(g, backed(g));
      if (t === T.invalid || !this.pending(g)) {
        // Not present, or nothing to recalculate.
        continue;
      }
      const nt = this.recalc(t, g);
      if (nt === t && this.explicitAt(g)) {
        // resolve_misconfig rewrites the flags only when the type changes (the entry keeps its w
        // and D); the mark is cleared either way.
        this.chunk(g, true)!.e[(g & CMASK) * W + W_STAMP] = this.nextStamp - 1;
      } else {
        this.storeStamped(g, nt);
      }
      n++;
    }
    this.chunk(gfn, true)!.tableStamp[(gfn & CMASK) >>> EPT_BITS] = this.nextStamp - 1;
    return n;
  }

  /**
   * Has a range (or global) type change covering gfn's EPT table come since the table was last
   * recalculated? `rangesOnly`: a range change.
   */
  private tableNewer(gfn: number, rangesOnly = false): boolean {
    const base = gfn - (gfn % EPT_ENTRIES);
    const c0 = this.chunk(gfn, false);
    const done = c0 ? c0.tableStamp[(gfn & CMASK) >>> EPT_BITS] : 0;
    if (!rangesOnly && this.globalStamp > done) {
      return true;
    }
    const rs = this.recalcRanges;
    for (let k = 0; k < rs.length; k++) {
      const r = rs[k];
      if (r.stamp > done && r.s < base + EPT_ENTRIES && base < r.e) {
        return true;
      }
    }
    return false;
  }

  /**
   * p2m_set_entry → ept_set_entry: pending recalculations of gfn's EPT table are carried out first
   * (resolve_misconfig), then the entry is written.
   */
  setEntry(gfn: number, t: number, why: number, backed: (g: number) => boolean): void {
    this.resolveTable(gfn, backed);
    this.store(gfn, t, why);
  }

  /** Write an entry's type (p2m_set_entry); EPT D follows ept_p2m_type_to_flags. */
  store(gfn: number, t: number, why: number): void {
    const c = this.chunk(gfn, true)!;
    const i = (gfn & CMASK) * W;
    const w = c.e[i];
    const old = w & M_EXPLICIT ? w & M_TYPE : T.ram_rw;
    if (old === T.ioreq_server && t !== T.ioreq_server) {
      this.ioreqEntries--;
    } else if (old !== T.ioreq_server && t === T.ioreq_server) {
      this.ioreqEntries++;
    }
    if (!(w & M_EXPLICIT)) {
      c.nExplicit++;
    }
    const nw = t | M_EXPLICIT | (t === T.ram_rw ? M_D : 0) | (t === T.ram_logdirty && this.pml ? M_PMLW : 0);
    c.e[i] = nw;
    // (A logdirty entry PML made writable becomes only rw, or mmio_dm, which loses reads too: Xen
    // changes a page to ioreq_server only from ram_rw.)
    if (losesAccess(old, t) || why === WHY_GUEST) {
      c.e[i + W_VER]++;
      this.verEpoch++;
    }
  }

  /**
   * p2m_change_type_one: succeeds only if the (effective) type is `ot`; then p2m_set_entry, which
   * first resolves what is pending in gfn's EPT table. `backed(g)`: whether a frame backs g; `ot`
   * is a type an entry can hold (not `invalid`).
   */
  changeTypeOne(gfn: number, backed: (g: number) => boolean, ot: number, nt: number): boolean {
    const r = this.effective(gfn, backed(gfn));
    if (r === NO_TYPE || (r & ~E_PENDING) !== ot) {
      return false;
    }
    if (r & E_PENDING || this.tableNewer(gfn)) {
      this.resolveTable(gfn, backed);
    }
    this.storeStamped(gfn, nt);
    return true;
  }

  /**
   * `changeTypeOne(g, ot, nt)` for each g of [s, e) in ascending order, as p2m_log_dirty_range's
   * loop calls it; appends g - s to `changed` for each g that changed. The same entries, stamps and
   * versions result, with the table's test once per EPT table:
   * - a change stores only its own entry, so each entry's effective type is what it was before;
   * - a change first resolves its table (resolveTable) when the table has a newer range change or
   *   the entry itself is pending. Once that has run in a table, nothing left in it that can change
   *   is pending (only entries without a type are skipped), so later changes there resolve nothing.
   */
  changeTypeEach(s: number, e: number, backed: (g: number) => boolean, ot: number, nt: number, changed: number[]): void {
    for (let b = s; b < e; ) {
      const end = Math.min(e, b - (b % EPT_ENTRIES) + EPT_ENTRIES);
      const newer = this.tableNewer(b);
      let resolved = false;
      for (let g = b; g < end; g++) {
        const r = this.effective(g, backed(g));
        if (r === NO_TYPE || (r & ~E_PENDING) !== ot) {
          continue;
        }
        if (!resolved && (newer || r & E_PENDING)) {
          this.resolveTable(g, backed);
          resolved = true;
        }
        this.storeStamped(g, nt);
        changed.push(g - s);
      }
      b = end;
    }
  }

  /**
   * The effective type from one read of the entry (`type`), with E_PENDING set when the entry was
   * pending (so it is the recalculated type); NO_TYPE for an entry without one (never pending).
   */
  private effective(gfn: number, backed: boolean): number {
    const c = this.chunks[Math.floor(gfn / CHUNK)];
    const i = (gfn & CMASK) * W;
    const w = c !== undefined ? c.e[i] : 0;
    const raw = w & M_EXPLICIT ? w & M_TYPE : backed ? T.ram_rw : T.invalid;
    if (raw === T.invalid) {
      return NO_TYPE;
    }
    return this.changedSince(gfn, c !== undefined ? c.e[i + W_STAMP] : 0) ? this.recalc(raw, gfn) | E_PENDING : raw;
  }

  /** Store a hypervisor change of gfn's type and mark the entry as recalculated now. */
  private storeStamped(gfn: number, t: number): void {
    this.store(gfn, t, WHY_HV);
    this.chunk(gfn, true)!.e[(gfn & CMASK) * W + W_STAMP] = this.nextStamp - 1;
  }

  /**
   * p2m_change_type_range as today's Xen runs it (change_type_range since 7f28661f6a, 2018): with
   * an inclusive end, `invalidate_start < invalidate_end` leaves a range of one gfn uninvalidated —
   * only the log-dirty rangeset changes, the entry keeps its type until something else recalculates
   * it. Returns whether the invalidation marked a present entry that had nothing pending
   * (ept_invalidate_emt_range's result: the EPT sync, an INVEPT at the p2m unlock).
   */
  changeTypeRangeNow(s: number, e: number, ot: number, nt: number, backed: (g: number) => boolean): boolean {
    if (e - s <= 1) {
      this.updateLogdirtyRanges(s, e, ot, nt);
      return false;
    }
    const marked = this.anyUnmarkedLeaf(s, e, backed);
    this.changeTypeRange(s, e, ot, nt);
    return marked;
  }

  /**
   * p2m_change_entry_type_global (ept_change_entry_type_global): every entry recalculates; returns
   * whether that marked anything not already pending (ept_invalidate_emt_subtree's result: a sync).
   */
  changeTypeGlobalNow(ot: number, nt: number, backed: (g: number) => boolean, ranges: readonly (readonly [number, number])[]): boolean {
    const marked = ranges.some(([s, e]) => this.anyUnmarkedRoot(s, e, backed));
    this.changeTypeGlobal(ot, nt);
    return marked;
  }

  /**
   * Does a global change mark a root entry over [s, e) that was not marked already
   * (ept_invalidate_emt_subtree on the root)? A root entry stays marked from the last global change
   * until an access resolves a table below it: so some table there was resolved after the last
   * global change and has an entry no newer change marked again.
   */
  anyUnmarkedRoot(s: number, e: number, backed: (g: number) => boolean): boolean {
    return this.anyUnmarked(s, e, backed, false);
  }
  /**
   * Does invalidating [s, e) mark a present entry that was not marked already (so the range change
   * syncs the EPT)? ept_invalidate_emt_range looks at the entries of the range's own level and
   * skips only those already marked, which a range change did (a global change marks the root's
   * entries only: it leaves the leaves unmarked until an access pushes the marks down to them and
   * resolves them). So an entry counts as marked when a range change newer than its last
   * recalculation covers it.
   */
  anyUnmarkedLeaf(s: number, e: number, backed: (g: number) => boolean): boolean {
    return this.anyUnmarked(s, e, backed, true);
  }
  /** `anyUnmarkedRoot` (leaf false) and `anyUnmarkedLeaf` (true). */
  private anyUnmarked(s: number, e: number, backed: (g: number) => boolean, leaf: boolean): boolean {
    for (let b = s; b < e; ) {
      const end = Math.min(e, b - (b % EPT_ENTRIES) + EPT_ENTRIES);
      const c = this.chunks[Math.floor(b / CHUNK)];
      const done = c !== undefined ? c.tableStamp[(b & CMASK) >>> EPT_BITS] : 0;
      // (For the root: a table last resolved before the last global change lies under a marked entry.)
      if (leaf || this.globalStamp <= done) {
        const newer = this.tableNewer(b, leaf);
        for (let g = b; g < end; g++) {
          if (this.rawType(g, backed(g)) !== T.invalid && (!newer || !this.changedSince(g, this.entryStamp(g), leaf))) {
            return true;
          }
        }
      }
      b = end;
    }
    return false;
  }

  /** p2m_change_type_range: lazy; records the log-dirty rangeset change. */
  changeTypeRange(s: number, e: number, ot: number, nt: number): void {
    const stamp = this.nextStamp++;
    this.recalcRanges = this.recalcRanges.filter((r) => !(r.s >= s && r.e <= e));
    this.recalcRanges.push({ s, e, stamp });
    this.updateLogdirtyRanges(s, e, ot, nt);
  }

  /** The log-dirty rangeset's part of a range type change. */
  private updateLogdirtyRanges(s: number, e: number, ot: number, nt: number): void {
    if (ot === T.ram_rw && nt === T.ram_logdirty) {
      this.logdirtyRanges = addRange(this.logdirtyRanges, s, e);
    } else if (ot === T.ram_logdirty && nt === T.ram_rw) {
      this.logdirtyRanges = removeRange(this.logdirtyRanges, s, e);
    }
  }

  /** p2m_change_entry_type_global (log-dirty enable/clean/disable): every entry recalculates. */
  changeTypeGlobal(ot: number, nt: number): void {
    this.globalStamp = this.nextStamp++;
    this.recalcRanges = [];
    if (ot === T.ram_rw && nt === T.ram_logdirty) {
      this.globalLogdirty = true;
    } else if (ot === T.ram_logdirty && nt === T.ram_rw) {
      this.globalLogdirty = false;
    }
  }

  /** Has gfn an entry of its own (an explicit type), not the backing's default? */
  private explicitAt(gfn: number): boolean {
    const c = this.chunks[Math.floor(gfn / CHUNK)];
    return c !== undefined && (c.e[(gfn & CMASK) * W] & M_EXPLICIT) !== 0;
  }
  /** EPT w of the entry, whose (effective, resolved) type is t (ept_p2m_type_to_flags as last applied). */
  eptW(gfn: number, t: number): boolean {
    if (t === T.ram_rw) {
      return true;
    }
    if (t !== T.ram_logdirty) {
      return false;
    }
    const c = this.chunks[Math.floor(gfn / CHUNK)];
    const w = c !== undefined ? c.e[(gfn & CMASK) * W] : 0;
    // An entry stored as logdirty keeps the w it was written with; one that a pending recalculation
    // will turn logdirty gets the flags of now.
    return w & M_EXPLICIT && (w & M_TYPE) === T.ram_logdirty ? (w & M_PMLW) !== 0 : this.pml;
  }
  eptD(gfn: number): boolean {
    const c = this.chunk(gfn, false);
    return c !== undefined ? (c.e[(gfn & CMASK) * W] & M_D) !== 0 : true;
  }
  setEptD(gfn: number): void {
    this.chunk(gfn, true)!.e[(gfn & CMASK) * W] |= M_D;
  }
  /** Version of the entry (see `ver`). */
  version(gfn: number): number {
    const c = this.chunk(gfn, false);
    return c !== undefined ? c.e[(gfn & CMASK) * W + W_VER] : 0;
  }

  hashInto(h: Hasher): void {
    for (let k = 0; k < this.chunks.length; k++) {
      const c = this.chunks[k];
      if (c === undefined) {
        continue;
      }
      h.num(k);
      // Field by field (type bytes, explicit flags, D bits, stamps), as the entries read.
      const type = new Uint8Array(CHUNK);
      const explicit = new Uint8Array(CHUNK);
      const d = new Uint8Array(CHUNK);
      const stamp = new Uint32Array(CHUNK);
      for (let i = 0; i < CHUNK; i++) {
        const w = c.e[i * W];
        type[i] = w & M_TYPE;
        explicit[i] = w & M_EXPLICIT ? 1 : 0;
        d[i] = (w & M_D ? 1 : 0) | (w & M_PMLW ? 2 : 0);
        stamp[i] = c.e[i * W + W_STAMP];
      }
      h.bytes(type);
      h.bytes(explicit);
      h.bytes(d);
      h.bytes(new Uint8Array(stamp.buffer));
      h.bytes(new Uint8Array(c.tableStamp.buffer));
    }
    h.num(this.globalStamp);
    h.word(this.globalLogdirty ? 1 : 0);
    h.word(this.pml ? 1 : 0);
    h.word(this.ioreqServer ? 1 : 0);
    for (const r of this.recalcRanges) {
      h.num(r.s); h.num(r.e); h.num(r.stamp);
    }
    for (const r of this.logdirtyRanges) {
      h.num(r.s); h.num(r.e);
    }
  }
}

/** Can an access through an entry of this type read RAM (not an MMIO exit)? */
function readable(t: number): boolean {
  return t !== T.invalid && t !== T.mmio_dm;
}

/**
 * Does changing an entry from type `old` to `t` take away an access it allowed — writes (rw to
 * anything else), or reads (RAM to mmio_dm)? Xen's ept_set_entry then syncs the EPT (INVEPT), which
 * also drops paging-structure caches; here the entry's version and the p2m's version epoch move, so
 * cached translations and the model's walk caches through it are stale.
 */
function losesAccess(old: number, t: number): boolean {
  return (old === T.ram_rw && t !== T.ram_rw) || (readable(old) && !readable(t));
}

/** [s,e) range list helpers (sorted, merged). */
export function addRange(list: { s: number; e: number }[], s: number, e: number): { s: number; e: number }[] {
  const out: { s: number; e: number }[] = [];
  let ns = s;
  let ne = e;
  for (const r of list) {
    if (r.e < ns || r.s > ne) {
      out.push(r);
    } else {
      ns = Math.min(ns, r.s);
      ne = Math.max(ne, r.e);
    }
  }
  out.push({ s: ns, e: ne });
  return out.sort((a, b) => a.s - b.s);
}
export function removeRange(list: { s: number; e: number }[], s: number, e: number): { s: number; e: number }[] {
  const out: { s: number; e: number }[] = [];
  for (const r of list) {
    if (r.e <= s || r.s >= e) {
      out.push(r);
      continue;
    }
    if (r.s < s) {
      out.push({ s: r.s, e: s });
    }
    if (r.e > e) {
      out.push({ s: e, e: r.e });
    }
  }
  return out;
}

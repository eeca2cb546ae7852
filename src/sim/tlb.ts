/**
 * A vCPU's TLB: cached translations {va → mfn, writable, dirty} and what each was filled from, in
 * an open-addressing hash table of typed arrays keyed by virtual page number.
 *
 * Why not a Map of objects: a store that misses the TLB fills an entry, and after every flush most
 * stores of a big framebuffer do; objects per entry cost allocation, GC and a checkpoint copy each.
 * Here an entry is a slot index; a checkpoint copies a few flat arrays; a flush is O(1) (a
 * generation bump: a slot is occupied only while its generation is the table's).
 */

/** Flags of an entry. */
export const TLB_W = 1;
export const TLB_D = 2;
export const TLB_G = 4;
/** A violation was already reported for this entry. */
export const TLB_WARNED = 8;

/** A cached translation, as a plain record (for inspection and the cold paths). */
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
  warned: boolean;
}

/** Smallest hash table (slots) and record array (entries). */
const MIN_CAP = 64;

/**
 * Entries are records of REC doubles, dense: entries 0..n-1 side by side in one Float64Array, in no
 * particular order. A hash table of slots (open addressing, linear probing, keyed by vpn) maps a
 * vpn to its record: per slot two int32s, the generation it was filled in (a flush bumps the
 * table's: O(1)) and the record's index. A checkpoint copies the n records as one block (a copy of
 * the hash layout would be mostly empty slots, and a scan of it for the occupied ones read the
 * records at random: that took three quarters of a millisecond per checkpoint of a big TLB); the
 * copy builds its hash table on first use. The guest PTE version, read only by the slow checks,
 * sits in a side array.
 */
const REC = 8;
const F_VPN = 0;
const F_FLAGS = 1;
const F_MFN = 2;
const F_GFN = 3;
/** The domain's version epoch at fill (Domain.permEpoch + P2m.verEpoch). */
const F_EP = 4;
const F_SRC = 5;
const F_SRCVER = 6;
const F_PT = 7;
/** Generations stay below this (int32); past it every slot is emptied and they start again at 1. */
const GEN_MAX = 0x7fffffff;

export class Tlb {
  /** Entries, and room for them in `rec` and `ptv`. */
  private n = 0;
  private room = 0;
  private rec: Float64Array;
  /** Per entry: the guest PTE version at fill. */
  private ptv: Uint32Array;
  /** Hash slots: [2i] the generation it was filled in, [2i + 1] the entry; null until first needed (a checkpoint copy). */
  private hash: Int32Array | null = null;
  private hcap = 0;
  private gen = 1;

  constructor() {
    this.room = MIN_CAP;
    this.rec = new Float64Array(MIN_CAP * REC);
    this.ptv = new Uint32Array(MIN_CAP);
    this.allocHash(MIN_CAP);
  }

  get size(): number {
    return this.n;
  }
  /** Bytes held (for the checkpoint budget). */
  get bytes(): number {
    return this.room * (REC * 8 + 4) + this.hcap * 8;
  }

  // ---- an entry's fields (slot from `find` or `insert`, good until the next insert, remove or clear) ----
  flags(slot: number): number {
    return this.rec[slot * REC + F_FLAGS];
  }
  mfn(slot: number): number {
    return this.rec[slot * REC + F_MFN];
  }
  gfn(slot: number): number {
    return this.rec[slot * REC + F_GFN];
  }
  ep(slot: number): number {
    return this.rec[slot * REC + F_EP];
  }
  src(slot: number): number {
    return this.rec[slot * REC + F_SRC];
  }
  srcVer(slot: number): number {
    return this.rec[slot * REC + F_SRCVER];
  }
  pt(slot: number): number {
    return this.rec[slot * REC + F_PT];
  }
  ptVer(slot: number): number {
    return this.ptv[slot];
  }
  /** Mark the entry as reported (TLB_WARNED), so one stale entry is reported once. */
  warn(slot: number): void {
    this.rec[slot * REC + F_FLAGS] = this.flags(slot) | TLB_WARNED;
  }

  private home(vpn: number): number {
    // Fibonacci hashing of the low 32 bits mixed with the high ones.
    const lo = vpn >>> 0;
    const hi = (vpn / 4294967296) >>> 0;
    return Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x9e3779b1) >>> 0 & (this.hcap - 1);
  }

  private allocHash(cap: number): void {
    this.hcap = cap;
    this.gen = 1;
    // Taken in one sweep, not page by page as random fills reach it (as PageStore's slabs).
    this.hash = new Int32Array(2 * cap).fill(0);
  }

  /** Lay the entries out in a fresh hash table of at least twice their number of slots. */
  private rehash(): void {
    let cap = MIN_CAP;
    while (cap < 2 * this.n + 2) {
      cap *= 2;
    }
    this.allocHash(cap);
    const h = this.hash!;
    const mask = cap - 1;
    for (let e = 0; e < this.n; e++) {
      let i = this.home(this.rec[e * REC + F_VPN]);
      while (h[2 * i] === 1) {
        i = (i + 1) & mask;
      }
      h[2 * i] = 1;
      h[2 * i + 1] = e;
    }
  }

  /** Load vpn's home slot and the record it names (a prefetch ahead of `find`: reads only; the value is meaningless). */
  touch(vpn: number): number {
    const h = this.hash;
    if (h === null) {
      return 0;
    }
    const e = h[2 * this.home(vpn) + 1];
    return e < this.n ? this.rec[e * REC] : 0;
  }

  /** The hash slot holding vpn, or -1. */
  private slotOf(vpn: number): number {
    if (this.hash === null) {
      this.rehash();
    }
    const h = this.hash!;
    const mask = this.hcap - 1;
    const rec = this.rec;
    const g = this.gen;
    for (let i = this.home(vpn); ; i = (i + 1) & mask) {
      if (h[2 * i] !== g) {
        return -1;
      }
      if (rec[h[2 * i + 1] * REC + F_VPN] === vpn) {
        return i;
      }
    }
  }

  /** The entry (slot) holding vpn, or -1. */
  find(vpn: number): number {
    const i = this.slotOf(vpn);
    return i < 0 ? -1 : this.hash![2 * i + 1];
  }

  /** Fill (or refill) the entry for vpn; returns its slot. */
  insert(vpn: number, mfn: number, gfn: number, flags: number, src: number, srcVer: number, pt: number, ptVer: number, ep: number): number {
    if (this.hash === null || (this.n + 1) * 2 > this.hcap) {
      this.rehash();
    }
    const h = this.hash!;
    const mask = this.hcap - 1;
    const g = this.gen;
    let i = this.home(vpn);
    let e = -1;
    for (;;) {
      if (h[2 * i] !== g) {
        break;
      }
      const x = h[2 * i + 1];
      if (this.rec[x * REC + F_VPN] === vpn) {
        e = x;
        break;
      }
      i = (i + 1) & mask;
    }
    if (e < 0) {
      if (this.n === this.room) {
        this.grow(2 * this.room);
      }
      e = this.n++;
      h[2 * i] = g;
      h[2 * i + 1] = e;
    }
    const rec = this.rec;
    const o = e * REC;
    rec[o + F_VPN] = vpn;
    rec[o + F_FLAGS] = flags;
    rec[o + F_MFN] = mfn;
    rec[o + F_GFN] = gfn;
    rec[o + F_EP] = ep;
    rec[o + F_SRC] = src;
    rec[o + F_SRCVER] = srcVer;
    rec[o + F_PT] = pt;
    this.ptv[e] = ptVer;
    return e;
  }

  /** Room for `room` entries (the first n kept). */
  private grow(room: number): void {
    const rec = new Float64Array(room * REC);
    rec.set(this.rec.subarray(0, this.n * REC));
    const ptv = new Uint32Array(room);
    ptv.set(this.ptv.subarray(0, this.n));
    this.rec = rec;
    this.ptv = ptv;
    this.room = room;
  }

  /** invlpg: drop vpn's entry (backward-shift deletion keeps probe chains intact; the last entry fills its place). */
  remove(vpn: number): boolean {
    let i = this.slotOf(vpn);
    if (i < 0) {
      return false;
    }
    const h = this.hash!;
    const e = h[2 * i + 1];
    const mask = this.hcap - 1;
    const g = this.gen;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      if (h[2 * j] !== g) {
        break;
      }
      const k = this.home(this.rec[h[2 * j + 1] * REC + F_VPN]);
      // Move j back into the hole at i unless its home lies cyclically in (i, j].
      const inRange = i <= j ? k > i && k <= j : k > i || k <= j;
      if (!inRange) {
        h[2 * i + 1] = h[2 * j + 1];
        i = j;
      }
    }
    h[2 * i] = 0;
    // The last entry moves into the freed record.
    const last = --this.n;
    if (e !== last) {
      this.rec.copyWithin(e * REC, last * REC, last * REC + REC);
      this.ptv[e] = this.ptv[last];
      h[2 * this.slotOf(this.rec[e * REC + F_VPN]) + 1] = e;
    }
    return true;
  }

  /** Every entry goes (a flush). Global entries stay when `keepGlobal`. */
  clear(keepGlobal = false): void {
    if (this.n === 0) {
      return;
    }
    let kept = 0;
    if (keepGlobal) {
      // The global entries move to the front, in their order.
      const rec = this.rec;
      for (let e = 0; e < this.n; e++) {
        if (rec[e * REC + F_FLAGS] & TLB_G) {
          if (e !== kept) {
            rec.copyWithin(kept * REC, e * REC, e * REC + REC);
            this.ptv[kept] = this.ptv[e];
          }
          kept++;
        }
      }
    }
    this.n = kept;
    if (this.room > 1 << 16 && kept < MIN_CAP) {
      // A very big table emptied: give the memory back, the next fills regrow it.
      this.grow(MIN_CAP);
      this.allocHash(MIN_CAP);
    } else if (this.hash !== null) {
      this.gen++;
      if (this.gen === GEN_MAX) {
        // Generations ran out: empty every slot, so no old one can match again.
        this.hash.fill(0);
        this.gen = 1;
      }
    }
    if (kept > 0) {
      this.rehash();
    }
  }

  /** Entries (slots), in ascending vpn order (deterministic, and the order views show). */
  slots(): number[] {
    const out = Array.from({ length: this.n }, (_, e) => e);
    return out.sort((a, b) => this.rec[a * REC + F_VPN] - this.rec[b * REC + F_VPN]);
  }

  entry(slot: number): TlbEntry {
    const f = this.flags(slot);
    return {
      mfn: this.mfn(slot), gfn: this.gfn(slot), w: !!(f & TLB_W), d: !!(f & TLB_D), g: !!(f & TLB_G),
      src: this.src(slot), srcVer: this.srcVer(slot), pt: this.pt(slot), ptVer: this.ptVer(slot), warned: !!(f & TLB_WARNED),
    };
  }

  /** [vpn, entry] pairs in ascending vpn order. */
  entries(): [number, TlbEntry][] {
    return this.slots().map((s) => [this.rec[s * REC + F_VPN], this.entry(s)]);
  }

  /** Checkpoint copy: the n records as one block; its hash table is built on first use. */
  cloneShared(): Tlb {
    const t = Object.create(Tlb.prototype) as Tlb;
    const n = Math.max(this.n, 1);
    t.n = this.n;
    t.room = n;
    t.rec = this.rec.slice(0, n * REC);
    t.ptv = this.ptv.slice(0, n);
    t.hash = null;
    t.hcap = 0;
    t.gen = 1;
    return t;
  }
}

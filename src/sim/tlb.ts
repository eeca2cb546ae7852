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

const MIN_CAP = 64;

/**
 * An entry is one record of REC doubles, side by side in one Float64Array, so that a lookup and
 * the hit it finds read one cache line (a table of tens of thousands of entries does not fit the
 * caches, and a store that misses the TLB both looks up and fills). The guest PTE version, read
 * only by the slow checks, and a copy of the fill generation sit in a side array (`side`).
 */
const REC = 8;
const F_VPN = 0;
/** The entry's flags times 2^32, plus the generation the slot was filled in (0: never). */
const F_GENFLAGS = 1;
const F_MFN = 2;
const F_GFN = 3;
/** The domain's version epoch at fill (Domain.permEpoch + P2m.verEpoch). */
const F_EP = 4;
const F_SRC = 5;
const F_SRCVER = 6;
const F_PT = 7;
const GEN_SPAN = 4294967296;

export class Tlb {
  private cap = 0;
  /**
   * A checkpoint's copy is packed: entries 0..n-1 side by side, no hash layout (less to copy and to
   * hold); the first use after a restore lays it out again.
   */
  private packed = false;
  private gen = 1;
  private n = 0;
  private rec!: Float64Array;
  /**
   * Per slot, side by side: the generation it was filled in (0: empty; the same as in its record,
   * kept here too so that a checkpoint finds the occupied slots by scanning 8 bytes per slot, not
   * 64) and the guest PTE version at fill.
   */
  private side!: Uint32Array;

  constructor() {
    this.alloc(MIN_CAP);
  }

  get size(): number {
    return this.n;
  }
  /** Bytes held (for the checkpoint budget). */
  get bytes(): number {
    return this.cap * (REC * 8 + 8);
  }

  // ---- a slot's fields (slot from `find` or `insert`) ----
  flags(slot: number): number {
    return (this.rec[slot * REC + F_GENFLAGS] / GEN_SPAN) >>> 0;
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
    return this.side[2 * slot + 1];
  }
  /** Mark the entry as reported (TLB_WARNED), so one stale entry is reported once. */
  warn(slot: number): void {
    const o = slot * REC + F_GENFLAGS;
    this.rec[o] = (this.flags(slot) | TLB_WARNED) * GEN_SPAN + (this.rec[o] >>> 0);
  }

  private occupied(i: number): boolean {
    return this.side[2 * i] === this.gen;
  }

  private unpack(): void {
    this.packed = false;
    const old = this.snapshot(Array.from({ length: this.n }, (_, i) => i));
    let cap = MIN_CAP;
    while (cap < 2 * old.length + 2) {
      cap *= 2;
    }
    this.alloc(cap);
    for (const e of old) {
      this.insert(e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7], e[8]);
    }
  }

  private home(vpn: number): number {
    // Fibonacci hashing of the low 32 bits mixed with the high ones.
    const lo = vpn >>> 0;
    const hi = (vpn / 4294967296) >>> 0;
    return Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x9e3779b1) >>> 0 & (this.cap - 1);
  }

  /** Load vpn's home record (a prefetch ahead of `find`: reads only; the value is meaningless). */
  touch(vpn: number): number {
    return this.packed ? 0 : this.rec[this.home(vpn) * REC];
  }

  /** The slot holding vpn, or -1. */
  find(vpn: number): number {
    if (this.packed) {
      this.unpack();
    }
    const mask = this.cap - 1;
    const rec = this.rec;
    const g = this.gen;
    for (let i = this.home(vpn); ; i = (i + 1) & mask) {
      const o = i * REC;
      if (rec[o + F_GENFLAGS] >>> 0 !== g) {
        return -1;
      }
      if (rec[o + F_VPN] === vpn) {
        return i;
      }
    }
  }

  /** Fill (or refill) the entry for vpn; returns its slot. */
  insert(vpn: number, mfn: number, gfn: number, flags: number, src: number, srcVer: number, pt: number, ptVer: number, ep: number): number {
    if (this.packed) {
      this.unpack();
    }
    if ((this.n + 1) * 2 > this.cap) {
      this.rehash(this.cap * 2);
    }
    const mask = this.cap - 1;
    const rec = this.rec;
    const g = this.gen;
    let i = this.home(vpn);
    for (;;) {
      const o = i * REC;
      if (rec[o + F_GENFLAGS] >>> 0 !== g) {
        this.n++;
        break;
      }
      if (rec[o + F_VPN] === vpn) {
        break;
      }
      i = (i + 1) & mask;
    }
    const o = i * REC;
    rec[o + F_VPN] = vpn;
    rec[o + F_GENFLAGS] = flags * GEN_SPAN + g;
    rec[o + F_MFN] = mfn;
    rec[o + F_GFN] = gfn;
    rec[o + F_EP] = ep;
    rec[o + F_SRC] = src;
    rec[o + F_SRCVER] = srcVer;
    rec[o + F_PT] = pt;
    this.side[2 * i] = g;
    this.side[2 * i + 1] = ptVer;
    return i;
  }

  /** invlpg: drop vpn's entry (backward-shift deletion keeps probe chains intact). */
  remove(vpn: number): boolean {
    if (this.packed) {
      this.unpack();
    }
    let i = this.find(vpn);
    if (i < 0) {
      return false;
    }
    const mask = this.cap - 1;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      if (!this.occupied(j)) {
        break;
      }
      const h = this.home(this.rec[j * REC + F_VPN]);
      // Move j back into the hole at i unless its home lies cyclically in (i, j].
      const inRange = i <= j ? h > i && h <= j : h > i || h <= j;
      if (!inRange) {
        this.rec.copyWithin(i * REC, j * REC, j * REC + REC);
        this.side[2 * i] = this.side[2 * j];
        this.side[2 * i + 1] = this.side[2 * j + 1];
        i = j;
      }
    }
    this.rec[i * REC + F_GENFLAGS] = 0;
    this.side[2 * i] = 0;
    this.n--;
    return true;
  }

  /** Every entry goes (a flush). Global entries stay when `keepGlobal`. */
  clear(keepGlobal = false): void {
    if (this.n === 0) {
      return;
    }
    if (this.packed) {
      this.unpack();
    }
    if (keepGlobal) {
      const kept = this.slots().filter((s) => this.flags(s) & TLB_G);
      if (kept.length > 0) {
        const old = this.snapshot(kept);
        this.clear();
        for (const e of old) {
          this.insert(e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7], e[8]);
        }
        return;
      }
    }
    this.n = 0;
    this.gen = (this.gen + 1) >>> 0;
    if (this.gen === 0) {
      // Generation numbers wrapped: clear the slots' own, so no old one can match again.
      for (let i = 0; i < this.cap; i++) {
        this.rec[i * REC + F_GENFLAGS] = 0;
        this.side[2 * i] = 0;
      }
      this.gen = 1;
    }
    if (this.cap > 1 << 16) {
      // A very big table emptied: give the memory back, the next fills regrow it.
      this.alloc(MIN_CAP);
    }
  }

  /** Occupied slots, in ascending vpn order (deterministic, and the order views show). */
  slots(): number[] {
    if (this.packed) {
      this.unpack();
    }
    const out: number[] = [];
    for (let i = 0; i < this.cap; i++) {
      if (this.occupied(i)) {
        out.push(i);
      }
    }
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

  private snapshot(slots: number[]): number[][] {
    return slots.map((s) => [
      this.rec[s * REC + F_VPN], this.mfn(s), this.gfn(s), this.flags(s), this.src(s), this.srcVer(s), this.pt(s), this.ptVer(s), this.ep(s),
    ]);
  }

  private alloc(cap: number): void {
    this.cap = cap;
    this.gen = 1;
    this.n = 0;
    // Taken in one sweep, not page by page as random fills reach it (as PageStore's slabs).
    this.rec = new Float64Array(cap * REC).fill(0);
    this.side = new Uint32Array(2 * cap).fill(0);
  }

  private rehash(cap: number): void {
    const occupied: number[] = [];
    for (let i = 0; i < this.cap; i++) {
      if (this.occupied(i)) {
        occupied.push(i);
      }
    }
    const old = this.snapshot(occupied);
    this.alloc(cap);
    for (const e of old) {
      this.insert(e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7], e[8]);
    }
  }

  /** Checkpoint copy: the entries, packed (see `packed`), each marked with generation 1. */
  cloneShared(): Tlb {
    const t = Object.create(Tlb.prototype) as Tlb;
    const n = this.n;
    t.packed = true;
    t.cap = n;
    t.gen = 1;
    t.n = n;
    if (this.packed) {
      t.rec = this.rec.slice(0, n * REC);
      t.side = this.side.slice(0, 2 * n);
      return t;
    }
    const rec = (t.rec = new Float64Array(n * REC));
    const side = (t.side = new Uint32Array(2 * n));
    const from = this.rec;
    const gens = this.side;
    const g = this.gen;
    let k = 0;
    for (let i = 0; i < this.cap && k < n; i++) {
      if (gens[2 * i] === g) {
        const o = i * REC;
        const q = k * REC;
        for (let f = 0; f < REC; f++) {
          rec[q + f] = from[o + f];
        }
        rec[q + F_GENFLAGS] = this.flags(i) * GEN_SPAN + 1;
        side[2 * k] = 1;
        side[2 * k + 1] = gens[2 * i + 1];
        k++;
      }
    }
    return t;
  }
}

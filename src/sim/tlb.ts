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

export class Tlb {
  private cap = 0;
  /**
   * A checkpoint's copy is packed: entries 0..n-1 side by side, no hash layout (less to copy and to
   * hold); the first use after a restore lays it out again.
   */
  private packed = false;
  private gen = 1;
  private n = 0;
  // The arrays, one field each, are made by alloc().
  private slotGen!: Uint32Array;
  vpn!: Float64Array;
  mfn!: Int32Array;
  gfn!: Int32Array;
  flags!: Uint8Array;
  src!: Float64Array;
  srcVer!: Float64Array;
  pt!: Float64Array;
  ptVer!: Float64Array;
  /** The domain's version epoch when the entry was filled (Domain.permEpoch + P2m.verEpoch). */
  ep!: Float64Array;

  constructor() {
    this.alloc(MIN_CAP);
  }

  get size(): number {
    return this.n;
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
  /** Bytes held (for the checkpoint budget). */
  get bytes(): number {
    return this.cap * 61;
  }

  private home(vpn: number): number {
    // Fibonacci hashing of the low 32 bits mixed with the high ones.
    const lo = vpn >>> 0;
    const hi = (vpn / 4294967296) >>> 0;
    return Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x9e3779b1) >>> 0 & (this.cap - 1);
  }

  /** The slot holding vpn, or -1. */
  find(vpn: number): number {
    if (this.packed) {
      this.unpack();
    }
    const mask = this.cap - 1;
    for (let i = this.home(vpn); ; i = (i + 1) & mask) {
      if (this.slotGen[i] !== this.gen) {
        return -1;
      }
      if (this.vpn[i] === vpn) {
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
    let i = this.home(vpn);
    while (this.slotGen[i] === this.gen && this.vpn[i] !== vpn) {
      i = (i + 1) & mask;
    }
    if (this.slotGen[i] !== this.gen) {
      this.slotGen[i] = this.gen;
      this.vpn[i] = vpn;
      this.n++;
    }
    this.mfn[i] = mfn;
    this.gfn[i] = gfn;
    this.flags[i] = flags;
    this.src[i] = src;
    this.srcVer[i] = srcVer;
    this.pt[i] = pt;
    this.ptVer[i] = ptVer;
    this.ep[i] = ep;
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
      if (this.slotGen[j] !== this.gen) {
        break;
      }
      const h = this.home(this.vpn[j]);
      // Move j back into the hole at i unless its home lies cyclically in (i, j].
      const inRange = i <= j ? h > i && h <= j : h > i || h <= j;
      if (!inRange) {
        this.copySlot(j, i);
        i = j;
      }
    }
    this.slotGen[i] = 0;
    this.n--;
    return true;
  }

  private copySlot(from: number, to: number): void {
    this.slotGen[to] = this.slotGen[from];
    this.vpn[to] = this.vpn[from];
    this.mfn[to] = this.mfn[from];
    this.gfn[to] = this.gfn[from];
    this.flags[to] = this.flags[from];
    this.src[to] = this.src[from];
    this.srcVer[to] = this.srcVer[from];
    this.pt[to] = this.pt[from];
    this.ptVer[to] = this.ptVer[from];
    this.ep[to] = this.ep[from];
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
      const kept = this.slots().filter((s) => this.flags[s] & TLB_G);
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
      this.slotGen.fill(0);
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
      if (this.slotGen[i] === this.gen) {
        out.push(i);
      }
    }
    return out.sort((a, b) => this.vpn[a] - this.vpn[b]);
  }

  entry(slot: number): TlbEntry {
    const f = this.flags[slot];
    return {
      mfn: this.mfn[slot], gfn: this.gfn[slot], w: !!(f & TLB_W), d: !!(f & TLB_D), g: !!(f & TLB_G),
      src: this.src[slot], srcVer: this.srcVer[slot], pt: this.pt[slot], ptVer: this.ptVer[slot], warned: !!(f & TLB_WARNED),
    };
  }

  /** [vpn, entry] pairs in ascending vpn order. */
  entries(): [number, TlbEntry][] {
    return this.slots().map((s) => [this.vpn[s], this.entry(s)]);
  }

  private snapshot(slots: number[]): number[][] {
    return slots.map((s) => [this.vpn[s], this.mfn[s], this.gfn[s], this.flags[s], this.src[s], this.srcVer[s], this.pt[s], this.ptVer[s], this.ep[s]]);
  }

  private alloc(cap: number): void {
    this.cap = cap;
    this.gen = 1;
    this.n = 0;
    this.slotGen = new Uint32Array(cap);
    this.vpn = new Float64Array(cap);
    this.mfn = new Int32Array(cap);
    this.gfn = new Int32Array(cap);
    this.flags = new Uint8Array(cap);
    this.src = new Float64Array(cap);
    this.srcVer = new Float64Array(cap);
    this.pt = new Float64Array(cap);
    this.ptVer = new Float64Array(cap);
    this.ep = new Float64Array(cap);
  }

  private rehash(cap: number): void {
    const occupied: number[] = [];
    for (let i = 0; i < this.cap; i++) {
      if (this.slotGen[i] === this.gen) {
        occupied.push(i);
      }
    }
    const old = this.snapshot(occupied);
    this.alloc(cap);
    for (const e of old) {
      this.insert(e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7], e[8]);
    }
  }

  /** Checkpoint copy: the entries, packed (see `packed`). */
  cloneShared(): Tlb {
    const t = Object.create(Tlb.prototype) as Tlb;
    const n = this.n;
    t.packed = true;
    t.cap = n;
    t.gen = 1;
    t.n = n;
    t.slotGen = new Uint32Array(n).fill(1);
    if (this.packed) {
      t.vpn = this.vpn.slice(0, n);
      t.mfn = this.mfn.slice(0, n);
      t.gfn = this.gfn.slice(0, n);
      t.flags = this.flags.slice(0, n);
      t.src = this.src.slice(0, n);
      t.srcVer = this.srcVer.slice(0, n);
      t.pt = this.pt.slice(0, n);
      t.ptVer = this.ptVer.slice(0, n);
      t.ep = this.ep.slice(0, n);
      return t;
    }
    // One pass over the occupied slots, every field copied with its own (monomorphic) access.
    const vpn = (t.vpn = new Float64Array(n));
    const mfn = (t.mfn = new Int32Array(n));
    const gfn = (t.gfn = new Int32Array(n));
    const flags = (t.flags = new Uint8Array(n));
    const src = (t.src = new Float64Array(n));
    const srcVer = (t.srcVer = new Float64Array(n));
    const pt = (t.pt = new Float64Array(n));
    const ptVer = (t.ptVer = new Float64Array(n));
    const ep = (t.ep = new Float64Array(n));
    const gen = this.gen;
    const slotGen = this.slotGen;
    let k = 0;
    for (let i = 0; i < this.cap; i++) {
      if (slotGen[i] === gen) {
        vpn[k] = this.vpn[i];
        mfn[k] = this.mfn[i];
        gfn[k] = this.gfn[i];
        flags[k] = this.flags[i];
        src[k] = this.src[i];
        srcVer[k] = this.srcVer[i];
        pt[k] = this.pt[i];
        ptVer[k] = this.ptVer[i];
        ep[k] = this.ep[i];
        k++;
      }
    }
    return t;
  }
}

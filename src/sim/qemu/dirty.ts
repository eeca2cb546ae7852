/**
 * QEMU's dirty memory, per client (include/exec/ramlist.h: DIRTY_MEMORY_VGA = 0, _CODE = 1,
 * _MIGRATION = 2), behind one interface with two implementations:
 * - `ByteFlags`: the pre-2010 `phys_ram_dirty[]`, one byte of client flags per page
 *   (VGA_DIRTY_FLAG 0x01, CODE 0x02, MIGRATION 0x08): checking N pages is N byte loads;
 * - `WordBitmaps`: one bitmap per client, tested a word at a time with find-next-bit (the 2010
 *   Tamura series and today's DirtyMemoryBlocks). JavaScript has fast 32-bit words only, so a word
 *   here covers 32 pages (QEMU's unsigned long covers 64).
 * Both count the memory words they touch (`probes`), the figure the benchmark compares.
 */
export const DIRTY_MEMORY_VGA = 0;
export const DIRTY_MEMORY_CODE = 1;
export const DIRTY_MEMORY_MIGRATION = 2;
export const DIRTY_CLIENTS = 3;
const BYTE_FLAG = [0x01, 0x02, 0x08];

export interface DirtyMemory {
  readonly pages: number;
  /** Loads of bytes or words made so far (the cost of checking). */
  probes: number;
  /** cpu_physical_memory_set_dirty_range for every client in the mask (bit c = client c). */
  setRange(start: number, n: number, clientMask: number): void;
  get(page: number, client: number): boolean;
  /** Any page of [start, start+n) dirty for the client? (cpu_physical_memory_get_dirty) */
  anyDirty(start: number, n: number, client: number): boolean;
  /** Next dirty page ≥ from (and < end), or -1. */
  nextDirty(from: number, end: number, client: number): number;
  /** Every dirty page of [start, start+n) for the client, written to `out`; returns how many (a migration pass). */
  collect(start: number, n: number, client: number, out: Int32Array): number;
  /** cpu_physical_memory_set_dirty_lebitmap: import a Xen/KVM bitmap (bit i = page start+i). */
  importBitmap(start: number, bits: Uint8Array, n: number, client: number): void;
  /** cpu_physical_memory_snapshot_and_clear_dirty: copy and clear, returning the copy. */
  snapshotAndClear(start: number, n: number, client: number): DirtySnapshot;
  /** memory_region_reset_dirty (the pre-2017 reset after drawing). */
  reset(start: number, n: number, client: number): void;
}

export class DirtySnapshot {
  constructor(readonly start: number, readonly bits: Uint8Array) {}
  /** cpu_physical_memory_snapshot_get_dirty */
  get(page: number): boolean {
    const i = page - this.start;
    return i >= 0 && i < this.bits.length * 8 && (this.bits[i >> 3] & (1 << (i & 7))) !== 0;
  }
  anyDirty(start: number, n: number): boolean {
    for (let p = start; p < start + n; p++) {
      if (this.get(p)) {
        return true;
      }
    }
    return false;
  }
  pages(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.bits.length * 8; i++) {
      if (this.bits[i >> 3] & (1 << (i & 7))) {
        out.push(this.start + i);
      }
    }
    return out;
  }
}

export class ByteFlags implements DirtyMemory {
  flags: Uint8Array;
  probes = 0;
  constructor(readonly pages: number) {
    this.flags = new Uint8Array(pages);
  }
  setRange(start: number, n: number, clientMask: number): void {
    let f = 0;
    for (let c = 0; c < DIRTY_CLIENTS; c++) {
      if (clientMask & (1 << c)) {
        f |= BYTE_FLAG[c];
      }
    }
    for (let p = start; p < start + n && p < this.pages; p++) {
      this.flags[p] |= f;
    }
  }
  get(page: number, client: number): boolean {
    this.probes++;
    return (this.flags[page] & BYTE_FLAG[client]) !== 0;
  }
  anyDirty(start: number, n: number, client: number): boolean {
    for (let p = start; p < start + n && p < this.pages; p++) {
      this.probes++;
      if (this.flags[p] & BYTE_FLAG[client]) {
        return true;
      }
    }
    return false;
  }
  nextDirty(from: number, end: number, client: number): number {
    const f = BYTE_FLAG[client];
    for (let p = from; p < end && p < this.pages; p++) {
      this.probes++;
      if (this.flags[p] & f) {
        return p;
      }
    }
    return -1;
  }
  collect(start: number, n: number, client: number, out: Int32Array): number {
    const f = BYTE_FLAG[client];
    const flags = this.flags;
    const end = Math.min(start + n, this.pages);
    let k = 0;
    for (let p = start; p < end; p++) {
      if (flags[p] & f) {
        out[k++] = p;
      }
    }
    this.probes += end - start;
    return k;
  }
  importBitmap(start: number, bits: Uint8Array, n: number, client: number): void {
    const f = BYTE_FLAG[client];
    for (let i = 0; i < n; i++) {
      if (bits[i >> 3] & (1 << (i & 7))) {
        this.flags[start + i] |= f;
      }
    }
  }
  snapshotAndClear(start: number, n: number, client: number): DirtySnapshot {
    const f = BYTE_FLAG[client];
    const bits = new Uint8Array(Math.ceil(n / 8));
    for (let i = 0; i < n; i++) {
      this.probes++;
      if (this.flags[start + i] & f) {
        bits[i >> 3] |= 1 << (i & 7);
        this.flags[start + i] &= ~f;
      }
    }
    return new DirtySnapshot(start, bits);
  }
  reset(start: number, n: number, client: number): void {
    const f = BYTE_FLAG[client];
    for (let p = start; p < start + n && p < this.pages; p++) {
      this.flags[p] &= ~f;
    }
  }
}

export class WordBitmaps implements DirtyMemory {
  words: Uint32Array[];
  probes = 0;
  constructor(readonly pages: number) {
    this.words = [];
    for (let c = 0; c < DIRTY_CLIENTS; c++) {
      this.words.push(new Uint32Array(Math.ceil(pages / 32)));
    }
  }
  setRange(start: number, n: number, clientMask: number): void {
    for (let c = 0; c < DIRTY_CLIENTS; c++) {
      if (clientMask & (1 << c)) {
        const w = this.words[c];
        for (let p = start; p < start + n && p < this.pages; p++) {
          w[p >>> 5] |= 1 << (p & 31);
        }
      }
    }
  }
  get(page: number, client: number): boolean {
    this.probes++;
    return (this.words[client][page >>> 5] & (1 << (page & 31))) !== 0;
  }
  anyDirty(start: number, n: number, client: number): boolean {
    return this.nextDirty(start, Math.min(start + n, this.pages), client) >= 0;
  }
  /** find_next_bit: whole clean words are skipped with one load each. */
  nextDirty(from: number, end: number, client: number): number {
    const w = this.words[client];
    end = Math.min(end, this.pages);
    let p = from;
    while (p < end) {
      this.probes++;
      const word = w[p >>> 5] & (~0 << (p & 31));
      if (word === 0) {
        p = ((p >>> 5) + 1) << 5;
        continue;
      }
      const bit = 31 - Math.clz32(word & -word);
      const found = (p & ~31) + bit;
      return found < end ? found : -1;
    }
    return -1;
  }
  /** find_next_bit over whole words: a clean word costs one load; set bits are peeled with ctz. */
  collect(start: number, n: number, client: number, out: Int32Array): number {
    const w = this.words[client];
    const end = Math.min(start + n, this.pages);
    const first = start >>> 5;
    const last = (end - 1) >>> 5;
    let k = 0;
    for (let wi = first; wi <= last; wi++) {
      let word = w[wi];
      if (word === 0) {
        continue;
      }
      if (wi === first) {
        word &= ~0 << (start & 31);
      }
      while (word !== 0) {
        const low = word & -word;
        const p = (wi << 5) + (31 - Math.clz32(low));
        if (p >= end) {
          break;
        }
        out[k++] = p;
        word ^= low;
      }
    }
    this.probes += last - first + 1;
    return k;
  }
  importBitmap(start: number, bits: Uint8Array, n: number, client: number): void {
    const w = this.words[client];
    if ((start & 31) === 0) {
      // Aligned: OR whole words, as QEMU's set_dirty_lebitmap does.
      const full = n >>> 5;
      for (let k = 0; k < full; k++) {
        const b = k * 4;
        const word = bits[b] | (bits[b + 1] << 8) | (bits[b + 2] << 16) | (bits[b + 3] << 24);
        if (word !== 0) {
          w[(start >>> 5) + k] |= word;
        }
      }
      for (let i = full * 32; i < n; i++) {
        if (bits[i >> 3] & (1 << (i & 7))) {
          const p = start + i;
          w[p >>> 5] |= 1 << (p & 31);
        }
      }
      return;
    }
    for (let i = 0; i < n; i++) {
      if (bits[i >> 3] & (1 << (i & 7))) {
        const p = start + i;
        w[p >>> 5] |= 1 << (p & 31);
      }
    }
  }
  snapshotAndClear(start: number, n: number, client: number): DirtySnapshot {
    const w = this.words[client];
    const bits = new Uint8Array(Math.ceil(n / 8));
    for (let p = start; p < start + n; ) {
      this.probes++;
      const wi = p >>> 5;
      const word = w[wi];
      if (word === 0) {
        p = (wi + 1) << 5;
        continue;
      }
      for (let b = p & 31; b < 32 && p < start + n; b++, p++) {
        if (word & (1 << b)) {
          const i = p - start;
          bits[i >> 3] |= 1 << (i & 7);
          w[wi] &= ~(1 << b);
        }
      }
    }
    return new DirtySnapshot(start, bits);
  }
  reset(start: number, n: number, client: number): void {
    const w = this.words[client];
    for (let p = start; p < start + n && p < this.pages; p++) {
      w[p >>> 5] &= ~(1 << (p & 31));
    }
  }
}

export type DirtyImpl = 'bytes' | 'words';
export function createDirtyMemory(impl: DirtyImpl, pages: number): DirtyMemory {
  return impl === 'bytes' ? new ByteFlags(pages) : new WordBitmaps(pages);
}

/**
 * Per-frame tables that checkpoint in O(pages of the table), not O(entries): a number per key
 * (an mfn), held in fixed-size typed-array pages that a checkpoint shares and the first write after
 * it copies (copy-on-write at page granularity).
 *
 * Used for what Xen keeps per struct page_info — the writable type count, the first reverse-map
 * entry — which the store path touches for thousands of frames between two checkpoints.
 */

import type { Hasher } from './util';

const SHIFT = 12;
const SIZE = 1 << SHIFT;
const MASK = SIZE - 1;
/** Keys per page (a scan that walks neighbouring keys may keep the page from `readPage`). */
export const COW_PAGE_SHIFT = SHIFT;
export const COW_PAGE_MASK = MASK;

type Page = Int32Array | Float64Array;

export class CowTable<A extends Page> {
  private pages: (A | undefined)[] = [];
  /** Pages this table may write in place (not shared with a checkpoint). */
  private owned: boolean[] = [];
  /** Keys whose value is not the default. */
  private n = 0;

  constructor(private readonly make: (n: number) => A, private readonly empty: number) {}

  static int32(empty = 0): CowTable<Int32Array> {
    return new CowTable((n) => new Int32Array(n).fill(empty), empty);
  }
  static float64(empty = 0): CowTable<Float64Array> {
    return new CowTable((n) => new Float64Array(n).fill(empty), empty);
  }

  /** Keys holding a non-default value. */
  get size(): number {
    return this.n;
  }
  /** Bytes held (for the checkpoint budget: shared pages are counted by every holder). */
  get bytes(): number {
    let b = 0;
    for (const p of this.pages) {
      if (p) {
        b += p.byteLength;
      }
    }
    return b;
  }

  get(key: number): number {
    const p = this.pages[key >>> SHIFT];
    return p === undefined ? this.empty : p[key & MASK];
  }

  /** The page holding key (read only; undefined: every key in it has the default). */
  readPage(key: number): A | undefined {
    return this.pages[key >>> SHIFT];
  }

  set(key: number, value: number): void {
    const pi = key >>> SHIFT;
    let p = this.pages[pi];
    if (p === undefined) {
      if (value === this.empty) {
        return;
      }
      p = this.make(SIZE);
      this.pages[pi] = p;
      this.owned[pi] = true;
    } else if (!this.owned[pi]) {
      p = p.slice() as A;
      this.pages[pi] = p;
      this.owned[pi] = true;
    }
    const i = key & MASK;
    const old = p[i];
    if (old === value) {
      return;
    }
    if (old === this.empty) {
      this.n++;
    } else if (value === this.empty) {
      this.n--;
    }
    p[i] = value;
  }

  /** Call `f` for each non-default entry, ascending by key. */
  forEach(f: (key: number, value: number) => void): void {
    for (let pi = 0; pi < this.pages.length; pi++) {
      const p = this.pages[pi];
      if (p === undefined) {
        continue;
      }
      for (let i = 0; i < SIZE; i++) {
        if (p[i] !== this.empty) {
          f(pi * SIZE + i, p[i]);
        }
      }
    }
  }

  /** Non-default entries, ascending by key. */
  entries(): [number, number][] {
    const out: [number, number][] = [];
    this.forEach((k, v) => out.push([k, v]));
    return out;
  }

  /** State hash: the non-default entries (which pages are shared is not state). */
  hashInto(h: Hasher): void {
    h.word(this.n);
    this.forEach((k, v) => {
      h.num(k);
      h.num(v);
    });
  }

  /** Checkpoint copy: both copies share every page until one of them writes it. */
  cloneShared(): CowTable<A> {
    const t = new CowTable<A>(this.make, this.empty);
    t.pages = this.pages.slice();
    t.owned = new Array<boolean>(this.pages.length).fill(false);
    this.owned.fill(false);
    t.n = this.n;
    return t;
  }
}

/**
 * The reverse map: every present shadow L1 entry (its address, smfn * 512 + slot) mapping each
 * frame, in the order they were made. The first entry lives in a copy-on-write table (nearly every
 * frame has at most one mapping); further ones in a small map.
 */
export class Rmap {
  /** First mapping's address + 1 (0: none). */
  private first = CowTable.float64(0);
  private more = new Map<number, number[]>();

  /** Frames with at least one mapping. */
  get size(): number {
    return this.first.size;
  }
  get bytes(): number {
    return this.first.bytes + this.more.size * 64;
  }

  has(mfn: number): boolean {
    return this.first.get(mfn) !== 0;
  }
  /** The mappings of mfn, oldest first (a fresh array). */
  list(mfn: number): number[] {
    const f = this.first.get(mfn);
    if (f === 0) {
      return [];
    }
    const more = this.more.get(mfn);
    return more ? [f - 1, ...more] : [f - 1];
  }
  add(mfn: number, addr: number): void {
    if (this.first.get(mfn) === 0) {
      this.first.set(mfn, addr + 1);
      return;
    }
    const more = this.more.get(mfn);
    if (more) {
      more.push(addr);
    } else {
      this.more.set(mfn, [addr]);
    }
  }
  remove(mfn: number, addr: number): void {
    const f = this.first.get(mfn);
    if (f === 0) {
      return;
    }
    const more = this.more.get(mfn);
    if (f - 1 === addr) {
      if (more) {
        this.first.set(mfn, more.shift()! + 1);
        if (more.length === 0) {
          this.more.delete(mfn);
        }
      } else {
        this.first.set(mfn, 0);
      }
      return;
    }
    if (more) {
      const i = more.indexOf(addr);
      if (i >= 0) {
        more.splice(i, 1);
        if (more.length === 0) {
          this.more.delete(mfn);
        }
      }
    }
  }

  cloneShared(): Rmap {
    const r = Object.create(Rmap.prototype) as Rmap;
    r.first = this.first.cloneShared();
    r.more = new Map();
    for (const [k, v] of this.more) {
      r.more.set(k, v.slice());
    }
    return r;
  }
}

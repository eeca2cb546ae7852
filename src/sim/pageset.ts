/**
 * A set of framebuffer page numbers as one byte per page: membership is one load, iteration is in
 * ascending order, and a checkpoint copies one small array instead of a hash set's entries.
 */
export class PageSet {
  private bits: Uint8Array;
  private n = 0;

  constructor(pages: number) {
    this.bits = new Uint8Array(pages);
  }

  get size(): number {
    return this.n;
  }
  /** How many pages it can hold. */
  get capacity(): number {
    return this.bits.length;
  }

  has(p: number): boolean {
    return this.bits[p] === 1;
  }
  add(p: number): this {
    if (this.bits[p] !== 1) {
      if (p >= this.bits.length) {
        this.grow(p + 1);
      }
      this.bits[p] = 1;
      this.n++;
    }
    return this;
  }
  delete(p: number): boolean {
    if (this.bits[p] === 1) {
      this.bits[p] = 0;
      this.n--;
      return true;
    }
    return false;
  }
  clear(): void {
    if (this.n > 0) {
      this.bits.fill(0);
      this.n = 0;
    }
  }
  /** Remove the members below `n` (the pages of a framebuffer shrunk to n pages; the others stay). */
  clearBelow(n: number): void {
    if (n >= this.bits.length) {
      this.clear();
      return;
    }
    for (let p = 0; p < n && this.n > 0; p++) {
      if (this.bits[p] === 1) {
        this.bits[p] = 0;
        this.n--;
      }
    }
  }
  /** Make room for pages [0, pages) (a mode switch to a larger framebuffer). */
  grow(pages: number): void {
    if (pages > this.bits.length) {
      const b = new Uint8Array(pages);
      b.set(this.bits);
      this.bits = b;
    }
  }

  /** Members in ascending order (a snapshot: changing the set while iterating is safe). */
  [Symbol.iterator](): IterableIterator<number> {
    return this.toArray()[Symbol.iterator]();
  }
  /** The smallest member ≥ from, or -1 (a hot loop's iteration, without a snapshot array). */
  next(from: number): number {
    const b = this.bits;
    for (let p = from; p < b.length; p++) {
      if (b[p] === 1) {
        return p;
      }
    }
    return -1;
  }
  /** Members in ascending order, as an array. */
  toArray(): number[] {
    const out: number[] = [];
    const b = this.bits;
    for (let p = 0; out.length < this.n && p < b.length; p++) {
      if (b[p] === 1) {
        out.push(p);
      }
    }
    return out;
  }

  cloneShared(): PageSet {
    const s = Object.create(PageSet.prototype) as PageSet;
    s.bits = this.bits.slice();
    s.n = this.n;
    return s;
  }
}

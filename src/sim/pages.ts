/**
 * Machine memory: every byte the model holds (guest RAM, VRAM), in 4 KiB frames allocated on first
 * write, plus a write log. Every write goes through `write()`, which records the bytes it replaced
 * and the bytes it wrote. The log gives, without copying pages:
 * - time travel: `moveTo(pos)` undoes or redoes records, so a checkpoint is just a log position
 *   (plus the small structured state), and replaying from it re-creates identical records;
 * - "has this page changed since position p?" by comparing only the bytes written since p — the
 *   oracle's device-model copy, the screen and qemu-dm's memcmp copy are positions, not copies.
 */
import type { Hasher } from './util';

export const PAGE_SIZE = 4096;
export const ZERO_PAGE = new Uint8Array(PAGE_SIZE);

const HEAP_CHUNK = 1 << 23;
const scratchOld = new Uint8Array(PAGE_SIZE);
const scratchSeen = new Uint8Array(PAGE_SIZE);

export class PageStore {
  private live = new Map<number, Uint8Array>();
  private recMfn = new Float64Array(4096);
  private recOff = new Uint16Array(4096);
  private recLen = new Uint16Array(4096);
  private recHeap = new Float64Array(4096);
  /** Old and new bytes of every record, in chunks that never move (a record never spans two). */
  private heaps: Uint8Array[] = [new Uint8Array(HEAP_CHUNK)];
  private heapTop = 0;
  /** Records known (the log's length) and records applied (the position in time). */
  private n = 0;
  private pos = 0;
  /** Record indices per frame, ascending. */
  private perPage = new Map<number, number[]>();

  /** Shared by every checkpoint: its state in time is the log position, not a copy. */
  cloneShared(): PageStore {
    return this;
  }

  get position(): number {
    return this.pos;
  }
  get records(): number {
    return this.n;
  }
  get bytesHeld(): number {
    return this.heapTop + this.n * 28 + this.live.size * PAGE_SIZE;
  }

  /** The chunk holding heap offset h, and h's offset in it. */
  private at(h: number): [Uint8Array, number] {
    return [this.heaps[Math.floor(h / HEAP_CHUNK)], h % HEAP_CHUNK];
  }

  read(mfn: number): Uint8Array {
    return this.live.get(mfn) ?? ZERO_PAGE;
  }
  /** Are the frame's bytes all zero? (Whether it was ever allocated is not observable: time travel keeps frames.) */
  isZero(mfn: number): boolean {
    const p = this.live.get(mfn);
    if (p === undefined) {
      return true;
    }
    const w = new Int32Array(p.buffer, p.byteOffset, PAGE_SIZE / 4);
    for (let i = 0; i < w.length; i++) {
      if (w[i] !== 0) {
        return false;
      }
    }
    return true;
  }
  /** Frames ever written (allocated). */
  frames(): IterableIterator<number> {
    return this.live.keys();
  }

  /** Write `len` bytes at off: `src` bytes, or a fill byte. */
  write(mfn: number, off: number, len: number, src: Uint8Array | number): void {
    let page = this.live.get(mfn);
    if (page === undefined) {
      page = new Uint8Array(PAGE_SIZE);
      this.live.set(mfn, page);
    }
    const i = this.pos;
    if (i < this.n && this.recMfn[i] === mfn && this.recOff[i] === off && this.recLen[i] === len) {
      // Replaying a step already in the log (deterministic): apply, don't record again.
      const [heap, h0] = this.at(this.recHeap[i]);
      const h = h0 + len;
      if (len > 32) {
        page.set(heap.subarray(h, h + len), off);
      } else {
        for (let b = 0; b < len; b++) {
          page[off + b] = heap[h + b];
        }
      }
      this.pos++;
      return;
    }
    if (i < this.n) {
      this.truncate(i);
    }
    if (i >= this.recMfn.length) {
      this.growRecords();
    }
    let h = this.heapTop % HEAP_CHUNK;
    if (h + 2 * len > HEAP_CHUNK) {
      this.heapTop += HEAP_CHUNK - h;
      h = 0;
    }
    const ci = Math.floor(this.heapTop / HEAP_CHUNK);
    if (ci >= this.heaps.length) {
      this.heaps.push(new Uint8Array(HEAP_CHUNK));
    }
    const hp = this.heaps[ci];
    const start = this.heapTop;
    if (len > 32) {
      hp.set(page.subarray(off, off + len), h);
      if (typeof src === 'number') {
        page.fill(src, off, off + len);
      } else {
        page.set(src.subarray(0, len), off);
      }
      hp.set(page.subarray(off, off + len), h + len);
    } else if (typeof src === 'number') {
      for (let b = 0; b < len; b++) {
        hp[h + b] = page[off + b];
        page[off + b] = src;
        hp[h + len + b] = src;
      }
    } else {
      for (let b = 0; b < len; b++) {
        hp[h + b] = page[off + b];
        page[off + b] = src[b];
        hp[h + len + b] = src[b];
      }
    }
    this.heapTop = start + 2 * len;
    this.recMfn[i] = mfn;
    this.recOff[i] = off;
    this.recLen[i] = len;
    this.recHeap[i] = start;
    let list = this.perPage.get(mfn);
    if (list === undefined) {
      list = [];
      this.perPage.set(mfn, list);
    }
    list.push(i);
    this.n = i + 1;
    this.pos = i + 1;
  }

  /** Undo or redo records until the position is `target`. */
  moveTo(target: number): void {
    if (target > this.n) {
      throw new Error(`log position ${target} beyond ${this.n}`);
    }
    while (this.pos > target) {
      const i = --this.pos;
      const page = this.live.get(this.recMfn[i])!;
      const [hp, h] = this.at(this.recHeap[i]);
      page.set(hp.subarray(h, h + this.recLen[i]), this.recOff[i]);
    }
    while (this.pos < target) {
      const i = this.pos++;
      const page = this.live.get(this.recMfn[i])!;
      const [hp, h0] = this.at(this.recHeap[i]);
      const h = h0 + this.recLen[i];
      page.set(hp.subarray(h, h + this.recLen[i]), this.recOff[i]);
    }
  }

  /** Has the frame's content changed between log position p0 and now? (Bytes, not writes.) */
  changedSince(mfn: number, p0: number): boolean {
    const list = this.perPage.get(mfn);
    if (list === undefined || p0 >= this.pos) {
      return false;
    }
    let k = lowerBound(list, p0);
    if (k >= list.length || list[k] >= this.pos) {
      return false;
    }
    const page = this.live.get(mfn)!;
    if (k + 1 >= list.length || list[k + 1] >= this.pos) {
      // One record since p0: its old bytes against the current ones.
      const i = list[k];
      const off = this.recOff[i];
      const len = this.recLen[i];
      const [hp, h] = this.at(this.recHeap[i]);
      for (let b = 0; b < len; b++) {
        if (hp[h + b] !== page[off + b]) {
          return true;
        }
      }
      return false;
    }
    let bytes = 0;
    for (let j = k; j < list.length && list[j] < this.pos; j++) {
      bytes += this.recLen[list[j]];
      if (bytes > 512) {
        // Many bytes written: rebuilding the old page and comparing natively is cheaper.
        return Buffer.compare(this.bytesAt(mfn, p0), page) !== 0;
      }
    }
    const touched: number[] = [];
    for (; k < list.length && list[k] < this.pos; k++) {
      const i = list[k];
      const off = this.recOff[i];
      const len = this.recLen[i];
      const [hp, h] = this.at(this.recHeap[i]);
      for (let b = 0; b < len; b++) {
        if (!scratchSeen[off + b]) {
          scratchSeen[off + b] = 1;
          scratchOld[off + b] = hp[h + b];
          touched.push(off + b);
        }
      }
    }
    let changed = false;
    for (const b of touched) {
      if (scratchOld[b] !== page[b]) {
        changed = true;
      }
      scratchSeen[b] = 0;
    }
    return changed;
  }

  /** The frame's bytes as they were at log position p0. */
  bytesAt(mfn: number, p0: number): Uint8Array {
    const out = this.read(mfn).slice();
    const list = this.perPage.get(mfn);
    if (list === undefined) {
      return out;
    }
    for (let k = list.length - 1; k >= 0; k--) {
      const i = list[k];
      if (i >= this.pos) {
        continue;
      }
      if (i < p0) {
        break;
      }
      const [hp, h] = this.at(this.recHeap[i]);
      out.set(hp.subarray(h, h + this.recLen[i]), this.recOff[i]);
    }
    return out;
  }

  private truncate(at: number): void {
    this.n = at;
    this.heapTop = at < this.recHeap.length ? this.recHeap[at] : this.heapTop;
    this.heaps.length = Math.floor(this.heapTop / HEAP_CHUNK) + 1;
    for (const [mfn, list] of this.perPage) {
      const k = lowerBound(list, at);
      list.length = k;
      if (k === 0) {
        this.perPage.delete(mfn);
      }
    }
  }
  private growRecords(): void {
    const cap = this.recMfn.length * 2;
    const grow = <A extends Float64Array | Uint16Array>(a: A, ctor: new (n: number) => A): A => {
      const b = new ctor(cap);
      b.set(a);
      return b;
    };
    this.recMfn = grow(this.recMfn, Float64Array);
    this.recOff = grow(this.recOff, Uint16Array);
    this.recLen = grow(this.recLen, Uint16Array);
    this.recHeap = grow(this.recHeap, Float64Array);
  }
  hashInto(h: Hasher): void {
    const keys = [...this.live.keys()].sort((a, b) => a - b);
    for (const k of keys) {
      const d = this.live.get(k)!;
      let zero = true;
      for (let i = 0; i < d.length; i++) {
        if (d[i] !== 0) {
          zero = false;
          break;
        }
      }
      if (!zero) {
        h.num(k);
        h.bytes(d);
      }
    }
  }
}

function lowerBound(a: number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid] < x) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

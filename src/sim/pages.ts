/**
 * Machine memory: every byte the model holds (guest RAM, VRAM, the screen surfaces), in 4 KiB frames
 * allocated on first write, plus a write log. Every write goes through `write()`, which records the
 * bytes it replaced and the bytes it wrote. The log gives, without copying pages:
 * - time travel: `moveTo(pos)` undoes or redoes records, so a checkpoint is just a log position
 *   (plus the small structured state), and replaying from it re-creates identical records;
 * - "has this page changed since position p?" by comparing only the bytes written since p — the
 *   oracle's device-model copy and qemu-dm's memcmp copy are positions, not copies.
 * Records of one frame are chained (`recPrev`), and each frame knows its latest applied record, so a
 * write costs one map lookup.
 */
import type { Hasher } from './util';

export const PAGE_SIZE = 4096;
export const ZERO_PAGE = new Uint8Array(PAGE_SIZE);

const HEAP_CHUNK = 1 << 23;
const scratchOld = new Uint8Array(PAGE_SIZE);
const scratchSeen = new Uint8Array(PAGE_SIZE);

/** A frame's bytes and the index of its latest applied log record (-1: none). */
class Frame {
  last = -1;
  readonly data = new Uint8Array(PAGE_SIZE);
}

export class PageStore {
  private live = new Map<number, Frame>();
  private recMfn = new Float64Array(4096);
  private recOff = new Uint16Array(4096);
  private recLen = new Uint16Array(4096);
  private recHeap = new Float64Array(4096);
  /** The previous record of the same frame, or -1. */
  private recPrev = new Float64Array(4096);
  /** Old and new bytes of every record, in chunks that never move (a record never spans two). */
  private heaps: Uint8Array[] = [new Uint8Array(HEAP_CHUNK)];
  private heapTop = 0;
  /** Records known (the log's length) and records applied (the position in time). */
  private n = 0;
  private pos = 0;

  /** Shared by every checkpoint: its state in time is the log position, not a copy. */
  cloneShared(): PageStore {
    return this;
  }

  get position(): number {
    return this.pos;
  }

  /** The chunk holding heap offset h, and h's offset in it. */
  private at(h: number): [Uint8Array, number] {
    return [this.heaps[Math.floor(h / HEAP_CHUNK)], h % HEAP_CHUNK];
  }

  read(mfn: number): Uint8Array {
    const f = this.live.get(mfn);
    return f === undefined ? ZERO_PAGE : f.data;
  }
  /** Are the frame's bytes all zero? (Whether it was ever allocated is not observable: time travel keeps frames.) */
  isZero(mfn: number): boolean {
    const f = this.live.get(mfn);
    if (f === undefined) {
      return true;
    }
    const w = new Int32Array(f.data.buffer, f.data.byteOffset, PAGE_SIZE / 4);
    for (let i = 0; i < w.length; i++) {
      if (w[i] !== 0) {
        return false;
      }
    }
    return true;
  }

  /** Write `len` bytes at off: `src` bytes, or a fill byte. */
  write(mfn: number, off: number, len: number, src: Uint8Array | number): void {
    let f = this.live.get(mfn);
    if (f === undefined) {
      f = new Frame();
      this.live.set(mfn, f);
    }
    const page = f.data;
    const i = this.pos;
    if (i < this.n && this.recMfn[i] === mfn && this.recOff[i] === off && this.recLen[i] === len) {
      // Replaying a step already in the log (deterministic): apply, don't record again.
      const [heap, h0] = this.at(this.recHeap[i]);
      const h = h0 + len;
      for (let b = 0; b < len; b++) {
        page[off + b] = heap[h + b];
      }
      f.last = i;
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
    this.recPrev[i] = f.last;
    f.last = i;
    this.n = i + 1;
    this.pos = i + 1;
  }

  /** Undo or redo records until the position is `target`. */
  moveTo(target: number): void {
    if (target > this.n) {
      throw new Error(`log position ${target} beyond ${this.n}`);
    }
    let f: Frame | undefined;
    let fm = -1;
    while (this.pos > target) {
      const i = --this.pos;
      if (this.recMfn[i] !== fm) {
        fm = this.recMfn[i];
        f = this.live.get(fm);
      }
      this.copyOut(i, 0, f!);
      f!.last = this.recPrev[i];
    }
    while (this.pos < target) {
      const i = this.pos++;
      if (this.recMfn[i] !== fm) {
        fm = this.recMfn[i];
        f = this.live.get(fm);
      }
      this.copyOut(i, this.recLen[i], f!);
      f!.last = i;
    }
  }

  /** Copy record i's old (skip = 0) or new (skip = len) bytes into the frame. */
  private copyOut(i: number, skip: number, f: Frame): void {
    const h = this.recHeap[i] + skip;
    const hp = this.heaps[Math.floor(h / HEAP_CHUNK)];
    const o = h % HEAP_CHUNK;
    const len = this.recLen[i];
    const off = this.recOff[i];
    const d = f.data;
    if (len <= 32) {
      for (let b = 0; b < len; b++) {
        d[off + b] = hp[o + b];
      }
    } else {
      d.set(hp.subarray(o, o + len), off);
    }
  }

  /** Has the frame's content changed between log position p0 and now? (Bytes, not writes.) */
  changedSince(mfn: number, p0: number): boolean {
    const f = this.live.get(mfn);
    if (f === undefined || f.last < p0) {
      return false;
    }
    const page = f.data;
    const first = f.last;
    if (this.recPrev[first] < p0) {
      // One record since p0: its old bytes against the current ones.
      const off = this.recOff[first];
      const len = this.recLen[first];
      const [hp, h] = this.at(this.recHeap[first]);
      for (let b = 0; b < len; b++) {
        if (hp[h + b] !== page[off + b]) {
          return true;
        }
      }
      return false;
    }
    let bytes = 0;
    for (let i = first; i >= p0; i = this.recPrev[i]) {
      bytes += this.recLen[i];
      if (bytes > 512) {
        // Many bytes written: rebuilding the old page and comparing natively is cheaper.
        return Buffer.compare(this.bytesAt(mfn, p0), page) !== 0;
      }
    }
    // Walking back, the last-seen old byte of each offset is the oldest: overwrite as we go.
    const touched: number[] = [];
    for (let i = first; i >= p0; i = this.recPrev[i]) {
      const off = this.recOff[i];
      const len = this.recLen[i];
      const [hp, h] = this.at(this.recHeap[i]);
      for (let b = 0; b < len; b++) {
        if (!scratchSeen[off + b]) {
          scratchSeen[off + b] = 1;
          touched.push(off + b);
        }
        scratchOld[off + b] = hp[h + b];
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
    const f = this.live.get(mfn);
    if (f === undefined) {
      return new Uint8Array(PAGE_SIZE);
    }
    const out = f.data.slice();
    for (let i = f.last; i >= p0; i = this.recPrev[i]) {
      const [hp, h] = this.at(this.recHeap[i]);
      out.set(hp.subarray(h, h + this.recLen[i]), this.recOff[i]);
    }
    return out;
  }

  /** Drop the records from `at` on (only when a replay diverged, which determinism rules out). */
  private truncate(at: number): void {
    for (const f of this.live.values()) {
      while (f.last >= at) {
        f.last = this.recPrev[f.last];
      }
    }
    this.n = at;
    this.heapTop = this.recHeap[at];
    this.heaps.length = Math.floor(this.heapTop / HEAP_CHUNK) + 1;
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
    this.recPrev = grow(this.recPrev, Float64Array);
  }

  hashInto(h: Hasher): void {
    const keys = [...this.live.keys()].sort((a, b) => a - b);
    for (const k of keys) {
      const d = this.live.get(k)!.data;
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

/**
 * Machine memory: every byte the model holds (guest RAM, VRAM, the screen surfaces), in 4 KiB frames
 * allocated on first write, plus a write log. Every write goes through `write()`, which records the
 * bytes it replaced and the bytes it wrote. The log gives, without copying pages:
 * - time travel: `moveTo(pos)` undoes or redoes records, so a checkpoint is just a log position
 *   (plus the small structured state), and replaying from it re-creates identical records;
 * - "has this page changed since position p?" by comparing only the bytes written since p — the
 *   oracle's device-model copy and qemu-dm's memcmp copy are positions, not copies.
 *
 * Layout, for speed and size (a big trace is millions of 4-byte stores):
 * - frames are found by mfn in a two-level table (no hashing), and their bytes are views into
 *   4 MiB slabs (one allocation per 1024 frames);
 * - a record is 5 consecutive int32s in fixed-size record chunks: mfn, offset|length, the previous
 *   record of the same frame, and either the old and new bytes themselves (writes of up to 4 bytes:
 *   20 bytes per record, nothing else) or where in the byte heap they are (longer writes).
 */
import type { Hasher } from './util';

export const PAGE_SIZE = 4096;
export const ZERO_PAGE = new Uint8Array(PAGE_SIZE);

/** Frames per table chunk (mfn >>> FSHIFT selects the chunk). */
const FSHIFT = 12;
const FCHUNK = 1 << FSHIFT;
const FMASK = FCHUNK - 1;
/** Frames per slab (a location is slab << SLAB_SHIFT | slot). */
const SLAB_SHIFT = 10;
const SLAB_FRAMES = 1 << SLAB_SHIFT;
const SLAB_MASK = SLAB_FRAMES - 1;

/** Int32s per record, and records per record chunk. */
const STRIDE = 5;
const RSHIFT = 16;
const RCHUNK = 1 << RSHIFT;
const RMASK = RCHUNK - 1;
/** Field offsets within a record. */
const R_MFN = 0;
const R_OFFLEN = 1;
const R_PREV = 2;
const R_A = 3;
const R_B = 4;
/** Writes of up to this many bytes keep their bytes in the record. */
const INLINE = 4;

const HEAP_CHUNK = 1 << 23;

const scratchOld = new Uint8Array(PAGE_SIZE);
const scratchSeen = new Uint8Array(PAGE_SIZE);
const touched = new Int32Array(PAGE_SIZE);

interface FrameChunk {
  /**
   * Per frame, two int32s: where its bytes are (slab * SLAB_FRAMES + slot, -1: not allocated) and
   * the index of its latest applied record (-1: none) — side by side, one cache line for both.
   */
  meta: Int32Array;
  /** Views of the frames' bytes, made when `read` first asks (the write path does not need them). */
  views: (Uint8Array | undefined)[] | null;
}

/** Up to 4 bytes of `d` at off, little-endian in one int32. */
function pack(d: Uint8Array, off: number, len: number): number {
  if (len === 4) {
    return d[off] | (d[off + 1] << 8) | (d[off + 2] << 16) | (d[off + 3] << 24);
  }
  let v = 0;
  for (let b = 0; b < len; b++) {
    v |= d[off + b] << (8 * b);
  }
  return v;
}
function unpack(v: number, d: Uint8Array, off: number, len: number): void {
  for (let b = 0; b < len; b++) {
    d[off + b] = (v >>> (8 * b)) & 0xff;
  }
}

export class PageStore {
  private frames: (FrameChunk | undefined)[] = [];
  private slabs: Uint8Array[] = [];
  private slabUsed = SLAB_FRAMES;
  private recs: Int32Array[] = [];
  /** Old and new bytes of long writes, in chunks that never move (a record never spans two). */
  private heaps: Uint8Array[] = [];
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

  /** The frame's chunk, made on first use. */
  private chunk(mfn: number): FrameChunk {
    const ci = mfn >>> FSHIFT;
    let c = this.frames[ci];
    if (c === undefined) {
      c = { meta: new Int32Array(2 * FCHUNK).fill(-1), views: null };
      this.frames[ci] = c;
    }
    return c;
  }

  /** Where the frame's bytes are (slab * SLAB_FRAMES + slot), allocating them (zeroed) on first use. */
  private locate(c: FrameChunk, fi: number): number {
    let loc = c.meta[2 * fi];
    if (loc < 0) {
      if (this.slabUsed === SLAB_FRAMES) {
        this.slabs.push(new Uint8Array(SLAB_FRAMES * PAGE_SIZE));
        this.slabUsed = 0;
      }
      loc = ((this.slabs.length - 1) << SLAB_SHIFT) | this.slabUsed++;
      c.meta[2 * fi] = loc;
    }
    return loc;
  }

  /** The frame's bytes as a view (allocating the frame). */
  private frame(mfn: number): Uint8Array {
    const c = this.chunk(mfn);
    const fi = mfn & FMASK;
    if (c.views === null) {
      c.views = new Array<Uint8Array | undefined>(FCHUNK).fill(undefined);
    }
    let v = c.views[fi];
    if (v === undefined) {
      const loc = this.locate(c, fi);
      const at = (loc & SLAB_MASK) * PAGE_SIZE;
      v = this.slabs[loc >>> SLAB_SHIFT].subarray(at, at + PAGE_SIZE);
      c.views[fi] = v;
    }
    return v;
  }

  read(mfn: number): Uint8Array {
    const c = this.frames[mfn >>> FSHIFT];
    if (c === undefined || c.meta[2 * (mfn & FMASK)] < 0) {
      return ZERO_PAGE;
    }
    return this.frame(mfn);
  }
  /** Are the frame's bytes all zero? (Whether it was ever allocated is not observable: time travel keeps frames.) */
  isZero(mfn: number): boolean {
    const d = this.read(mfn);
    if (d === ZERO_PAGE) {
      return true;
    }
    const w = new Int32Array(d.buffer, d.byteOffset, PAGE_SIZE / 4);
    for (let i = 0; i < w.length; i++) {
      if (w[i] !== 0) {
        return false;
      }
    }
    return true;
  }

  /** The latest applied record of the frame (-1: none). */
  private lastOf(mfn: number): number {
    const c = this.frames[mfn >>> FSHIFT];
    return c === undefined ? -1 : c.meta[2 * (mfn & FMASK) + 1];
  }

  /** Write `len` bytes at off: `src` bytes, or a fill byte. */
  write(mfn: number, off: number, len: number, src: Uint8Array | number): void {
    const c = this.chunk(mfn);
    const fi = mfn & FMASK;
    const loc = this.locate(c, fi);
    const slab = this.slabs[loc >>> SLAB_SHIFT];
    // The write's first byte in the slab.
    const at = (loc & SLAB_MASK) * PAGE_SIZE + off;
    const i = this.pos;
    const offlen = off | (len << 12);
    if (i < this.n) {
      const r = this.recs[i >>> RSHIFT];
      const o = (i & RMASK) * STRIDE;
      if (r[o + R_MFN] === mfn && r[o + R_OFFLEN] === offlen) {
        // Replaying a step already in the log (deterministic): apply, don't record again.
        this.apply(r, o, len, at, slab, true);
        c.meta[2 * fi + 1] = i;
        this.pos++;
        return;
      }
      this.truncate(i);
    }
    const ri = i >>> RSHIFT;
    if (ri >= this.recs.length) {
      this.recs.push(new Int32Array(RCHUNK * STRIDE));
    }
    const r = this.recs[ri];
    const o = (i & RMASK) * STRIDE;
    r[o + R_MFN] = mfn;
    r[o + R_OFFLEN] = offlen;
    r[o + R_PREV] = c.meta[2 * fi + 1];
    if (len <= INLINE) {
      r[o + R_A] = pack(slab, at, len);
      if (typeof src === 'number') {
        for (let b = 0; b < len; b++) {
          slab[at + b] = src;
        }
      } else {
        for (let b = 0; b < len; b++) {
          slab[at + b] = src[b];
        }
      }
      r[o + R_B] = pack(slab, at, len);
    } else {
      let h = this.heapTop % HEAP_CHUNK;
      if (h + 2 * len > HEAP_CHUNK) {
        this.heapTop += HEAP_CHUNK - h;
        h = 0;
      }
      const hi = Math.floor(this.heapTop / HEAP_CHUNK);
      if (hi >= this.heaps.length) {
        this.heaps.push(new Uint8Array(HEAP_CHUNK));
      }
      const hp = this.heaps[hi];
      hp.set(slab.subarray(at, at + len), h);
      if (typeof src === 'number') {
        slab.fill(src, at, at + len);
      } else {
        slab.set(src.subarray(0, len), at);
      }
      hp.set(slab.subarray(at, at + len), h + len);
      r[o + R_A] = hi;
      r[o + R_B] = h;
      this.heapTop += 2 * len;
    }
    c.meta[2 * fi + 1] = i;
    this.n = i + 1;
    this.pos = i + 1;
  }

  /** Copy a record's new (redo) or old (undo) bytes into the frame. */
  private apply(r: Int32Array, o: number, len: number, off: number, page: Uint8Array, redo: boolean): void {
    if (len <= INLINE) {
      unpack(r[o + (redo ? R_B : R_A)], page, off, len);
    } else {
      const hp = this.heaps[r[o + R_A]];
      const h = r[o + R_B] + (redo ? len : 0);
      page.set(hp.subarray(h, h + len), off);
    }
  }

  /** Undo or redo records until the position is `target`. */
  moveTo(target: number): void {
    if (target > this.n) {
      throw new Error(`log position ${target} beyond ${this.n}`);
    }
    while (this.pos > target) {
      const i = --this.pos;
      const r = this.recs[i >>> RSHIFT];
      const o = (i & RMASK) * STRIDE;
      const mfn = r[o + R_MFN];
      const offlen = r[o + R_OFFLEN];
      this.apply(r, o, offlen >>> 12, offlen & 0xfff, this.frame(mfn), false);
      this.frames[mfn >>> FSHIFT]!.meta[2 * (mfn & FMASK) + 1] = r[o + R_PREV];
    }
    while (this.pos < target) {
      const i = this.pos++;
      const r = this.recs[i >>> RSHIFT];
      const o = (i & RMASK) * STRIDE;
      const mfn = r[o + R_MFN];
      const offlen = r[o + R_OFFLEN];
      this.apply(r, o, offlen >>> 12, offlen & 0xfff, this.frame(mfn), true);
      this.frames[mfn >>> FSHIFT]!.meta[2 * (mfn & FMASK) + 1] = i;
    }
  }

  private prevOf(i: number): number {
    return this.recs[i >>> RSHIFT][(i & RMASK) * STRIDE + R_PREV];
  }

  /** Has the frame's content changed between log position p0 and now? (Bytes, not writes.) */
  changedSince(mfn: number, p0: number): boolean {
    const c = this.frames[mfn >>> FSHIFT];
    if (c === undefined) {
      return false;
    }
    const fi = mfn & FMASK;
    const first = c.meta[2 * fi + 1];
    if (first < p0) {
      return false;
    }
    const loc = c.meta[2 * fi];
    const slab = this.slabs[loc >>> SLAB_SHIFT];
    const base = (loc & SLAB_MASK) * PAGE_SIZE;
    const r = this.recs[first >>> RSHIFT];
    const o = (first & RMASK) * STRIDE;
    const offlen = r[o + R_OFFLEN];
    const off = offlen & 0xfff;
    const len = offlen >>> 12;
    if (r[o + R_PREV] < p0) {
      // One record since p0: its old bytes against the current ones.
      if (len <= INLINE) {
        return r[o + R_A] !== pack(slab, base + off, len);
      }
      const hp = this.heaps[r[o + R_A]];
      const h = r[o + R_B];
      for (let b = 0; b < len; b++) {
        if (hp[h + b] !== slab[base + off + b]) {
          return true;
        }
      }
      return false;
    }
    let bytes = 0;
    for (let i = first; i >= p0; i = this.prevOf(i)) {
      bytes += this.recs[i >>> RSHIFT][(i & RMASK) * STRIDE + R_OFFLEN] >>> 12;
      if (bytes > 512) {
        // Many bytes written: rebuilding the old page and comparing natively is cheaper.
        return Buffer.compare(this.bytesAt(mfn, p0), slab.subarray(base, base + PAGE_SIZE)) !== 0;
      }
    }
    // Walking back, the last-seen old byte of each offset is the oldest: overwrite as we go.
    let nt = 0;
    for (let i = first; i >= p0; i = this.prevOf(i)) {
      const ri = this.recs[i >>> RSHIFT];
      const oi = (i & RMASK) * STRIDE;
      const ol = ri[oi + R_OFFLEN];
      const ro = ol & 0xfff;
      const rl = ol >>> 12;
      for (let b = 0; b < rl; b++) {
        if (!scratchSeen[ro + b]) {
          scratchSeen[ro + b] = 1;
          touched[nt++] = ro + b;
        }
      }
      this.apply(ri, oi, rl, ro, scratchOld, false);
    }
    let changed = false;
    for (let k = 0; k < nt; k++) {
      const b = touched[k];
      if (scratchOld[b] !== slab[base + b]) {
        changed = true;
      }
      scratchSeen[b] = 0;
    }
    return changed;
  }

  /** The frame's bytes as they were at log position p0. */
  bytesAt(mfn: number, p0: number): Uint8Array {
    const out = this.read(mfn).slice();
    for (let i = this.lastOf(mfn); i >= p0; i = this.prevOf(i)) {
      const r = this.recs[i >>> RSHIFT];
      const o = (i & RMASK) * STRIDE;
      const offlen = r[o + R_OFFLEN];
      this.apply(r, o, offlen >>> 12, offlen & 0xfff, out, false);
    }
    return out;
  }

  /** Drop the records from `at` on (only when a replay diverged, which determinism rules out). */
  private truncate(at: number): void {
    for (const c of this.frames) {
      if (c === undefined) {
        continue;
      }
      for (let k = 1; k < 2 * FCHUNK; k += 2) {
        while (c.meta[k] >= at) {
          c.meta[k] = this.prevOf(c.meta[k]);
        }
      }
    }
    // The heap goes back to the first long record dropped.
    for (let i = at; i < this.n; i++) {
      const r = this.recs[i >>> RSHIFT];
      const o = (i & RMASK) * STRIDE;
      if (r[o + R_OFFLEN] >>> 12 > INLINE) {
        this.heapTop = r[o + R_A] * HEAP_CHUNK + r[o + R_B];
        this.heaps.length = r[o + R_A] + 1;
        break;
      }
    }
    this.n = at;
    this.recs.length = Math.ceil(at / RCHUNK) || 0;
  }

  /** Bytes held by the write log (for the memory figures). */
  get logBytes(): number {
    return this.recs.length * RCHUNK * STRIDE * 4 + this.heaps.length * HEAP_CHUNK;
  }

  hashInto(h: Hasher): void {
    for (let ci = 0; ci < this.frames.length; ci++) {
      const c = this.frames[ci];
      if (c === undefined) {
        continue;
      }
      for (let k = 0; k < FCHUNK; k++) {
        if (c.meta[2 * k] < 0) {
          continue;
        }
        const d = this.frame(ci * FCHUNK + k);
        let zero = true;
        for (let i = 0; i < d.length; i++) {
          if (d[i] !== 0) {
            zero = false;
            break;
          }
        }
        if (!zero) {
          h.num(ci * FCHUNK + k);
          h.bytes(d);
        }
      }
    }
  }
}

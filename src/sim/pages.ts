/**
 * Machine memory: every byte the model holds (guest RAM, VRAM, the screen surfaces), in 4 KiB frames
 * allocated on first write, plus a write log. Every write goes through `write()`, which records the
 * bytes it replaced and the bytes it wrote. The log gives, without copying pages:
 * - time travel: `moveTo(pos)` undoes or redoes records, so a checkpoint is just a log position
 *   (plus the small structured state), and replaying from it re-creates identical records;
 * - "has this page changed since position p?" by comparing only the bytes written since p — the
 *   oracle's device-model copy and qemu-dm's memcmp copy are positions, not copies.
 * Records of one frame are chained (the previous record of the same frame), and each frame knows its
 * latest applied record.
 *
 * Layout, for speed and size (a big trace is millions of 4-byte stores):
 * - frames are found by mfn in a two-level table (chunk = mfn >>> 12; no hashing): per frame two
 *   int32s, its latest applied record and its slot; a slot is a frame's place in 4 MiB slabs of
 *   1024 frames (one ArrayBuffer per slab, not per frame). `read()` hands out a view of the slot,
 *   made on first read and kept; nobody writes through it (every change of a frame is a record);
 * - a record is 5 consecutive int32s: mfn, offset | length << 13, the previous record of the same
 *   frame, and either the old and new bytes themselves (writes of up to 4 bytes, little-endian:
 *   20 bytes per record, nothing else) or where in the byte heap they are (longer writes: heap
 *   chunk, offset of the old bytes; the new bytes follow them). Records are in chunks of a million
 *   that never move once full.
 */
import type { Hasher } from './util';

export const PAGE_SIZE = 4096;
const PAGE_SHIFT = 12;
export const ZERO_PAGE = new Uint8Array(PAGE_SIZE);

/** Frames per table chunk: mfn >>> FSHIFT selects the chunk. */
const FSHIFT = 12;
const FCHUNK = 1 << FSHIFT;
const FMASK = FCHUNK - 1;
/** Frames per slab (slot >>> SLAB_SHIFT selects the slab). */
const SLAB_SHIFT = 10;
const SLAB_FRAMES = 1 << SLAB_SHIFT;
const SLAB_MASK = SLAB_FRAMES - 1;

/**
 * Int32s per record, and records per record chunk (record i is in chunk i >>> RSHIFT). The first chunk
 * starts at RFIRST records and doubles (copied) up to RCHUNK, so a small log stays small; the chunks
 * after it are allocated whole (untouched pages cost nothing) and never move.
 */
const STRIDE = 5;
const RSHIFT = 20;
const RCHUNK = 1 << RSHIFT;
const RMASK = RCHUNK - 1;
const RFIRST = 4096;
/** Field offsets within a record. */
const R_MFN = 0;
const R_OFFLEN = 1;
const R_PREV = 2;
/** Old bytes (inline) or heap chunk (long writes). */
const R_A = 3;
/** New bytes (inline) or heap offset of the old bytes (long writes). */
const R_B = 4;
/** offlen = offset | length << LEN_SHIFT (both 0..4096). */
const LEN_SHIFT = 13;
const OFF_MASK = (1 << LEN_SHIFT) - 1;
/** Writes of up to this many bytes keep their bytes in the record. */
const INLINE = 4;
/** Writes up to this long copy byte by byte, longer ones with `set`. */
const SHORT = 32;
/** Past this many bytes written since p0, `changedSince` rebuilds the old page and compares it whole. */
const MANY = 512;

const HEAP_CHUNK = 1 << 23;

const scratchOld = new Uint8Array(PAGE_SIZE);
const scratchNew = new Uint8Array(PAGE_SIZE);
const scratchPage = new Uint8Array(PAGE_SIZE);
/** Bytes of scratchOld and scratchNew set in the current `changedSince` call: those whose stamp is `stamp`. */
const scratchStamp = new Int32Array(PAGE_SIZE);
let stamp = 0;
const touched = new Int32Array(PAGE_SIZE);
/** `changedSince`'s fast case: at most FEW records, their offsets and lengths. */
const FEW = 8;
const fewOff = new Int32Array(FEW);
const fewLen = new Int32Array(FEW);

export class PageStore {
  /** Frame table chunks: per frame [2k] latest applied record (-1: none), [2k + 1] slot (-1: no bytes yet). */
  private frames: (Int32Array | undefined)[] = [];
  private slabs: Uint8Array[] = [];
  /** The same slabs as int32s (whole-frame zero tests). */
  private slabs32: Int32Array[] = [];
  /** Frames allocated so far (the next slot). */
  private slots = 0;
  /** Each slot's `read()` view, once made. */
  private views: (Uint8Array | undefined)[] = [];
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

  /** The frame table chunk that holds mfn, if there is one. */
  private chunkOf(mfn: number): Int32Array | undefined {
    const ci = mfn >>> FSHIFT;
    return ci < this.frames.length ? this.frames[ci] : undefined;
  }

  /** Add the frame table chunk that holds mfn (an integer in [0, 2^31)). */
  private newChunk(mfn: number): Int32Array {
    if ((mfn | 0) !== mfn || mfn < 0) {
      throw new RangeError(`mfn ${mfn} is not an integer in [0, 2^31)`);
    }
    const ci = mfn >>> FSHIFT;
    while (this.frames.length <= ci) {
      this.frames.push(undefined);
    }
    const c = new Int32Array(2 * FCHUNK).fill(-1);
    this.frames[ci] = c;
    return c;
  }

  /** Give frame k of chunk c a slot (zeroed bytes). */
  private newSlot(c: Int32Array, k: number): number {
    const slot = this.slots++;
    if ((slot & SLAB_MASK) === 0) {
      const slab = new Uint8Array(SLAB_FRAMES * PAGE_SIZE);
      // Take the slab's memory now, in one sweep: frames get their slots in the order of their first
      // writes, which for a framebuffer is random, and memory the system hands out page by page at
      // random made every later random access measurably slower on these machines (BENCHMARKS.md).
      slab.fill(0);
      this.slabs.push(slab);
      this.slabs32.push(new Int32Array(slab.buffer));
    }
    this.views.push(undefined);
    c[k + 1] = slot;
    return slot;
  }

  private view(slot: number): Uint8Array {
    let v = this.views[slot];
    if (v === undefined) {
      const b = (slot & SLAB_MASK) * PAGE_SIZE;
      v = this.slabs[slot >>> SLAB_SHIFT].subarray(b, b + PAGE_SIZE);
      this.views[slot] = v;
    }
    return v;
  }

  private isZeroSlot(slot: number): boolean {
    const w = this.slabs32[slot >>> SLAB_SHIFT];
    const b = (slot & SLAB_MASK) * (PAGE_SIZE / 4);
    for (let i = b; i < b + PAGE_SIZE / 4; i++) {
      if (w[i] !== 0) {
        return false;
      }
    }
    return true;
  }

  read(mfn: number): Uint8Array {
    const c = this.chunkOf(mfn);
    if (c === undefined) {
      return ZERO_PAGE;
    }
    const slot = c[((mfn & FMASK) << 1) + 1];
    return slot < 0 ? ZERO_PAGE : this.view(slot);
  }
  /** Are the frame's bytes all zero? (Whether it was ever allocated is not observable: time travel keeps frames.) */
  isZero(mfn: number): boolean {
    const c = this.chunkOf(mfn);
    if (c === undefined) {
      return true;
    }
    const slot = c[((mfn & FMASK) << 1) + 1];
    return slot < 0 || this.isZeroSlot(slot);
  }

  /**
   * Called (once, then cleared) before the next write: a batch of stores whose writes are pending
   * writes them first, so that the log keeps the order of running them one by one (Executor.storeBatch).
   */
  beforeWrite: (() => void) | null = null;

  /** The slot holding frame mfn's bytes, or -1 if it has none yet (see `touch`). */
  slotOf(mfn: number): number {
    const ci = mfn >>> FSHIFT;
    const c = ci < this.frames.length ? this.frames[ci] : undefined;
    return c === undefined ? -1 : c[((mfn & FMASK) << 1) + 1];
  }
  /**
   * Load byte offs[i] of slot slots[i] for i in [from, to), skipping slots < 0 (a prefetch: reads
   * only; the sum is meaningless). The loop does nothing else, so that many of its cache misses are
   * in flight at once: looking the frames up here, through the frame table, made each load take two
   * to three times as long.
   */
  touch(slots: Int32Array, offs: Int32Array, from: number, to: number): number {
    let acc = 0;
    const slabs = this.slabs;
    for (let i = from; i < to; i++) {
      const slot = slots[i];
      if (slot >= 0) {
        acc += slabs[slot >>> SLAB_SHIFT][((slot & SLAB_MASK) << PAGE_SHIFT) | offs[i]];
      }
    }
    return acc;
  }

  /** Write `len` bytes at off: `src` bytes, or a fill byte. */
  write(mfn: number, off: number, len: number, src: Uint8Array | number): void {
    if (this.beforeWrite !== null) {
      const f = this.beforeWrite;
      this.beforeWrite = null;
      f();
    }
    if (!(off >= 0 && len >= 0 && off + len <= PAGE_SIZE)) {
      throw new RangeError(`write of ${len} byte(s) at ${off} does not fit in a frame`);
    }
    const ci = mfn >>> FSHIFT;
    let c = ci < this.frames.length ? this.frames[ci] : undefined;
    if (c === undefined || (mfn | 0) !== mfn) {
      c = this.newChunk(mfn);
    }
    const k = (mfn & FMASK) << 1;
    let slot = c[k + 1];
    if (slot < 0) {
      slot = this.newSlot(c, k);
    }
    const page = this.slabs[slot >>> SLAB_SHIFT];
    const p = (slot & SLAB_MASK) * PAGE_SIZE + off;
    const i = this.pos;
    const offlen = off | (len << LEN_SHIFT);
    if (i < this.n) {
      const r = this.recs[i >>> RSHIFT];
      const o = (i & RMASK) * STRIDE;
      if (r[o + R_MFN] === mfn && r[o + R_OFFLEN] === offlen) {
        // Replaying a step already in the log (deterministic): apply, don't record again.
        this.apply(r, o, len, page, p, true);
        c[k] = i;
        this.pos = i + 1;
        return;
      }
      this.truncate(i);
    }
    const o = (i & RMASK) * STRIDE;
    let r = this.recs[i >>> RSHIFT];
    if (r === undefined || o >= r.length) {
      r = this.growRecords(i);
    }
    r[o + R_MFN] = mfn;
    r[o + R_OFFLEN] = offlen;
    r[o + R_PREV] = c[k];
    if (len === 4 && typeof src === 'number') {
      // The common store: four bytes of one fill value.
      r[o + R_A] = page[p] | (page[p + 1] << 8) | (page[p + 2] << 16) | (page[p + 3] << 24);
      page[p] = src;
      page[p + 1] = src;
      page[p + 2] = src;
      page[p + 3] = src;
      r[o + R_B] = page[p] | (page[p + 1] << 8) | (page[p + 2] << 16) | (page[p + 3] << 24);
    } else if (len <= INLINE) {
      let old = 0;
      if (typeof src === 'number') {
        for (let b = 0; b < len; b++) {
          old |= page[p + b] << (8 * b);
          page[p + b] = src;
        }
      } else {
        for (let b = 0; b < len; b++) {
          old |= page[p + b] << (8 * b);
          page[p + b] = src[b];
        }
      }
      let now = 0;
      for (let b = 0; b < len; b++) {
        now |= page[p + b] << (8 * b);
      }
      r[o + R_A] = old;
      r[o + R_B] = now;
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
      if (len > SHORT) {
        hp.set(page.subarray(p, p + len), h);
        if (typeof src === 'number') {
          page.fill(src, p, p + len);
        } else {
          page.set(src.subarray(0, len), p);
        }
        hp.set(page.subarray(p, p + len), h + len);
      } else if (typeof src === 'number') {
        for (let b = 0; b < len; b++) {
          hp[h + b] = page[p + b];
          page[p + b] = src;
          hp[h + len + b] = page[p + b];
        }
      } else {
        for (let b = 0; b < len; b++) {
          hp[h + b] = page[p + b];
          page[p + b] = src[b];
          hp[h + len + b] = page[p + b];
        }
      }
      r[o + R_A] = hi;
      r[o + R_B] = h;
      this.heapTop += 2 * len;
    }
    c[k] = i;
    this.n = i + 1;
    this.pos = i + 1;
  }

  /** Room for record i: a new chunk, or the first chunk doubled. */
  private growRecords(i: number): Int32Array {
    const ci = i >>> RSHIFT;
    const old = this.recs[ci];
    if (old === undefined) {
      const r = new Int32Array((ci === 0 ? RFIRST : RCHUNK) * STRIDE);
      this.recs.push(r);
      return r;
    }
    const r = new Int32Array(Math.min(old.length * 2, RCHUNK * STRIDE));
    r.set(old);
    this.recs[ci] = r;
    return r;
  }

  /** Copy a record's new (redo) or old (undo) bytes to dst[p..]. */
  private apply(r: Int32Array, o: number, len: number, dst: Uint8Array, p: number, redo: boolean): void {
    if (len <= INLINE) {
      const v = r[o + (redo ? R_B : R_A)];
      for (let b = 0; b < len; b++) {
        dst[p + b] = v >>> (8 * b);
      }
      return;
    }
    const hp = this.heaps[r[o + R_A]];
    const h = r[o + R_B] + (redo ? len : 0);
    if (len <= SHORT) {
      for (let b = 0; b < len; b++) {
        dst[p + b] = hp[h + b];
      }
    } else {
      dst.set(hp.subarray(h, h + len), p);
    }
  }

  /** Undo (redo = false) or redo record i on its frame, and set the frame's latest applied record. */
  private step(i: number, redo: boolean): void {
    const r = this.recs[i >>> RSHIFT];
    const o = (i & RMASK) * STRIDE;
    const mfn = r[o + R_MFN];
    const offlen = r[o + R_OFFLEN];
    const c = this.frames[mfn >>> FSHIFT]!;
    const k = (mfn & FMASK) << 1;
    const slot = c[k + 1];
    this.apply(r, o, offlen >>> LEN_SHIFT, this.slabs[slot >>> SLAB_SHIFT], (slot & SLAB_MASK) * PAGE_SIZE + (offlen & OFF_MASK), redo);
    c[k] = redo ? i : r[o + R_PREV];
  }

  /** Undo or redo records until the position is `target`. */
  moveTo(target: number): void {
    if (target > this.n) {
      throw new Error(`log position ${target} beyond ${this.n}`);
    }
    if (target < 0) {
      throw new Error(`log position ${target} before the start`);
    }
    while (this.pos > target) {
      this.step(--this.pos, false);
    }
    while (this.pos < target) {
      this.step(this.pos++, true);
    }
  }

  private prevOf(i: number): number {
    return this.recs[i >>> RSHIFT][(i & RMASK) * STRIDE + R_PREV];
  }

  /**
   * Has the frame's content changed between log position p0 and now? (Bytes, not writes.)
   * Every change of a frame's bytes is a record (a write, or time travel applying one), so the bytes
   * now at what the records since p0 wrote are their newest new bytes, and the bytes then their oldest
   * old bytes: both come from the records, without reading the frame.
   */
  changedSince(mfn: number, p0: number): boolean {
    const c = this.chunkOf(mfn);
    if (c === undefined) {
      return false;
    }
    const k = (mfn & FMASK) << 1;
    const first = c[k];
    if (p0 < 0) {
      p0 = 0;
    }
    if (first < p0) {
      return false;
    }
    const r = this.recs[first >>> RSHIFT];
    const o = (first & RMASK) * STRIDE;
    if (r[o + R_PREV] < p0) {
      // One record since p0: its old bytes against its new ones.
      const len = r[o + R_OFFLEN] >>> LEN_SHIFT;
      if (len <= INLINE) {
        return r[o + R_A] !== r[o + R_B];
      }
      const hp = this.heaps[r[o + R_A]];
      const h = r[o + R_B];
      for (let b = h; b < h + len; b++) {
        if (hp[b] !== hp[b + len]) {
          return true;
        }
      }
      return false;
    }
    // A few short records at offsets that do not overlap (stores to different places): each byte was
    // written once since p0, so the page changed iff one of them changed its own bytes.
    let changed = false;
    let few = 0;
    for (let i = first; ; ) {
      if (i < p0) {
        return changed;
      }
      if (few === FEW) {
        break;
      }
      const ri = this.recs[i >>> RSHIFT];
      const oi = (i & RMASK) * STRIDE;
      const ol = ri[oi + R_OFFLEN];
      const ro = ol & OFF_MASK;
      const rl = ol >>> LEN_SHIFT;
      if (rl > INLINE) {
        break;
      }
      let j = 0;
      while (j < few && (ro >= fewOff[j] + fewLen[j] || fewOff[j] >= ro + rl)) {
        j++;
      }
      if (j < few) {
        break;
      }
      fewOff[few] = ro;
      fewLen[few] = rl;
      few++;
      changed = changed || ri[oi + R_A] !== ri[oi + R_B];
      i = ri[oi + R_PREV];
    }
    // Walking back, the first-seen new byte of each offset is the newest, the last-seen old byte the
    // oldest: keep the first, overwrite the second as we go.
    if (++stamp > 0x3fffffff) {
      scratchStamp.fill(0);
      stamp = 1;
    }
    const st = stamp;
    let nt = 0;
    let bytes = 0;
    for (let i = first; i >= p0; i = this.prevOf(i)) {
      const ri = this.recs[i >>> RSHIFT];
      const oi = (i & RMASK) * STRIDE;
      const ol = ri[oi + R_OFFLEN];
      const ro = ol & OFF_MASK;
      const rl = ol >>> LEN_SHIFT;
      bytes += rl;
      if (bytes > MANY) {
        // Many bytes written: rebuilding the old page and comparing natively is cheaper.
        return this.changedWhole(c[k + 1], p0, i, nt);
      }
      if (rl <= INLINE) {
        const a = ri[oi + R_A];
        const z = ri[oi + R_B];
        for (let b = 0; b < rl; b++) {
          const x = ro + b;
          if (scratchStamp[x] !== st) {
            scratchStamp[x] = st;
            touched[nt++] = x;
            scratchNew[x] = z >>> (8 * b);
          }
          scratchOld[x] = a >>> (8 * b);
        }
      } else {
        const hp = this.heaps[ri[oi + R_A]];
        const h = ri[oi + R_B] - ro;
        for (let x = ro; x < ro + rl; x++) {
          if (scratchStamp[x] !== st) {
            scratchStamp[x] = st;
            touched[nt++] = x;
            scratchNew[x] = hp[h + rl + x];
          }
          scratchOld[x] = hp[h + x];
        }
      }
    }
    for (let t = 0; t < nt; t++) {
      const x = touched[t];
      if (scratchOld[x] !== scratchNew[x]) {
        return true;
      }
    }
    return false;
  }

  /**
   * `changedSince` going on with the whole page: the frame's bytes now, with the oldest old bytes
   * found so far (the `nt` touched ones) and those of records i and older down to p0 put back,
   * against the bytes now.
   */
  private changedWhole(slot: number, p0: number, i: number, nt: number): boolean {
    const now = this.view(slot);
    scratchPage.set(now);
    for (let t = 0; t < nt; t++) {
      const x = touched[t];
      scratchPage[x] = scratchOld[x];
    }
    for (; i >= p0; i = this.prevOf(i)) {
      const r = this.recs[i >>> RSHIFT];
      const o = (i & RMASK) * STRIDE;
      const offlen = r[o + R_OFFLEN];
      this.apply(r, o, offlen >>> LEN_SHIFT, scratchPage, offlen & OFF_MASK, false);
    }
    return Buffer.compare(scratchPage, now) !== 0;
  }

  /** The frame's bytes as they were at log position p0. */
  bytesAt(mfn: number, p0: number): Uint8Array {
    const out = new Uint8Array(PAGE_SIZE);
    const c = this.chunkOf(mfn);
    if (c === undefined) {
      return out;
    }
    const k = (mfn & FMASK) << 1;
    const slot = c[k + 1];
    if (slot < 0) {
      return out;
    }
    out.set(this.view(slot));
    for (let i = c[k]; i >= p0 && i >= 0; i = this.prevOf(i)) {
      const r = this.recs[i >>> RSHIFT];
      const o = (i & RMASK) * STRIDE;
      const offlen = r[o + R_OFFLEN];
      this.apply(r, o, offlen >>> LEN_SHIFT, out, offlen & OFF_MASK, false);
    }
    return out;
  }

  /** Drop the records from `at` on (only when a replay diverged, which determinism rules out). */
  private truncate(at: number): void {
    for (const c of this.frames) {
      if (c === undefined) {
        continue;
      }
      for (let k = 0; k < 2 * FCHUNK; k += 2) {
        let l = c[k];
        while (l >= at) {
          l = this.prevOf(l);
        }
        c[k] = l;
      }
    }
    // The heap goes back to the start of the first long record dropped.
    for (let i = at; i < this.n; i++) {
      const r = this.recs[i >>> RSHIFT];
      const o = (i & RMASK) * STRIDE;
      if (r[o + R_OFFLEN] >>> LEN_SHIFT > INLINE) {
        this.heapTop = r[o + R_A] * HEAP_CHUNK + r[o + R_B];
        this.heaps.length = r[o + R_A] + 1;
        break;
      }
    }
    this.n = at;
    this.recs.length = Math.ceil(at / RCHUNK);
  }

  /** Bytes held by the write log: record chunks and byte-heap chunks (allocated, not all touched). */
  get logBytes(): number {
    let b = this.heaps.length * HEAP_CHUNK;
    for (const r of this.recs) {
      b += r.byteLength;
    }
    return b;
  }

  hashInto(h: Hasher): void {
    for (let ci = 0; ci < this.frames.length; ci++) {
      const c = this.frames[ci];
      if (c === undefined) {
        continue;
      }
      for (let f = 0; f < FCHUNK; f++) {
        const slot = c[2 * f + 1];
        if (slot < 0 || this.isZeroSlot(slot)) {
          continue;
        }
        const b = (slot & SLAB_MASK) * PAGE_SIZE;
        h.num(ci * FCHUNK + f);
        h.bytes(this.slabs[slot >>> SLAB_SHIFT].subarray(b, b + PAGE_SIZE));
      }
    }
  }
}

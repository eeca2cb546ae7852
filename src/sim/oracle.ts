/**
 * The oracle (spec, "The model's conventions"): per framebuffer the copy a device model redrawing
 * every reported page would hold, the pages written since the previous answer, and from those the
 * changed, missed, late and extra sets of each answer; the `lost-update` invariant.
 */
import type { Machine } from './machine';
import type { AnswerRecord } from './report';
import { FbOracle, type Domain, type Framebuffer } from './state';
import type { TrackerAnswer } from './trackers/types';
import { importAnswer } from './qemu/vga';

export function newOracle(m: Machine, d: Domain, fb: Framebuffer): FbOracle {
  const o = new FbOracle(fb.pages, 'words');
  o.copyAll = m.pages.position;
  // The screen surface: frames of its own, starting as a copy of guest memory.
  o.screenMfn = m.allocFrames(fb.pages);
  for (let p = 0; p < fb.pages; p++) {
    const mfn = m.backingMfn(d, fb.gfn + p);
    if (!m.pages.isZero(mfn)) {
      const g = m.pages.read(mfn);
      m.pages.write(o.screenMfn + p, 0, g.length, g);
    }
  }
  return o;
}

/** Does page p of the framebuffer differ from the device model's copy? */
export function differsFromCopy(m: Machine, d: Domain, fb: Framebuffer, o: FbOracle, p: number): boolean {
  return m.pages.changedSince(m.backingMfn(d, fb.gfn + p), o.copyOf(p));
}


/** Which pages an answer reported (a byte per page; all zero between calls). */
let scratchReported = new Uint8Array(0);
/** The pages marked in it by an answer in progress. */
let scratchMarked: number[] | null = null;

/** Record an answer: compute changed/missed/late/extra against the copy, then update the copy. */
export function recordAnswer(m: Machine, d: Domain, fb: Framebuffer, o: FbOracle, ans: TrackerAnswer, tracker: string): AnswerRecord {
  const all = ans.kind !== 'bitmap';
  const n = fb.pages;
  // The reported pages (inside the framebuffer), once each, ascending; `isReported` as a byte map.
  if (scratchMarked !== null) {
    // A previous answer stopped half-way (it threw): unmark what it marked.
    for (const p of scratchMarked) {
      scratchReported[p] = 0;
    }
    scratchMarked = null;
  }
  if (scratchReported.length < n) {
    scratchReported = new Uint8Array(n);
  }
  const isReported = scratchReported;
  let dirty: number[] = [];
  if (ans.kind === 'bitmap') {
    let sorted = true;
    let last = -1;
    const b = new SameAs(ans.dirty);
    for (const p of ans.dirty) {
      if (p < n && !isReported[p]) {
        isReported[p] = 1;
        sorted = sorted && last < p;
        last = p;
        b.push(p);
      }
    }
    dirty = sorted ? b.done() : [...b.done()].sort((x, y) => x - y);
    scratchMarked = dirty;
  }
  const dma = o.dma;
  // written ⊆ suspects, and a correct tracker reports what was written: the lists are built against
  // the one before them and share its array while they are equal (no copy in the common case).
  const writtenB = new SameAs(dirty);
  for (let p = o.written.next(0); p >= 0 && p < n; p = o.written.next(p + 1)) {
    writtenB.push(p);
  }
  const written = writtenB.done();
  const changedB = new SameAs(written);
  const missed: number[] = [];
  const backing = m.backingOf(d, fb.gfn, n);
  for (let p = o.suspects.next(0); p >= 0 && p < n; p = o.suspects.next(p + 1)) {
    if (m.pages.changedSince(backing ? backing.mfn(fb.gfn + p) : m.backingMfn(d, fb.gfn + p), o.copyOf(p))) {
      changedB.push(p);
      if (!all && isReported[p] === 0 && !dma.has(p)) {
        missed.push(p);
      }
    }
  }
  const changed = changedB.done();
  // (Pages beyond the framebuffer's current size — it was shrunk — keep their state for a later
  // growth: they are not part of this answer.)
  const late: number[] = [];
  for (const p of o.missed) {
    if (p < n && (all || isReported[p] === 1 || dma.has(p))) {
      late.push(p);
    }
  }
  const extra: number[] = [];
  for (const p of dirty) {
    if (!o.written.has(p)) {
      extra.push(p);
    }
  }
  // Update the device model's copy with every reported page (and the DMA'd ones QEMU knows of).
  const now = m.pages.position;
  if (all) {
    for (let p = n; p < o.copy.length; p++) {
      if (o.copy[p] < 0) {
        o.copy[p] = o.copyAll;
      }
    }
    o.copy.fill(-1, 0, n);
    o.copyAll = now;
    for (let p = 0; p < n; p++) {
      o.told.add(p);
    }
  } else {
    for (const p of dirty) {
      o.copy[p] = now;
      o.told.add(p);
    }
    for (const p of dma.toArray()) {
      o.copy[p] = now;
      o.told.add(p);
    }
  }
  // QEMU's VGA bitmap receives the bits (xen_sync_dirty_bitmap → memory_region_set_dirty).
  importAnswer(m, d, o, fb, ans);
  for (const p of late) {
    o.missed.delete(p);
  }
  for (const p of missed) {
    o.missed.add(p);
  }
  // Pages still suspect: those that still differ from the copy (the missed ones).
  o.suspects.clearBelow(n);
  for (const p of o.missed) {
    o.suspects.add(p);
  }
  o.written.clearBelow(n);
  o.dma.clearBelow(n);
  for (const p of dirty) {
    isReported[p] = 0;
  }
  scratchMarked = null;
  const rec: AnswerRecord = { line: m.sink.line, fb: fb.name, kind: ans.kind, dirty, written, changed, missed, late, extra, tracker };
  if (missed.length > 0) {
    m.violation('lost-update', `answer for '${fb.name}' (${tracker}) misses ${missed.length} changed page(s): ${listPages(missed)}`, { fb: fb.name, pages: missed });
  }
  return rec;
}

/**
 * Builds an ascending page list that is often equal to `ref`: while it is, nothing is copied and
 * `done()` returns `ref` itself (answer records are never mutated, so equal lists share one array —
 * a big trace keeps thousands of answers).
 */
class SameAs {
  private k = 0;
  private own: number[] | null = null;
  constructor(private readonly ref: number[]) {}
  push(p: number): void {
    if (this.own === null) {
      if (this.k < this.ref.length && this.ref[this.k] === p) {
        this.k++;
        return;
      }
      this.own = this.ref.slice(0, this.k);
    }
    this.own.push(p);
  }
  done(): number[] {
    if (this.own !== null) {
      return this.own;
    }
    return this.k === this.ref.length ? this.ref : this.ref.slice(0, this.k);
  }
}

export function listPages(p: number[]): string {
  if (p.length > 16) {
    return p.slice(0, 16).join(',') + `,… (${p.length})`;
  }
  return p.join(',') || 'none';
}

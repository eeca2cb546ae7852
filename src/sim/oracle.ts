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


/** Record an answer: compute changed/missed/late/extra against the copy, then update the copy. */
export function recordAnswer(m: Machine, d: Domain, fb: Framebuffer, o: FbOracle, ans: TrackerAnswer, tracker: string): AnswerRecord {
  const all = ans.kind !== 'bitmap';
  const reported = new Set<number>(ans.kind === 'bitmap' ? ans.dirty.filter((p) => p < fb.pages) : []);
  const changed: number[] = [];
  for (const p of o.suspects.toArray()) {
    if (p >= fb.pages) {
      continue;
    }
    if (differsFromCopy(m, d, fb, o, p)) {
      changed.push(p);
    }
  }
  const written = o.written.toArray().filter((p) => p < fb.pages);
  const missed: number[] = [];
  const late: number[] = [];
  for (const p of changed) {
    const told = all || reported.has(p) || o.dma.has(p);
    if (!told) {
      missed.push(p);
    }
  }
  const lateSet = all ? [...o.missed] : [...o.missed].filter((p) => reported.has(p) || o.dma.has(p));
  for (const p of lateSet.sort((a, b) => a - b)) {
    late.push(p);
  }
  const writtenSet = new Set(written);
  const extra = ans.kind === 'bitmap' ? [...reported].filter((p) => !writtenSet.has(p)).sort((a, b) => a - b) : [];
  // Update the device model's copy with every reported page (and the DMA'd ones QEMU knows of).
  const now = m.pages.position;
  if (all) {
    o.copy.fill(-1);
    o.copyAll = now;
    for (let p = 0; p < fb.pages; p++) {
      o.told.add(p);
    }
  } else {
    for (const p of [...reported, ...o.dma]) {
      o.copy[p] = now;
      o.told.add(p);
    }
  }
  // QEMU's VGA bitmap receives the bits (xen_sync_dirty_bitmap → memory_region_set_dirty).
  importAnswer(o, fb, ans);
  for (const p of late) {
    o.missed.delete(p);
  }
  for (const p of missed) {
    o.missed.add(p);
  }
  // Pages still suspect: those that still differ from the copy (the missed ones).
  o.suspects.clear();
  for (const p of o.missed) {
    o.suspects.add(p);
  }
  o.written.clear();
  o.dma.clear();
  const rec: AnswerRecord = {
    line: m.sink.line, fb: fb.name, kind: ans.kind, dirty: ans.kind === 'bitmap' ? [...reported].sort((a, b) => a - b) : [],
    written, changed, missed, late, extra, tracker,
  };
  if (missed.length > 0) {
    m.violation('lost-update', `answer for '${fb.name}' (${tracker}) misses ${missed.length} changed page(s): ${listPages(missed)}`, { fb: fb.name, pages: missed });
  }
  return rec;
}

export function listPages(p: number[]): string {
  if (p.length > 16) {
    return p.slice(0, 16).join(',') + `,… (${p.length})`;
  }
  return p.join(',') || 'none';
}

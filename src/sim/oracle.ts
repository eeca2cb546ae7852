/**
 * The oracle (spec, "The model's conventions"): per framebuffer the copy a device model redrawing
 * every reported page would hold, the pages written since the previous answer, and from those the
 * changed, missed, late and extra sets of each answer; the `lost-update` invariant.
 */
import type { Machine } from './machine';
import type { AnswerRecord } from './report';
import { FbOracle, type Domain, type Framebuffer } from './state';
import type { TrackerAnswer } from './trackers/types';

export function newOracle(m: Machine, d: Domain, fb: Framebuffer): FbOracle {
  const o = new FbOracle();
  o.copyAll = m.pages.position;
  o.screenAll = m.pages.position;
  void d;
  void fb;
  return o;
}

/** Does page p of the framebuffer differ from the device model's copy? */
export function differsFromCopy(m: Machine, d: Domain, fb: Framebuffer, o: FbOracle, p: number): boolean {
  return m.pages.changedSince(m.backingMfn(d, fb.gfn + p), o.copy.get(p) ?? o.copyAll);
}
/** Does page p differ between guest memory and the screen? */
export function differsFromScreen(m: Machine, d: Domain, fb: Framebuffer, o: FbOracle, p: number): boolean {
  return m.pages.changedSince(m.backingMfn(d, fb.gfn + p), o.screen.get(p) ?? o.screenAll);
}

/** Record an answer: compute changed/missed/late/extra against the copy, then update the copy. */
export function recordAnswer(m: Machine, d: Domain, fb: Framebuffer, o: FbOracle, ans: TrackerAnswer, tracker: string): AnswerRecord {
  const all = ans.kind !== 'bitmap';
  const reported = new Set<number>(ans.kind === 'bitmap' ? ans.dirty.filter((p) => p < fb.pages) : []);
  const changed: number[] = [];
  for (const p of [...o.suspects].sort((a, b) => a - b)) {
    if (p >= fb.pages) {
      continue;
    }
    if (differsFromCopy(m, d, fb, o, p)) {
      changed.push(p);
    }
  }
  const written = [...o.written].filter((p) => p < fb.pages).sort((a, b) => a - b);
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
    o.copy.clear();
    o.copyAll = now;
    for (let p = 0; p < fb.pages; p++) {
      o.told.add(p);
    }
  } else {
    for (const p of [...reported, ...o.dma]) {
      o.copy.set(p, now);
      o.told.add(p);
    }
  }
  // QEMU's VGA bitmap receives the bits (xen_sync_dirty_bitmap → memory_region_set_dirty).
  if (all) {
    for (let p = 0; p < fb.pages; p++) {
      o.qemuVga.add(p);
    }
  } else {
    for (const p of reported) {
      o.qemuVga.add(p);
    }
  }
  for (const p of late) {
    o.missed.delete(p);
  }
  for (const p of missed) {
    o.missed.add(p);
  }
  // Pages still suspect: those that still differ from the copy (the missed ones).
  o.suspects = new Set(missed);
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

/**
 * A QEMU display tick's drawing half (vga_draw_graphic): the snapshot-and-clear of the VGA bitmap
 * (before drawing, since 2017), then each dirty page copied to the screen.
 */
export function drawScreen(m: Machine, d: Domain, fb: Framebuffer, o: FbOracle, resetAfter: boolean): number[] {
  const snapshot = [...o.qemuVga].filter((p) => p < fb.pages).sort((a, b) => a - b);
  if (!resetAfter) {
    o.qemuVga.clear();
  }
  const now = m.pages.position;
  for (const p of snapshot) {
    o.screen.set(p, now);
    o.told.delete(p);
  }
  m.costs.add('bytesCopied', 4096 * snapshot.length);
  if (m.sink.record) {
    m.ev('refresh', 'vga_draw_graphic', `drew ${snapshot.length} dirty page(s): ${listPages(snapshot)}`, { fb: fb.name });
  }
  return snapshot;
}

/** After a refresh: pages where the screen differs from guest memory; lost ones are flagged. */
export function screenStale(m: Machine, d: Domain, fb: Framebuffer, o: FbOracle): number[] {
  const stale: number[] = [];
  for (let p = 0; p < fb.pages; p++) {
    if (differsFromScreen(m, d, fb, o, p)) {
      stale.push(p);
    }
  }
  const lost = stale.filter((p) => o.told.has(p) && !o.qemuVga.has(p));
  if (lost.length > 0) {
    m.violation('lost-update', `refresh of '${fb.name}' leaves ${lost.length} page(s) stale that the device model had been told about and no longer holds: ${listPages(lost)}`, { fb: fb.name, pages: lost });
  }
  return stale;
}

export function listPages(p: number[]): string {
  if (p.length > 16) {
    return p.slice(0, 16).join(',') + `,… (${p.length})`;
  }
  return p.join(',') || 'none';
}

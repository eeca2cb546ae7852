/**
 * The 2007 RFC (Huang Xinmei, never merged; seeds/000): one hypercall walks the L1 shadows mapping
 * the LFB, reading and clearing D; any change to those L1 shadows since the last call answers
 * all-dirty; the LFB is assumed MFN-contiguous (page i lives in frame base + i); no TLB flush.
 */
import { Counter } from '../costs';
import type { Machine } from '../machine';
import { hex } from '../machine';
import { D } from '../pte';
import { Dbit2007, type Domain, type Framebuffer } from '../state';
import type { TrackerAnswer } from './types';

export function dbit2007Peek(m: Machine, d: Domain, fb: Framebuffer): TrackerAnswer {
  const begin = fb.gfn;
  const end = fb.gfn + fb.pages;
  if (!d.dbit || d.dbit.begin !== begin || d.dbit.end !== end) {
    d.dbit = new Dbit2007(begin, end);
    d.trackedFb = fb.name;
  }
  const r = d.dbit;
  const base = m.backingMfn(d, begin);
  const dirty: number[] = [];
  const wrong: number[] = [];
  // The walk runs on every call, also when the answer will be all.
  for (let i = 0; i < fb.pages; i++) {
    const frame = base + i;
    const real = m.backingMfn(d, begin + i);
    if (frame !== real) {
      wrong.push(i);
    }
    const list = d.rmap.list(frame);
    let hit = false;
    if (list.length > 0) {
      for (const a of list) {
        const t = d.shTables.get(Math.floor(a / 512))!;
        const slot = a % 512;
        m.costs.add(Counter.pteScans);
        if (t.f[slot] & D) {
          hit = true;
          m.clearShadowD(d, t, slot);
        }
      }
    }
    if (hit) {
      dirty.push(i);
      if (m.sink.record) {
        m.ev('peek-page', 'dbit-2007 walk', `page ${i}: frame ${hex(frame)} D set: dirty, D cleared (no flush)`, { page: i });
      }
    }
  }
  // One record per page misread (docs/trace-format.md).
  for (const i of wrong) {
    m.violation('wrong-frame', `the RFC's walk read frame ${hex(base + i)} (base + ${i}) for page ${i}, which lives in ${hex(m.backingMfn(d, begin + i))}: the LFB is not MFN-contiguous`, { fb: fb.name, pages: [i], gfn: begin + i, mfn: base + i });
  }
  const all = r.first || r.changed;
  if (m.sink.record) {
    m.ev('peek', 'dbit-2007', all ? (r.first ? 'first call: all dirty' : 'the LFB L1 shadows changed since the last call: all dirty') : `${dirty.length} dirty`);
  }
  r.first = false;
  r.changed = false;
  r.fresh.clear();
  return all ? { kind: 'all' } : { kind: 'bitmap', dirty };
}

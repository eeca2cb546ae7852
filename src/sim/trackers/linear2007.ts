/**
 * The design Tim Deegan proposed in review of the 2007 RFC (seeds/001; never merged): remember the
 * VA of the single writable LFB mapping (one equality test in sh_page_fault), walk the shadow linear
 * page tables over it reading and clearing D, back off to "all" on a PTE pointing elsewhere, a
 * missing higher-level shadow (a page fault through the linear map), or a writable count above 1;
 * set bits when LFB shadow PTEs are made or cleared (shadow_set_l1e); clear without pausing; flush
 * the TLBs after clearing.
 */
import { Counter } from '../costs';
import type { Machine } from '../machine';
import { hex } from '../machine';
import { D, P } from '../pte';
import { Linear2007, type Domain, type Framebuffer } from '../state';
import { vaToString } from '../program';
import type { TrackerAnswer } from './types';

export function linear2007Peek(m: Machine, d: Domain, fb: Framebuffer): TrackerAnswer {
  const begin = fb.gfn;
  const end = fb.gfn + fb.pages;
  if (!d.linear || d.linear.begin !== begin || d.linear.end !== end) {
    d.linear = new Linear2007(begin, end);
    d.trackedFb = fb.name;
  }
  const r = d.linear;
  if (r.first) {
    r.first = false;
    r.bits.clear();
    m.ev('peek', 'linear-2007', 'first call: all dirty; the LFB VA is learnt at the next write fault');
    return { kind: 'all' };
  }
  // D bits cleared so far: the flush is owed whether the walk completes or backs off.
  let flush = false;
  const flushIfOwed = (): void => {
    if (!flush) {
      return;
    }
    if (m.bugs.has('skip-flush')) {
      m.ev('flush-skipped', 'linear-2007', 'flush owed after clearing D but skipped (inject skip-flush)', { dom: d.name });
    } else {
      m.flushDomainTlbs(d, 'flush_tlb_mask', 'after clearing D (linear-2007)');
    }
  };
  const backoff = (why: string): TrackerAnswer => {
    r.bits.clear();
    m.ev('peek', 'linear-2007', `back off: ${why}: all dirty (qemu redraws the slow way)`);
    flushIfOwed();
    return { kind: 'all' };
  };
  if (r.va < 0) {
    return backoff('the VA of the writable LFB mapping is not known yet');
  }
  const v = d.vcpus[0];
  const p = m.processes.get(v.process)!;
  const dirty = new Set<number>(r.bits);
  r.bits.clear();
  const contiguous = m.bugs.has('contiguous-mfn');
  const base = m.backingMfn(d, begin);
  for (let i = 0; i < fb.pages; i++) {
    const va = r.va + i * 4096;
    const sl = m.shadowL1For(d, p, va);
    m.costs.add(Counter.pteScans);
    if (!sl) {
      return backoff(`no shadow table above ${vaToString(va)} (a fault through the linear map)`);
    }
    const f = sl.t.f[sl.slot];
    if (!(f & P)) {
      continue;
    }
    const mfn = sl.t.e[sl.slot];
    const want = contiguous ? base + i : m.backingMfn(d, begin + i);
    if (mfn !== want) {
      if (contiguous && mfn === m.backingMfn(d, begin + i)) {
        m.violation('wrong-frame', `linear-2007 compared page ${i}'s PTE with frame ${hex(want)} (base + ${i}), but the page lives in ${hex(mfn)}`, { fb: fb.name, pages: [i], mfn: want });
      }
      return backoff(`the PTE for page ${i} points at ${hex(mfn)}, not the LFB frame ${hex(want)}`);
    }
    if (m.writableCount(d, mfn) > 1) {
      return backoff(`page ${i} has ${m.writableCount(d, mfn)} writable mappings`);
    }
    if (f & D) {
      dirty.add(i);
      m.clearShadowD(d, sl.t, sl.slot);
      flush = true;
      if (m.sink.record) {
        m.ev('peek-page', 'linear-2007 walk', `page ${i} at ${vaToString(va)}: D set: dirty, D cleared`, { page: i });
      }
    }
  }
  flushIfOwed();
  return { kind: 'bitmap', dirty: [...dirty].sort((a, b) => a - b) };
}

/**
 * The single equality test in sh_page_fault: the first write fault on an LFB page reveals the
 * mapping's VA. Later faults (a second, temporary mapping) do not move it: a walk that finds the
 * LFB no longer mapped there backs off.
 */
export function linear2007LearnVa(m: Machine, d: Domain, va: number, gfn: number): void {
  const r = d.linear;
  if (!r || r.va >= 0 || gfn < r.begin || gfn >= r.end) {
    return;
  }
  r.va = Math.floor(va / 4096) * 4096 - (gfn - r.begin) * 4096;
  m.ev('shadow-fault', 'sh_page_fault', `linear-2007: the writable LFB mapping is at ${vaToString(r.va)}`);
}

/**
 * What the older designs hook into shadow_set_l1e: the 2007 RFC notices any change to the LFB's L1
 * shadows; the 2007 review sets a bit when an LFB shadow PTE is made or cleared; the 2012
 * multi-framebuffer design keeps a link to every shadow PTE that maps a range page.
 */
import type { Machine } from '../machine';
import { hex } from '../machine';
import { P } from '../pte';
import type { Domain, MultiRange } from '../state';

/** Page index of mfn in [begin, end), by the M2P — or by `mfn - base` under `contiguous-mfn`. */
export function lfbIndex(m: Machine, d: Domain, mfn: number, begin: number, end: number, fb: string | undefined): number {
  if (m.bugs.has('contiguous-mfn')) {
    const base = m.backingMfn(d, begin);
    const i = mfn - base;
    const real = m.m2p(d, mfn) - begin;
    const inRange = real >= 0 && real < end - begin;
    if (i >= 0 && i < end - begin) {
      if (real !== i) {
        m.violation('wrong-frame', `frame ${hex(mfn)} taken for page ${i} (base + ${i}), but it backs ${inRange ? `page ${real}` : 'another page'}`, { fb, pages: [i], mfn });
      }
      return i;
    }
    if (inRange) {
      m.violation('wrong-frame', `frame ${hex(mfn)} backs page ${real}, but base + i puts it outside the range: the tracker does not see it`, { fb, pages: [real], mfn });
    }
    return -1;
  }
  const gfn = m.m2p(d, mfn);
  return gfn >= begin && gfn < end ? gfn - begin : -1;
}

export function l1eChanged(m: Machine, d: Domain, addr: number, oldF: number, oldMfn: number, newF: number, newMfn: number): void {
  const oldP = (oldF & P) !== 0;
  const newP = (newF & P) !== 0;
  if (d.dbit) {
    // The RFC assumes the LFB contiguous by construction (contiguous-mfn does not apply to it): its
    // hook knows LFB entries by the M2P. It notices an LFB entry cleared or repointed, and the first
    // LFB entry of an L1 shadow created since the last call (that shadow now holds the LFB); an entry
    // made in an older shadow is found by the walk, which reads every shadow entry mapping the frame.
    const r = d.dbit;
    const lfb = (mfn: number): boolean => {
      const g = m.m2p(d, mfn);
      return g >= r.begin && g < r.end;
    };
    const cleared = oldP && lfb(oldMfn) && (!newP || newMfn !== oldMfn);
    const madeInNew = newP && lfb(newMfn) && !(oldP && oldMfn === newMfn) && r.fresh.has(Math.floor(addr / 512));
    if (cleared || madeInNew) {
      if (!r.changed && m.sink.record) {
        m.ev('set-l1e', 'dbit-2007 hook', cleared
          ? 'an L1 shadow entry for the LFB was cleared or repointed: the next call answers all'
          : 'a new L1 shadow now holds an LFB entry: the next call answers all');
      }
      r.changed = true;
    }
  }
  if (d.linear) {
    const r = d.linear;
    const oi = oldP ? lfbIndex(m, d, oldMfn, r.begin, r.end, d.trackedFb ?? undefined) : -1;
    const ni = newP ? lfbIndex(m, d, newMfn, r.begin, r.end, d.trackedFb ?? undefined) : -1;
    if (oi >= 0 && (!newP || newMfn !== oldMfn)) {
      r.bits.add(oi);
    }
    if (ni >= 0 && !(oldP && oldMfn === newMfn)) {
      r.bits.add(ni);
    }
  }
  // shadow_vram_fix_l1e (bae850f060): nothing when the entry maps the same gfn before and after
  // (a D bit it had is simply overwritten); else the old link goes — its D bit with it, nothing
  // keeps it — and the new entry is linked.
  if (d.multi.size > 0 && !(oldP && newP && oldMfn === newMfn) && (oldP || newP)) {
    for (const r of d.multi.values()) {
      if (oldP) {
        const oi = lfbIndex(m, d, oldMfn, r.begin, r.end, r.fb);
        if (oi >= 0) {
          const list = r.links.get(oi);
          const k = list ? list.indexOf(addr) : -1;
          if (list && k >= 0) {
            list.splice(k, 1);
            if (list.length === 0) {
              r.links.delete(oi);
            }
          }
        }
      }
      if (newP) {
        const ni = lfbIndex(m, d, newMfn, r.begin, r.end, r.fb);
        if (ni >= 0) {
          multiLink(r, ni, addr);
        }
      }
    }
  }
}

/** Most links a page keeps before it is stuck dirty: more than DV_ADDR_LINK_LIST_LIMIT (64) taken. */
const LINK_LIMIT = 64;

/**
 * dirty_vram_range_update(set): link shadow entry `addr` to page i of the range — unless the page
 * already has more than DV_ADDR_LINK_LIST_LIMIT links, when it is marked stuck dirty instead.
 */
export function multiLink(r: MultiRange, i: number, addr: number): void {
  let list = r.links.get(i);
  if (!list) {
    list = [];
    r.links.set(i, list);
  }
  if (list.includes(addr)) {
    return;
  }
  if (list.length > LINK_LIMIT) {
    r.stuck.add(i);
    return;
  }
  list.push(addr);
}

/** The ranges that link an entry of L1 shadow smfn (see `multiAfterDestroy`). */
export function multiLinkedTo(d: Domain, smfn: number): MultiRange[] {
  const out: MultiRange[] = [];
  for (const r of d.multi.values()) {
    let hit = false;
    for (const list of r.links.values()) {
      if (list.some((a) => Math.floor(a / 512) === smfn)) {
        hit = true;
        break;
      }
    }
    if (hit) {
      out.push(r);
    }
  }
  return out;
}

/**
 * dirty_vram_delete_shadow (bae850f060), after an L1 shadow went: a range that lost links with it
 * and has none left frees itself (its framebuffer's next peek is a new range).
 */
export function multiAfterDestroy(m: Machine, d: Domain, ranges: readonly MultiRange[]): void {
  for (const r of ranges) {
    if (r.links.size === 0 && d.multi.get(r.fb) === r) {
      d.multi.delete(r.fb);
      if (m.sink.record) {
        m.ev('setup', 'dirty_vram_delete_shadow', `range '${r.fb}' has no mapping left: freed`);
      }
    }
  }
}

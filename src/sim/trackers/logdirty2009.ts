/**
 * HAP VRAM tracking 2009–2012 (183d02baf2, Stabellini): VRAM tracking switched log-dirty mode on
 * for the VRAM range and read the range's bits out of the shared log-dirty trie
 * (paging_log_dirty_range), clearing the whole 32768-pfn leaf (clear_page(l1)), then re-armed the
 * range. The first call (and a range change) answered an empty bitmap; while migration log-dirty
 * was on, VRAM tracking could not run and the call answered -ENODATA.
 */
import { Counter } from '../costs';
import type { Machine } from '../machine';
import { hex } from '../machine';
import { T } from '../p2m';
import { LogDirtyTrie } from '../logdirty';
import { Vram2009, type Domain, type Framebuffer } from '../state';
import type { TrackerAnswer } from './types';

export function logdirty2009Peek(m: Machine, d: Domain, fb: Framebuffer): TrackerAnswer {
  const begin = fb.gfn;
  const end = fb.gfn + fb.pages;
  if (d.logdirty) {
    m.ev('peek', 'hap_track_dirty_vram', 'log-dirty mode is on for migration: VRAM tracking cannot run: -ENODATA');
    return { kind: 'enodata' };
  }
  const r = d.vram2009;
  if (!r || r.begin !== begin || r.end !== end) {
    if (r) {
      if (d.trackedFb !== null && d.trackedFb !== fb.name && d.trie) {
        // Disabling and re-enabling log-dirty mode frees the trie: the other framebuffer's bits
        // that its display had not read yet go with it.
        const unread: number[] = [];
        for (let g = r.begin; g < r.end; g++) {
          if (d.trie.test(g)) {
            unread.push(g - r.begin);
          }
        }
        if (unread.length > 0) {
          m.violation('clear-scope', `peeking '${fb.name}' moved the one tracked range, freeing the log-dirty trie with ${unread.length} unread bit(s) of '${d.trackedFb}': ${unread.slice(0, 16).join(',')}`, { fb: d.trackedFb, pages: unread });
        }
      }
      d.p2m.changeTypeRange(r.begin, r.end, T.ram_logdirty, T.ram_rw);
      m.costs.add(Counter.p2mTypeChanges);
      m.ev('p2m-type-change', 'paging_log_dirty_disable', `${hex(r.begin)}..${hex(r.end)} ram_logdirty → ram_rw`);
    }
    d.vram2009 = new Vram2009(begin, end);
    d.trackedFb = fb.name;
    d.trie = new LogDirtyTrie();
    m.pauseDomain(d);
    d.p2m.changeTypeRange(begin, end, T.ram_rw, T.ram_logdirty);
    m.costs.add(Counter.p2mTypeChanges);
    m.ev('p2m-type-change', 'hap_enable_vram_tracking', `${hex(begin)}..${hex(end)} ram_rw → ram_logdirty (log-dirty mode on for VRAM)`);
    m.flushDomainTlbs(d, 'flush_tlb_mask', 'after arming VRAM tracking');
    return { kind: 'bitmap', dirty: [] };
  }
  // paging_log_dirty_range "does not pause the domain" (183d02baf2): the guest keeps running.
  const trie = d.trie!;
  const dirty: number[] = [];
  for (let i = 0; i < fb.pages; i++) {
    m.costs.add(Counter.pteScans);
    if (trie.test(begin + i)) {
      dirty.push(i);
    }
  }
  const cleared = trie.clearLeaves(begin, end);
  const outside = cleared.filter((g) => g < begin || g >= end);
  m.ev('logdirty', 'paging_log_dirty_range', `copied ${dirty.length} bit(s), then clear_page on the whole leaf (${cleared.length} bit(s) cleared${outside.length ? `, ${outside.length} outside the range` : ''})`);
  d.p2m.changeTypeRange(begin, end, T.ram_rw, T.ram_logdirty);
  m.costs.add(Counter.p2mTypeChanges);
  m.flushDomainTlbs(d, 'flush_tlb_mask', 'after re-arming the VRAM range (hap_clean_vram_tracking)');
  return { kind: 'bitmap', dirty };
}

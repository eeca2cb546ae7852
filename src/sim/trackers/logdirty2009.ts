/**
 * HAP VRAM tracking 2009–2012 (183d02baf2, Stabellini; as it stood at a31ed4edbe, just before
 * fd91a2a662 replaced it): VRAM tracking switched log-dirty mode on for the VRAM range with hooks of
 * its own, and read the range's bits out of the shared log-dirty trie (paging_log_dirty_range:
 * the clean hook re-arms the range first, then the bits are copied and the whole 32768-pfn leaf is
 * cleared, clear_page(l1)). The first call (and a range change) answered an empty bitmap; while
 * migration log-dirty was on, VRAM tracking could not run and the call answered -ENODATA.
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
      // paging_log_dirty_disable: pause, hap_disable_vram_tracking, the trie freed.
      vram2009Disable(m, d);
    }
    // paging_log_dirty_enable: pause, hap_enable_vram_tracking (the trie comes with the first mark).
    d.vram2009 = new Vram2009(begin, end);
    d.vram2009Hooks = true;
    d.trackedFb = fb.name;
    d.trie = new LogDirtyTrie();
    m.pauseDomain(d);
    rearm(m, d, begin, end, 'hap_enable_vram_tracking', 'ram_rw → ram_logdirty (log-dirty mode on for VRAM)');
  }
  // paging_log_dirty_range "does not pause the domain" (183d02baf2): the guest keeps running. It
  // calls the clean hook first (hap_clean_vram_tracking: the range re-armed), then reads.
  rearm(m, d, begin, end, 'hap_clean_vram_tracking', 'ram_rw → ram_logdirty (re-armed before the read)');
  const trie = d.trie!;
  if (trie.dirtyCount === 0 && trie.faultCount === 0) {
    // Nothing marked anywhere since the last read: a zero bitmap, without walking the trie.
    m.ev('logdirty', 'paging_log_dirty_range', 'fault_count and dirty_count are 0: a zero bitmap, the trie not read');
    return { kind: 'bitmap', dirty: [] };
  }
  trie.dirtyCount = 0;
  trie.faultCount = 0;
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
  return { kind: 'bitmap', dirty };
}

/** p2m_change_type_range(rw → logdirty) over the VRAM range, then flush_tlb_mask (the enable and clean hooks). */
function rearm(m: Machine, d: Domain, begin: number, end: number, fn: string, what: string): void {
  d.p2m.changeTypeRange(begin, end, T.ram_rw, T.ram_logdirty);
  m.costs.add(Counter.p2mTypeChanges);
  if (m.sink.record) {
    m.ev('p2m-type-change', fn, `${hex(begin)}..${hex(end)} ${what}`);
  }
  m.flushDomainTlbs(d, 'flush_tlb_mask', `after ${fn}`);
}

/**
 * paging_log_dirty_disable with the VRAM hooks installed (a range change, `nr = 0`, or migration
 * taking over): the domain paused, hap_disable_vram_tracking (log-dirty mode off, the range back to
 * ram_rw, a flush), the trie freed. The range is forgotten by the caller's choice.
 */
export function vram2009Disable(m: Machine, d: Domain): void {
  const r = d.vram2009;
  if (!r) {
    return;
  }
  m.pauseDomain(d);
  d.p2m.changeTypeRange(r.begin, r.end, T.ram_logdirty, T.ram_rw);
  m.costs.add(Counter.p2mTypeChanges);
  if (m.sink.record) {
    m.ev('p2m-type-change', 'hap_disable_vram_tracking', `${hex(r.begin)}..${hex(r.end)} ram_logdirty → ram_rw`);
  }
  m.flushDomainTlbs(d, 'flush_tlb_mask', 'after hap_disable_vram_tracking');
  d.vram2009 = null;
  if (!d.logdirty) {
    d.trie = null;
  }
}

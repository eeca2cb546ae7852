/**
 * The 2012 multiple-framebuffer design (Robert Phillips, dirty_vram.c; committed as bae850f060 and
 * reverted the same day; seeds/003): several ranges at once, each answering all on its first peek.
 * HAP: the p2m type per range (hap_clean_vram_tracking_range: test-and-rearm each page).
 * Shadow: every shadow PTE that maps a range page is linked to it (several per page); a new range is
 * found by one scan of all shadow PTEs, then kept by "dead reckoning" through shadow_set_l1e; D bits
 * of PTEs that go away are kept; ranges outlive the abandoned page tables of exited processes.
 * With `clear-whole-leaf`, HAP reads the bits through the log-dirty trie as the older code did, and
 * clearing a whole 32768-pfn leaf forgets the other ranges' bits in it.
 */
import { Counter } from '../costs';
import type { Machine } from '../machine';
import { hex } from '../machine';
import { T } from '../p2m';
import { D, P } from '../pte';
import { LogDirtyTrie } from '../logdirty';
import { MultiRange, type Domain, type Framebuffer } from '../state';
import type { TrackerAnswer } from './types';
import { lfbIndex, multiLink } from './hooks';
import { logDirtyRange } from './p2mType';

export function multiFbPeek(m: Machine, d: Domain, fb: Framebuffer): TrackerAnswer {
  const begin = fb.gfn;
  const end = fb.gfn + fb.pages;
  let r = d.multi.get(fb.name);
  if (r && (r.begin !== begin || r.end !== end)) {
    // A resized framebuffer is a new range (dirty_vram_range_find fails; _alloc frees what overlaps).
    d.multi.delete(fb.name);
    r = undefined;
  }
  if (!r) {
    r = new MultiRange(fb.name, begin, end);
    d.multi.set(fb.name, r);
    if (d.paging === 'hap') {
      if (!d.logdirty && !d.multiLogdirty) {
        // paging_log_dirty_enable: the one pause of a new range, when log-dirty mode is still off.
        m.pauseDomain(d);
        d.multiLogdirty = true;
      }
      if (d.pml && !d.pmlEnabled) {
        m.enablePml(d);
      }
      if (m.bugs.has('clear-whole-leaf') && !d.trie) {
        d.trie = new LogDirtyTrie();
      }
      d.p2m.changeTypeRange(begin, end, T.ram_rw, T.ram_logdirty);
      m.costs.add(Counter.p2mTypeChanges);
      m.ev('p2m-type-change', 'p2m_change_type_range', `new range '${fb.name}' ${hex(begin)}..${hex(end)} ram_rw → ram_logdirty`);
      m.flushDomainTlbs(d, 'ept_sync_domain', 'INVEPT after arming the range');
    } else {
      // One scan of every shadow L1 for PTEs mapping the new range.
      let found = 0;
      for (const t of d.shTables.values()) {
        if (t.level !== 1) {
          continue;
        }
        for (let slot = 0; slot < 512; slot++) {
          if (!(t.f[slot] & P)) {
            continue;
          }
          m.costs.add(Counter.pteScans);
          const i = lfbIndex(m, d, t.e[slot], begin, end, fb.name);
          if (i >= 0) {
            multiLink(r, i, t.smfn * 512 + slot);
            // D bits from before tracking are consumed by this first, all-dirty answer.
            t.f[slot] &= ~D;
            found++;
          }
        }
      }
      m.ev('peek', 'dirty_vram_range_alloc', `new range '${fb.name}': ${found} shadow PTE(s) link to it`);
      m.flushDomainTlbs(d, 'flush_tlb_mask', 'after clearing D in the new range');
    }
    return { kind: 'all' };
  }
  return d.paging === 'hap' ? hapPeek(m, d, fb, r) : shadowPeek(m, d, fb, r);
}

function hapPeek(m: Machine, d: Domain, fb: Framebuffer, r: MultiRange): TrackerAnswer {
  m.pauseDomain(d);
  if (d.pmlEnabled) {
    if (m.bugs.has('no-pml-drain')) {
      m.ev('pml-drain', 'hap_clean_vram_tracking_range', 'PML drain skipped (inject no-pml-drain)');
    } else {
      m.drainAllPml(d);
    }
  }
  const dirty: number[] = [];
  if (m.bugs.has('clear-whole-leaf') && d.trie) {
    const trie = d.trie;
    for (let i = 0; i < fb.pages; i++) {
      m.costs.add(Counter.pteScans);
      if (trie.test(r.begin + i)) {
        dirty.push(i);
      }
    }
    const cleared = trie.clearLeaves(r.begin, r.end);
    const victims = new Map<string, number[]>();
    for (const g of cleared) {
      if (g >= r.begin && g < r.end) {
        continue;
      }
      for (const o of d.multi.values()) {
        if (o !== r && g >= o.begin && g < o.end) {
          const l = victims.get(o.fb) ?? [];
          l.push(g - o.begin);
          victims.set(o.fb, l);
        }
      }
    }
    for (const [name, pages] of victims) {
      m.violation('clear-scope', `reading '${fb.name}' cleared the whole log-dirty leaf, wiping ${pages.length} unread bit(s) of '${name}': ${pages.slice(0, 16).join(',')}`, { fb: name, pages });
    }
    if (d.logdirty && cleared.length > 0) {
      // The trie is migration's log too: every bit the clear took, the migration had not read.
      m.violation('clear-scope', `reading '${fb.name}' cleared the whole log-dirty leaf, wiping ${cleared.length} bit(s) the migration had not read: gfns ${cleared.slice(0, 16).map(hex).join(',')}`, { gfn: cleared[0] });
    }
    d.p2m.changeTypeRange(r.begin, r.end, T.ram_rw, T.ram_logdirty);
    m.costs.add(Counter.p2mTypeChanges);
    if (m.bugs.has('skip-flush')) {
      m.ev('flush-skipped', 'hap_clean_vram_tracking_range', 'INVEPT owed but skipped (inject skip-flush)', { dom: d.name });
    } else {
      m.flushDomainTlbs(d, 'ept_sync_domain', 'INVEPT after re-arming the range');
    }
    return { kind: 'bitmap', dirty };
  }
  // paging_log_dirty_range (bae850f060): nothing was marked in the range since the last peek
  // (range->dirty_count is 0): no scan, no flush, a clean answer. Else the scan, and the flush
  // whatever it re-armed.
  if (r.dirtyCount === 0) {
    if (m.sink.record) {
      m.ev('peek', 'paging_log_dirty_range', `range '${fb.name}': dirty_count 0, no scan`);
    }
    return { kind: 'bitmap', dirty: [] };
  }
  r.dirtyCount = 0;
  return { kind: 'bitmap', dirty: logDirtyRange(m, d, fb, r.begin, 'paging_log_dirty_range', 'paging_log_dirty_range', true) };
}

function shadowPeek(m: Machine, d: Domain, fb: Framebuffer, r: MultiRange): TrackerAnswer {
  // shadow_scan_dirty_flags: a stuck page is dirty without a look at its entries.
  const dirty = new Set<number>(r.stuck);
  let flush = false;
  for (const [i, list] of [...r.links].sort((a, b) => a[0] - b[0])) {
    if (r.stuck.has(i)) {
      continue;
    }
    for (const a of list) {
      const t = d.shTables.get(Math.floor(a / 512));
      if (!t) {
        continue;
      }
      const slot = a % 512;
      m.costs.add(Counter.pteScans);
      if (t.f[slot] & D) {
        dirty.add(i);
        m.clearShadowD(d, t, slot);
        flush = true;
      }
    }
  }
  if (flush) {
    if (m.bugs.has('skip-flush')) {
      m.ev('flush-skipped', 'dirty_vram_range_update', 'flush owed after clearing D but skipped (inject skip-flush)', { dom: d.name });
    } else {
      m.flushDomainTlbs(d, 'flush_tlb_mask', 'after clearing D (multi-fb)');
    }
  }
  return { kind: 'bitmap', dirty: [...dirty].filter((p) => p < fb.pages).sort((a, b) => a - b) };
}

/**
 * track_dirty_vram with nr = 0 (bae850f060, both paging modes): dirty_vram_free — every range of the
 * domain goes, whichever framebuffer the call names (the call carries no range), so each
 * framebuffer's next peek is a new range answering `all`. Under HAP the pages keep their p2m types:
 * nothing changes them back to ram_rw and nothing is flushed, so a page still ram_logdirty takes
 * one EPT violation at its next write, as before.
 */
export function multiFbUntrack(m: Machine, d: Domain): void {
  if (d.multi.size === 0) {
    return;
  }
  const names = [...d.multi.keys()];
  d.multi.clear();
  if (m.sink.record) {
    m.ev('setup', 'dirty_vram_free', `every range freed: ${names.map((n) => `'${n}'`).join(', ')}${d.paging === 'hap' ? '; p2m types left as they are' : ''}`);
  }
}

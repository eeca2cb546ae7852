/**
 * HAP dirty-VRAM tracking as Xen has done it since 2012 (xen/arch/x86/mm/hap/hap.c:
 * hap_track_dirty_vram, p2m.c: p2m_log_dirty_range): the p2m type is the flag. Arming turns the
 * range ram_rw → ram_logdirty (lazily) and flushes; a write faults (or is logged by PML) and flips
 * the page back; a peek drains PML under pause, then tests and re-arms each page under the p2m
 * lock, then the EPT flush (INVEPT) at unlock. The first call and a range change answer all-dirty.
 */
import { Counter } from '../costs';
import type { Machine } from '../machine';
import { hex } from '../machine';
import { T } from '../p2m';
import { HapDirtyVram, type Domain, type Framebuffer } from '../state';
import type { TrackerAnswer } from './types';

export function hapTrackDirtyVram(m: Machine, d: Domain, fb: Framebuffer): TrackerAnswer {
  const begin = fb.gfn;
  const end = fb.gfn + fb.pages;
  const state = d.hapVram;
  if (!state || state.begin !== begin || state.end !== end) {
    // Range changed (always on the first call: the state starts as begin = end = 0).
    const old = state;
    d.hapVram = new HapDirtyVram(begin, end);
    d.trackedFb = fb.name;
    m.pauseDomain(d);
    if (d.pml) {
      // p2m_enable_hardware_log_dirty on every range change (ept_enable_pml).
      m.enablePml(d);
    }
    // Each p2m_change_type_range is one p2m-locked change: an INVEPT at its unlock when it marked
    // an entry. (guest_flush_tlb_mask after them flushes nothing under HAP on Intel.)
    if (old && old.end > old.begin) {
      const marked = d.p2m.changeTypeRangeNow(old.begin, old.end, T.ram_logdirty, T.ram_rw, m.backedIn(d));
      m.costs.add(Counter.p2mTypeChanges);
      if (m.sink.record) {
        m.ev('p2m-type-change', 'p2m_change_type_range', `${hex(old.begin)}..${hex(old.end)} ram_logdirty → ram_rw (lazy)`);
      }
      if (marked) {
        m.flushDomainTlbs(d, 'ept_sync_domain (p2m_unlock)', 'INVEPT after the old range went back to ram_rw');
      }
    }
    const marked = d.p2m.changeTypeRangeNow(begin, end, T.ram_rw, T.ram_logdirty, m.backedIn(d));
    m.costs.add(Counter.p2mTypeChanges);
    if (m.sink.record) {
      m.ev('p2m-type-change', 'p2m_change_type_range', end - begin > 1
        ? `${hex(begin)}..${hex(end)} ram_rw → ram_logdirty (lazy: entries marked for recalculation)`
        : `${hex(begin)} → the log-dirty rangeset only: a one-gfn range is not invalidated (change_type_range's invalidate_start < invalidate_end)`);
    }
    if (marked) {
      m.flushDomainTlbs(d, 'ept_sync_domain (p2m_unlock)', 'INVEPT after arming the range');
    }
    return { kind: 'all' };
  }
  m.pauseDomain(d);
  if (!m.bugs.has('no-pml-drain')) {
    if (d.pmlEnabled) {
      m.drainAllPml(d);
    }
  } else if (d.pmlEnabled) {
    if (m.sink.record) {
      m.ev('pml-drain', 'hap_track_dirty_vram', 'PML drain skipped (inject no-pml-drain)');
    }
  }
  return { kind: 'bitmap', dirty: logDirtyRange(m, d, fb, begin, 'p2m_log_dirty_range', 'p2m_unlock') };
}

/**
 * p2m_log_dirty_range: under the p2m lock, test-and-re-arm each page of [begin, begin + pages)
 * (`p2m_change_type_one` rw → logdirty succeeds only for a page written since it was armed), then
 * the EPT flush at unlock. Shared by today's tracker and the 2012 multi-range design.
 */
export function logDirtyRange(m: Machine, d: Domain, fb: Framebuffer, begin: number, fn: string, flushFn: string, flushAlways = false): number[] {
  const dirty: number[] = [];
  if (!m.bugs.has('contiguous-mfn')) {
    // Every page's own gfn: the whole range in one pass of the p2m.
    d.p2m.changeTypeEach(begin, begin + fb.pages, m.backedIn(d), T.ram_rw, T.ram_logdirty, dirty);
    if (m.sink.record) {
      for (const i of dirty) {
        m.ev('peek-page', fn, `page ${i} (gfn ${hex(begin + i)}) was ram_rw: dirty, re-armed`, { page: i, gfn: begin + i });
      }
    }
    return rangeDone(m, d, dirty, fb.pages, flushFn, flushAlways);
  }
  const base = m.backingMfn(d, begin);
  let scanned = 0;
  const backed = m.backedIn(d);
  // contiguous-mfn: page i is looked up as frame base + i, which with scattered frames is some other
  // page's (or none).
  for (let i = 0; i < fb.pages; i++) {
    let gfn = begin + i;
    const real = m.backingMfn(d, gfn);
    if (real !== base + i) {
      const g2 = m.m2p(d, base + i);
      m.violation('wrong-frame', `${fn} for page ${i} of '${fb.name}' used frame ${hex(base + i)} (gfn ${g2 >= 0 ? hex(g2) : 'none'}), but the page is backed by ${hex(real)}`, { fb: fb.name, pages: [i], gfn, mfn: base + i });
      if (g2 < 0) {
        continue;
      }
      gfn = g2;
    }
    scanned++;
    if (d.p2m.changeTypeOne(gfn, backed, T.ram_rw, T.ram_logdirty)) {
      dirty.push(i);
      if (m.sink.record) {
        m.ev('peek-page', fn, `page ${i} (gfn ${hex(gfn)}) was ram_rw: dirty, re-armed`, { page: i, gfn });
      }
    }
  }
  return rangeDone(m, d, dirty, scanned, flushFn, flushAlways);
}

/**
 * The end of p2m_log_dirty_range: the costs of `scanned` entries tested, then the flush at unlock
 * when an entry changed (`flushAlways`: whatever changed, as bae850f060's version does).
 */
function rangeDone(m: Machine, d: Domain, dirty: number[], scanned: number, flushFn: string, flushAlways: boolean): number[] {
  m.costs.add(Counter.pteScans, scanned);
  m.costs.add(Counter.p2mTypeChanges, dirty.length);
  if (dirty.length > 0 || flushAlways) {
    if (m.bugs.has('skip-flush')) {
      if (m.sink.record) {
        m.ev('flush-skipped', flushFn, 'INVEPT owed after re-arming but skipped (inject skip-flush)', { dom: d.name });
      }
    } else {
      m.flushDomainTlbs(d, `ept_flush (${flushFn})`, `INVEPT after re-arming ${dirty.length} page(s)`);
    }
  }
  return dirty;
}

/** `untrack`: free the state and put the range back to ram_rw. PML stays enabled. */
export function hapUntrack(m: Machine, d: Domain): void {
  const s = d.hapVram;
  if (s) {
    const marked = d.p2m.changeTypeRangeNow(s.begin, s.end, T.ram_logdirty, T.ram_rw, m.backedIn(d));
    m.costs.add(Counter.p2mTypeChanges);
    if (m.sink.record) {
      m.ev('p2m-type-change', 'p2m_change_type_range', `${hex(s.begin)}..${hex(s.end)} ram_logdirty → ram_rw (nr=0)`);
    }
    if (marked) {
      m.flushDomainTlbs(d, 'ept_sync_domain (p2m_unlock)', 'INVEPT after the range change');
    }
  }
  d.hapVram = null;
  d.trackedFb = null;
}

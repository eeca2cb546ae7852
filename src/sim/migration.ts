/**
 * Live-migration log-dirty mode (`logdirty dom=D enable|disable|peek|clean`): paging_log_dirty_op
 * with XEN_DOMCTL_SHADOW_OP_PEEK / _CLEAN, hap_enable_log_dirty / hap_clean_dirty_bitmap /
 * hap_disable_log_dirty under HAP, shadow_blow_tables under shadow. VRAM tracking by p2m type shares
 * the p2m types with it: a global re-arm re-arms VRAM pages the display has not read yet.
 */
import { Counter } from './costs';
import { vram2009Disable } from './trackers/logdirty2009';
import type { Machine } from './machine';
import { hex } from './machine';
import { T } from './p2m';
import { LogDirtyTrie } from './logdirty';
import type { Domain } from './state';
import type { LogdirtyRecord } from './report';

/** VRAM pages whose p2m type says "written, not yet read by the display" (p2m-type and multi-fb under HAP). */
function unreadVram(m: Machine, d: Domain): { fb: string; pages: number[] }[] {
  const out: { fb: string; pages: number[] }[] = [];
  const ranges: { fb: string; begin: number; end: number }[] = [];
  if (d.hapVram && d.trackedFb) {
    ranges.push({ fb: d.trackedFb, begin: d.hapVram.begin, end: d.hapVram.end });
  }
  for (const r of d.multi.values()) {
    ranges.push({ fb: r.fb, begin: r.begin, end: r.end });
  }
  for (const r of ranges) {
    const pages: number[] = [];
    for (let g = r.begin; g < r.end; g++) {
      if (d.p2m.type(g, m.backed(d, g)) === T.ram_rw) {
        pages.push(g - r.begin);
      }
    }
    if (pages.length) {
      out.push({ fb: r.fb, pages });
    }
  }
  return out;
}

/** The gfn ranges with frames behind them (RAM, then VRAM outside it): the global change's scope. */
function backedRanges(d: Domain): [number, number][] {
  return [d.ram, ...d.vram].map((b): [number, number] => [b.gfn, b.gfn + b.count]);
}

/** `clear-scope` for each framebuffer whose written, not yet read pages `why` re-arms. */
function unreadRearmed(m: Machine, d: Domain, why: string): void {
  for (const u of unreadVram(m, d)) {
    m.violation('clear-scope', `${why} re-armed ${u.pages.length} page(s) of '${u.fb}' that the display had not read yet: ${u.pages.slice(0, 16).join(',')}`, { fb: u.fb, pages: u.pages });
  }
}

function globalRearm(m: Machine, d: Domain, why: string): void {
  unreadRearmed(m, d, why);
  const marked = d.p2m.changeTypeGlobalNow(T.ram_rw, T.ram_logdirty, m.backedIn(d), backedRanges(d));
  m.costs.add(Counter.p2mTypeChanges);
  m.ev('p2m-type-change', 'p2m_change_entry_type_global', 'every ram_rw entry → ram_logdirty (lazy)');
  if (marked) {
    m.flushDomainTlbs(d, 'ept_sync_domain (p2m_unlock)', 'INVEPT after the global type change');
  }
}

/**
 * PEEK or CLEAN while only the 2009–2012 VRAM tracking has log-dirty mode on: paging_log_dirty_op
 * does not check who turned it on and reads the shared trie — the VRAM range's marks. CLEAN clears
 * every leaf and the counts, then runs the installed clean hook (hap_clean_vram_tracking: the VRAM
 * range re-armed), so the display's next read finds nothing: its bits went to the migration tool.
 */
function vram2009Op(m: Machine, d: Domain, action: 'peek' | 'clean'): LogdirtyRecord {
  const trie = d.trie!;
  const dirty = trie.dirty();
  m.ev('logdirty', 'paging_log_dirty_op', `${action === 'peek' ? 'PEEK' : 'CLEAN'} reads the trie VRAM tracking keeps: ${dirty.length} dirty pfn(s)`);
  if (action === 'clean') {
    const r = d.vram2009!;
    // The display's bits that CLEAN takes away before its next read: clear-scope.
    const unread = dirty.filter((g) => g >= r.begin && g < r.end).map((g) => g - r.begin);
    if (unread.length > 0 && d.trackedFb !== null) {
      m.violation('clear-scope', `log-dirty CLEAN cleared ${unread.length} bit(s) of '${d.trackedFb}' that its display had not read yet: ${unread.slice(0, 16).join(',')}`, { fb: d.trackedFb, pages: unread });
    }
    trie.clearAll();
    trie.dirtyCount = 0;
    trie.faultCount = 0;
    d.p2m.changeTypeRange(r.begin, r.end, T.ram_rw, T.ram_logdirty);
    m.costs.add(Counter.p2mTypeChanges);
    m.flushDomainTlbs(d, 'flush_tlb_mask', 'after hap_clean_vram_tracking (the clean hook VRAM tracking installed)');
  }
  return { line: m.sink.line, dom: d.name, op: action, dirty };
}

export function logdirtyOp(m: Machine, d: Domain, action: 'enable' | 'disable' | 'peek' | 'clean'): LogdirtyRecord | null {
  m.costs.add(Counter.hypercalls);
  switch (action) {
    case 'enable': {
      if (d.logdirty) {
        m.ev('logdirty', 'paging_log_dirty_enable', 'already enabled: -EINVAL');
        return null;
      }
      // paging_log_dirty_enable pauses the domain around the paging mode's enable, which is where
      // HAP refuses while p2m_ioreq_server entries are outstanding.
      m.pauseDomain(d);
      if (d.paging === 'hap' && d.p2m.ioreqEntries > 0) {
        m.ev('logdirty', 'hap_enable_log_dirty', 'p2m_ioreq_server entries outstanding: -EBUSY');
        return null;
      }
      if (d.vram2009) {
        // 2009–2012: VRAM tracking and migration shared the log-dirty machinery and were exclusive:
        // hap_logdirty_init first turns VRAM tracking off (paging_log_dirty_disable: a pause, the
        // range back to ram_rw, a flush, the trie freed).
        vram2009Disable(m, d);
        m.ev('logdirty', 'hap_logdirty_init', 'VRAM tracking stops while migration log-dirty is on');
      }
      d.vram2009Hooks = false;
      d.logdirty = true;
      d.trie = new LogDirtyTrie();
      if (d.paging === 'hap') {
        if (d.pml) {
          // hap_enable_log_dirty calls p2m_enable_hardware_log_dirty whether PML is on or not.
          m.enablePml(d);
        }
        globalRearm(m, d, 'enabling log-dirty mode');
      } else {
        m.blowTables(d);
        // shadow_one_bit_enable → sh_new_mode: each vCPU's paging-mode update reloads its CR3
        // (sh_update_cr3, which pins its top level again), which flushes its TLB
        // (hvm_update_guest_cr3 → hvm_asid_flush_vcpu), as on disable.
        m.reloadCr3s(d);
        m.flushDomainTlbs(d, 'sh_update_paging_modes (hvm_update_guest_cr3)', 'each vCPU\'s CR3 reloaded with the new paging mode');
      }
      m.ev('logdirty', d.paging === 'hap' ? 'hap_enable_log_dirty' : 'shadow_enable_log_dirty', 'log-dirty mode on');
      return null;
    }
    case 'disable': {
      // paging_log_dirty_disable pauses the domain around the paging mode's disable, and pauses
      // it whether log-dirty mode is on or not.
      m.pauseDomain(d);
      // (multi-fb's first range had turned log-dirty mode on: this turns it off.)
      d.multiLogdirty = false;
      if (!d.logdirty) {
        return null;
      }
      d.logdirty = false;
      d.trie = null;
      if (d.paging === 'hap') {
        if (d.pmlEnabled) {
          m.disablePml(d);
        }
        // The VRAM ranges stay in the log-dirty rangeset, so their entries recalculate back to
        // ram_logdirty: pages written since the display last read them are re-armed unread.
        unreadRearmed(m, d, 'disabling log-dirty mode');
        const marked = d.p2m.changeTypeGlobalNow(T.ram_logdirty, T.ram_rw, m.backedIn(d), backedRanges(d));
        m.costs.add(Counter.p2mTypeChanges);
        m.ev('p2m-type-change', 'hap_disable_log_dirty', 'every ram_logdirty entry → ram_rw (lazy; VRAM ranges stay log-dirty through the rangeset)');
        if (marked) {
          m.flushDomainTlbs(d, 'ept_sync_domain (p2m_unlock)', 'INVEPT after the global type change');
        }
      } else {
        // sh_disable_log_dirty → shadow_one_bit_disable → sh_new_mode: the shadows stay (entries
        // left read-only fault once more and come back writable); each vCPU's paging-mode update
        // reloads its CR3, which flushes its TLB (hvm_update_guest_cr3 → hvm_asid_flush_vcpu).
        m.reloadCr3s(d);
        m.flushDomainTlbs(d, 'sh_update_paging_modes (hvm_update_guest_cr3)', 'each vCPU\'s CR3 reloaded with the new paging mode');
      }
      return null;
    }
    case 'peek':
    case 'clean': {
      // paging_log_dirty_op does not check the mode: it pauses and drains PML either way.
      m.pauseDomain(d);
      if (d.pmlEnabled) {
        m.drainAllPml(d);
      }
      if (!d.logdirty && d.vram2009 && d.trie) {
        return vram2009Op(m, d, action);
      }
      if (!d.logdirty || !d.trie) {
        // No trie: an all-clear bitmap. CLEAN still calls the paging mode's clean hook, which
        // re-arms every page (HAP) or blows the shadows, with log-dirty mode still off.
        m.ev('logdirty', 'paging_log_dirty_op', `log-dirty mode is off: ${action === 'peek' ? 'PEEK' : 'CLEAN'} finds no dirty pfn`);
        if (action === 'clean') {
          if (d.vram2009Hooks) {
            // The clean hook is still VRAM tracking's (hap_clean_vram_tracking), which does nothing
            // once `untrack` freed its range.
            m.ev('logdirty', 'hap_clean_vram_tracking', 'no VRAM range: nothing re-armed');
          } else if (d.paging === 'hap') {
            globalRearm(m, d, 'log-dirty CLEAN with log-dirty mode off (hap_clean_dirty_bitmap)');
          } else {
            m.blowTables(d);
          }
        }
        return { line: m.sink.line, dom: d.name, op: action, dirty: [] };
      }
      const dirty = d.trie.dirty();
      m.ev('logdirty', 'paging_log_dirty_op', `${action === 'peek' ? 'PEEK' : 'CLEAN'}: ${dirty.length} dirty pfn(s)${dirty.length ? ': ' + dirty.slice(0, 8).map(hex).join(',') : ''}`);
      if (action === 'clean') {
        d.trie.clearAll();
        d.trie.dirtyCount = 0;
        d.trie.faultCount = 0;
        if (d.paging === 'hap') {
          globalRearm(m, d, 'log-dirty CLEAN (hap_clean_dirty_bitmap)');
        } else {
          m.ev('logdirty', 'sh_clean_dirty_bitmap', 'shadow_blow_tables ("heavy-handed")');
          m.blowTables(d);
        }
      }
      return { line: m.sink.line, dom: d.name, op: action, dirty };
    }
  }
}

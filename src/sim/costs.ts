/**
 * Cost counters and the cost table. Each counter is a running total; the table prices each in CPU
 * cycles. `guestCycles` is what the guest loses (exits, faults, emulations, TLB refills);
 * `dom0Cycles` what the device model and the hypercalls it makes spend (comparisons, copies, scans,
 * type changes, the flushes it issues). Defaults and their sources are in docs/costs.md.
 */
import { COUNTERS, type CounterName } from './program';
import type { CostTotals } from './report';

export type CostTable = Record<CounterName, number>;

/**
 * Defaults, in cycles. Sources (see docs/costs.md for the reasoning):
 * - vmexits: a VMX exit + entry round trip with minimal handling, ~1,200 cycles on Skylake-class
 *   cores (the figure commonly measured with a cpuid loop; Agesen et al., USENIX ATC 2012, report
 *   exit latencies of the same order on earlier parts).
 * - eptViolations / shadowFaults: the handler on top of the exit: a p2m lookup and type change
 *   (~1,000) / a guest walk, propagation and shadow_set_l1e (~3,000), from the length of those
 *   paths in Xen (hvm_hap_nested_page_fault, sh_page_fault).
 * - ptEmulations: x86_emulate of one PTE write plus sh_validate_guest_entry, ~4,000.
 * - hypercalls: a dm_op round trip from dom0 (privcmd ioctl, hypercall entry/exit, copy of the
 *   arguments), ~2,000.
 * - pteScans: reading one shadow or EPT entry, including the map_domain_page amortised, ~20.
 * - p2mTypeChanges: p2m_change_type_one under the p2m lock, ~150.
 * - tlbFlushes: a flush IPI to the domain's dirty CPUs plus the ASID/VPID bump, ~2,000; the refills
 *   it causes are counted separately.
 * - tlbRefills: a 4-level page walk after a miss, ~100 (2-D EPT walks cost more; one figure for both).
 * - pmlDrains: entering the PML flush path, ~500 (each logged gfn is a p2mTypeChange).
 * - bytesCompared / bytesCopied: measured on this machine (memcmp 12 bytes/ns and memcpy 9 bytes/ns
 *   over 64 MiB buffers at 2.6 GHz: 0.21 and 0.28 cycles per byte), rounded up.
 * - rangesetNodesVisited: one linked-list node or tree node visited, a likely cache miss, ~10.
 */
export const DEFAULT_COSTS: CostTable = {
  vmexits: 1200,
  eptViolations: 1000,
  shadowFaults: 3000,
  ptEmulations: 4000,
  hypercalls: 2000,
  pteScans: 20,
  p2mTypeChanges: 150,
  tlbFlushes: 2000,
  tlbRefills: 100,
  pmlDrains: 500,
  bytesCompared: 0.25,
  bytesCopied: 0.3,
  rangesetNodesVisited: 10,
};

/** Counter ids, in the order of COUNTERS (the store path adds by number, not by name). */
export const enum Counter {
  vmexits, eptViolations, shadowFaults, ptEmulations, hypercalls, pteScans, p2mTypeChanges,
  tlbFlushes, tlbRefills, pmlDrains, bytesCompared, bytesCopied, rangesetNodesVisited,
}

/**
 * Counters the guest always pays for (exits, faults, emulations, refills). The others are paid by
 * whoever caused the work: the guest when it happens on the guest's behalf (inside a fault's
 * handling, the guest's own page-table stores, the hypervisor's own flushes and reclaims — see
 * `Machine.onGuest`), else dom0 (the device model and the hypercalls it makes).
 */
const GUEST_SIDE: Readonly<Record<CounterName, boolean>> = {
  vmexits: true, eptViolations: true, shadowFaults: true, ptEmulations: true, tlbRefills: true,
  hypercalls: false, pteScans: false, p2mTypeChanges: false, tlbFlushes: false, pmlDrains: false,
  bytesCompared: false, bytesCopied: false, rangesetNodesVisited: false,
};
const GUEST = Uint8Array.from(COUNTERS, (c) => (GUEST_SIDE[c] ? 1 : 0));

export class Costs {
  /** Running totals, by Counter. */
  private n = new Float64Array(COUNTERS.length);
  /** Cycles per event, by Counter. */
  private price = Float64Array.from(COUNTERS, (c) => DEFAULT_COSTS[c]);
  /** Cycles accumulated so far per side (prices can change mid-trace with `costs`). */
  guestCycles = 0;
  dom0Cycles = 0;
  /**
   * Above 0 while the model handles something on the guest's behalf (an access's faults and exits,
   * the guest's own page-table stores, ...): every counter added meanwhile is the guest's. Nested
   * contexts count up; `Machine.onGuest` keeps it balanced.
   */
  guestDepth = 0;
  add(c: Counter, k = 1): void {
    this.n[c] += k;
    const cycles = k * this.price[c];
    if (GUEST[c] === 1 || this.guestDepth > 0) {
      this.guestCycles += cycles;
    } else {
      this.dom0Cycles += cycles;
    }
  }
  /** The totals by counter name. */
  get counts(): Record<CounterName, number> {
    return Object.fromEntries(COUNTERS.map((c, i) => [c, this.n[i]])) as Record<CounterName, number>;
  }
  /** The current prices by counter name (a copy). */
  get table(): CostTable {
    return Object.fromEntries(COUNTERS.map((c, i) => [c, this.price[i]])) as CostTable;
  }
  /** Change one price (a `costs` statement, or the user's settings); false for an unknown counter. */
  setPrice(name: string, cycles: number): boolean {
    const i = (COUNTERS as readonly string[]).indexOf(name);
    if (i < 0) {
      return false;
    }
    this.price[i] = cycles;
    return true;
  }
  totals(): CostTotals {
    const t = this.counts as CostTotals;
    t.guestCycles = Math.round(this.guestCycles);
    t.dom0Cycles = Math.round(this.dom0Cycles);
    t.cycles = t.guestCycles + t.dom0Cycles;
    return t;
  }
}

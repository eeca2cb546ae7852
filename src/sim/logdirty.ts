/**
 * Paging log-dirty mode (live migration): Xen's sparse 4-level trie (xen/arch/x86/mm/paging.c).
 * Interior nodes are pages of 512 entries; leaves are 4 KiB bitmaps of 32768 pfns. Nodes are
 * allocated only when marking a page dirty; missing subtrees read as zeros; dirty_count changes
 * only on a 0 → 1 transition and is reset only by CLEAN.
 */
import type { Hasher } from './util';

export const LEAF_PFNS = 32768;

export class LogDirtyTrie {
  /** Leaves by leaf number (pfn >> 15); the interior nodes are implied by which leaves exist. */
  leaves = new Map<number, Uint8Array>();
  /** Interior nodes allocated so far, by level-qualified index (L4 root = "4:0"). */
  nodes = new Set<string>();
  allocs = 0;
  dirtyCount = 0;
  faultCount = 0;

  /** set_pfn_logdirty(d, pfn, 1): returns true on a 0 → 1 transition. */
  mark(pfn: number): boolean {
    const leafNo = Math.floor(pfn / LEAF_PFNS);
    let leaf = this.leaves.get(leafNo);
    if (!leaf) {
      for (const key of [`4:0`, `3:${Math.floor(pfn / 2 ** 33)}`, `2:${Math.floor(pfn / 2 ** 24)}`]) {
        if (!this.nodes.has(key)) {
          this.nodes.add(key);
          this.allocs++;
        }
      }
      leaf = new Uint8Array(LEAF_PFNS / 8);
      this.leaves.set(leafNo, leaf);
      this.allocs++;
    }
    const bit = pfn % LEAF_PFNS;
    const mask = 1 << (bit & 7);
    if (leaf[bit >> 3] & mask) {
      return false;
    }
    leaf[bit >> 3] |= mask;
    this.dirtyCount++;
    return true;
  }
  test(pfn: number): boolean {
    const leaf = this.leaves.get(Math.floor(pfn / LEAF_PFNS));
    if (!leaf) {
      return false;
    }
    const bit = pfn % LEAF_PFNS;
    return (leaf[bit >> 3] & (1 << (bit & 7))) !== 0;
  }
  /** Every dirty pfn, in pfn order (the PEEK/CLEAN walk, L4 → L1). */
  dirty(): number[] {
    const out: number[] = [];
    for (const no of [...this.leaves.keys()].sort((a, b) => a - b)) {
      const leaf = this.leaves.get(no)!;
      for (let i = 0; i < leaf.length; i++) {
        if (leaf[i]) {
          for (let b = 0; b < 8; b++) {
            if (leaf[i] & (1 << b)) {
              out.push(no * LEAF_PFNS + i * 8 + b);
            }
          }
        }
      }
    }
    return out;
  }
  /** Dirty pfns in [s, e). */
  range(s: number, e: number): number[] {
    const out: number[] = [];
    for (let p = s; p < e; p++) {
      if (this.test(p)) {
        out.push(p);
      }
    }
    return out;
  }
  /** clear_page on every leaf: CLEAN. Counters are reset by the caller. */
  clearAll(): void {
    for (const leaf of this.leaves.values()) {
      leaf.fill(0);
    }
  }
  /** clear_page(l1) on the leaves covering [s, e): the 2009 VRAM read (whole 32768-pfn leaves). */
  clearLeaves(s: number, e: number): number[] {
    const cleared: number[] = [];
    for (let no = Math.floor(s / LEAF_PFNS); no <= Math.floor((e - 1) / LEAF_PFNS); no++) {
      const leaf = this.leaves.get(no);
      if (leaf) {
        for (let i = 0; i < leaf.length; i++) {
          if (leaf[i]) {
            for (let b = 0; b < 8; b++) {
              if (leaf[i] & (1 << b)) {
                cleared.push(no * LEAF_PFNS + i * 8 + b);
              }
            }
          }
        }
        leaf.fill(0);
      }
    }
    return cleared;
  }
  hashInto(h: Hasher): void {
    for (const no of [...this.leaves.keys()].sort((a, b) => a - b)) {
      h.num(no);
      h.bytes(this.leaves.get(no)!);
    }
    h.num(this.dirtyCount);
    h.num(this.allocs);
  }
}

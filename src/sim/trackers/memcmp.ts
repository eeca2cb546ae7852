/**
 * qemu-dm before 2008: keep a copy of the framebuffer and compare it page by page with guest memory
 * on every refresh; no hypercall. The first peek (and the first after a mode change) answers all;
 * later ones answer exactly the pages that differ from the copy.
 *
 * qemu-dm's `vga_draw_graphic` (tools/ioemu/hw/vga.c before 4fe64c6d1b) ran `vram_dirty` on every
 * page of VRAM at every refresh, whatever it then drew: with SSE2 (the default build) it compared
 * 16-byte blocks until the first that differed and copied the page from that block to its end into
 * its copy, `vram_shadow` (allocated once, zero-filled, kept across mode changes). So after each call
 * the copy equals guest memory: the model keeps it as the page-store position of the last call, and
 * charges what the comparisons and copies really touched.
 */
import { Counter } from '../costs';
import type { Machine } from '../machine';
import { PAGE_SIZE, ZERO_PAGE } from '../pages';
import type { Domain, Framebuffer, FbOracle } from '../state';
import type { TrackerAnswer } from './types';

/** `vram_dirty`'s unit: one SSE2 register. */
const BLOCK = 16;

export function memcmpPeek(m: Machine, d: Domain, fb: Framebuffer, o: FbOracle): TrackerAnswer {
  const now = m.pages.position;
  const at = o.memcmpAt;
  const all = at < 0 || o.memcmpRedraw;
  const dirty: number[] = [];
  let compared = 0;
  let copied = 0;
  for (let i = 0; i < fb.pages; i++) {
    const x = firstDifference(m, m.backingMfn(d, fb.gfn + i), at);
    if (x < 0) {
      compared += PAGE_SIZE;
      continue;
    }
    const block = Math.floor(x / BLOCK);
    compared += (block + 1) * BLOCK;
    copied += PAGE_SIZE - block * BLOCK;
    dirty.push(i);
    if (m.sink.record && !all) {
      m.ev('peek-page', 'memcmp', `page ${i} differs from the copy at byte ${x}`, { page: i });
    }
  }
  m.costs.add(Counter.bytesCompared, compared);
  m.costs.add(Counter.bytesCopied, copied);
  o.memcmpAt = now;
  o.memcmpRedraw = false;
  if (all) {
    m.ev('peek', 'qemu-dm vga_update_display', `${at < 0 ? 'first refresh' : 'after a mode change (or untrack)'}: full update of all ${fb.pages} pages (${dirty.length} differed from the copy)`);
    return { kind: 'all' };
  }
  return { kind: 'bitmap', dirty };
}

/**
 * The first byte at which frame mfn now differs from its bytes at page-store position `at` (at < 0:
 * from zeros, qemu-dm's fresh copy); -1 when it does not.
 */
function firstDifference(m: Machine, mfn: number, at: number): number {
  const cur = m.pages.read(mfn);
  if (at < 0) {
    return cur === ZERO_PAGE ? -1 : cur.findIndex((b) => b !== 0);
  }
  if (!m.pages.changedSince(mfn, at)) {
    return -1;
  }
  const then = m.pages.bytesAt(mfn, at);
  for (let x = 0; x < PAGE_SIZE; x++) {
    if (cur[x] !== then[x]) {
      return x;
    }
  }
  return -1;
}

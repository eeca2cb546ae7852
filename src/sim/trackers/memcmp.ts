/**
 * qemu-dm before 2008: keep a copy of the framebuffer and compare it page by page with guest memory
 * on every refresh; no hypercall. The first peek answers all and takes the copy; later ones answer
 * exactly the pages that differ, and update the copy of those. (The model keeps the copy as the
 * page-store position it was taken at; the cost counters charge what qemu-dm's memcmp and memcpy did.)
 */
import { Counter } from '../costs';
import type { Machine } from '../machine';
import { PAGE_SIZE } from '../pages';
import type { Domain, Framebuffer, FbOracle } from '../state';
import type { TrackerAnswer } from './types';

export function memcmpPeek(m: Machine, d: Domain, fb: Framebuffer, o: FbOracle): TrackerAnswer {
  const now = m.pages.position;
  if (!o.memcmpCopy) {
    o.memcmpCopy = new Map();
    o.memcmpAll = now;
    m.costs.add(Counter.bytesCopied, fb.pages * PAGE_SIZE);
    m.ev('peek', 'qemu-dm vga_update_display', `first refresh: copy all ${fb.pages} pages`);
    return { kind: 'all' };
  }
  const dirty: number[] = [];
  const copy = o.memcmpCopy;
  for (let i = 0; i < fb.pages; i++) {
    const mfn = m.backingMfn(d, fb.gfn + i);
    if (m.pages.changedSince(mfn, copy.get(i) ?? o.memcmpAll)) {
      dirty.push(i);
      copy.set(i, now);
      if (m.sink.record) {
        m.ev('peek-page', 'memcmp', `page ${i} differs from the copy`, { page: i });
      }
    }
  }
  m.costs.add(Counter.bytesCompared, fb.pages * PAGE_SIZE);
  m.costs.add(Counter.bytesCopied, dirty.length * PAGE_SIZE);
  return { kind: 'bitmap', dirty };
}

/**
 * qemu-dm before 2008: keep a copy of the framebuffer and compare it page by page with guest memory
 * on every refresh; no hypercall. The first peek answers all and takes the copy; later ones answer
 * exactly the pages that differ, and update the copy of those.
 */
import type { Machine } from '../machine';
import { PAGE_SIZE, samePage } from '../pages';
import type { Domain, Framebuffer, FbOracle } from '../state';
import type { TrackerAnswer } from './types';

export function memcmpPeek(m: Machine, d: Domain, fb: Framebuffer, o: FbOracle): TrackerAnswer {
  if (!o.memcmpCopy) {
    const copy = new Map();
    for (let i = 0; i < fb.pages; i++) {
      const mfn = m.backingMfn(d, fb.gfn + i);
      copy.set(i, m.pages.share(mfn));
    }
    m.costs.add('bytesCopied', fb.pages * PAGE_SIZE);
    o.memcmpCopy = copy;
    m.ev('peek', 'qemu-dm vga_update_display', `first refresh: copy all ${fb.pages} pages`);
    return { kind: 'all' };
  }
  const dirty: number[] = [];
  for (let i = 0; i < fb.pages; i++) {
    const mfn = m.backingMfn(d, fb.gfn + i);
    const cur = m.pages.get(mfn);
    m.costs.add('bytesCompared', PAGE_SIZE);
    if (!samePage(o.memcmpCopy.get(i), cur)) {
      dirty.push(i);
      o.memcmpCopy.set(i, m.pages.share(mfn));
      m.costs.add('bytesCopied', PAGE_SIZE);
      m.ev('peek-page', 'memcmp', `page ${i} differs from the copy`, { page: i });
    }
  }
  return { kind: 'bitmap', dirty };
}

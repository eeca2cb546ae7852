/**
 * QEMU's display side for one framebuffer (hw/display/vga.c: vga_draw_graphic, and the Xen glue
 * hw/i386/xen/xen-hvm.c: xen_sync_dirty_bitmap): Xen's answers are imported into the
 * DIRTY_MEMORY_VGA bitmap; a refresh snapshots-and-clears it (since 2017; before, it read the bits
 * per scanline and reset them after drawing), walks the scanlines, and copies each line that
 * touches a dirty page to the screen surface. The surface is real bytes, kept in the page store.
 */
import { Counter } from '../costs';
import type { Machine } from '../machine';
import { PAGE_SIZE } from '../pages';
import type { Domain, Framebuffer, FbOracle } from '../state';
import type { TrackerAnswer } from '../trackers/types';
import { DIRTY_MEMORY_VGA, type DirtySnapshot } from './dirty';

/** xen_sync_dirty_bitmap: each set bit → memory_region_set_dirty; -ENODATA → the whole framebuffer. */
export function importAnswer(o: FbOracle, fb: Framebuffer, ans: TrackerAnswer): void {
  if (ans.kind === 'bitmap') {
    const bits = new Uint8Array(Math.ceil(fb.pages / 8));
    for (const p of ans.dirty) {
      if (p < fb.pages) {
        bits[p >> 3] |= 1 << (p & 7);
      }
    }
    o.qemu.importBitmap(0, bits, fb.pages, DIRTY_MEMORY_VGA);
  } else {
    o.qemu.setRange(0, fb.pages, 1 << DIRTY_MEMORY_VGA);
  }
}

/** Pages that hold visible pixels. */
export function visiblePages(fb: Framebuffer): number {
  return Math.min(fb.pages, Math.ceil((fb.width * 4 * fb.height) / PAGE_SIZE));
}

/**
 * The scanline loop. `snap` is the snapshot (fixed QEMU) or null to read the live bitmap per line
 * (pre-2017). Returns the pages whose lines were drawn.
 */
export function drawScanlines(m: Machine, d: Domain, fb: Framebuffer, o: FbOracle, snap: DirtySnapshot | null): number[] {
  const linesize = fb.width * 4;
  const drawnPages = new Set<number>();
  let updates = 0;
  let inRun = false;
  for (let y = 0; y < fb.height; y++) {
    const addr = y * linesize;
    const page0 = Math.floor(addr / PAGE_SIZE);
    const page1 = Math.floor((addr + linesize - 1) / PAGE_SIZE);
    const n = page1 - page0 + 1;
    const update = snap ? snap.anyDirty(page0, n) : o.qemu.anyDirty(page0, n, DIRTY_MEMORY_VGA);
    if (!update) {
      inRun = false;
      continue;
    }
    if (!inRun) {
      updates++;
      inRun = true;
    }
    // Copy the line from guest memory to the surface, page piece by page piece.
    let done = 0;
    while (done < linesize) {
      const a = addr + done;
      const p = Math.floor(a / PAGE_SIZE);
      const off = a % PAGE_SIZE;
      const len = Math.min(linesize - done, PAGE_SIZE - off);
      const src = m.pages.read(m.backingMfn(d, fb.gfn + p)).subarray(off, off + len);
      m.pages.write(o.screenMfn + p, off, len, src);
      drawnPages.add(p);
      o.screenSuspect.add(p);
      done += len;
    }
    m.costs.add(Counter.bytesCopied, linesize);
  }
  const pages = [...drawnPages].sort((a, b) => a - b);
  for (const p of pages) {
    o.told.delete(p);
  }
  if (m.sink.record) {
    m.ev('refresh', 'vga_draw_graphic', `${updates} dpy_gfx_update region(s), ${pages.length} page(s) redrawn`, { fb: fb.name });
  }
  return pages;
}

/** Visible pages where the screen differs from guest memory; lost ones (told, then forgotten) are flagged. */
export function staleAfterRefresh(m: Machine, d: Domain, fb: Framebuffer, o: FbOracle): number[] {
  const visible = visiblePages(fb);
  const stale: number[] = [];
  for (const p of o.screenSuspect.toArray()) {
    if (p >= visible) {
      o.screenSuspect.delete(p);
      continue;
    }
    const g = m.pages.read(m.backingMfn(d, fb.gfn + p));
    const s = m.pages.read(o.screenMfn + p);
    if (Buffer.compare(g, s) !== 0) {
      stale.push(p);
    } else {
      o.screenSuspect.delete(p);
    }
  }
  const lost = stale.filter((p) => o.told.has(p) && !o.qemu.get(p, DIRTY_MEMORY_VGA));
  if (lost.length > 0) {
    m.violation('lost-update', `refresh of '${fb.name}' leaves ${lost.length} page(s) stale that the device model had been told about and no longer holds: ${lost.slice(0, 16).join(',')}`, { fb: fb.name, pages: lost });
  }
  return stale;
}

/** Does page p differ between guest memory and the screen right now? */
export function screenDiffers(m: Machine, d: Domain, fb: Framebuffer, o: FbOracle, p: number): boolean {
  if (!o.screenSuspect.has(p)) {
    return false;
  }
  return Buffer.compare(m.pages.read(m.backingMfn(d, fb.gfn + p)), m.pages.read(o.screenMfn + p)) !== 0;
}

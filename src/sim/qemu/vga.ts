/**
 * QEMU's display side for one framebuffer (hw/display/vga.c: vga_draw_graphic, and the Xen glue
 * hw/i386/xen/xen-hvm.c: xen_sync_dirty_bitmap): Xen's answers are imported into the
 * DIRTY_MEMORY_VGA bitmap; a refresh snapshots-and-clears it (since 2017; before, it read the bits
 * per scanline and reset them after drawing), walks the scanlines, and copies each line that
 * touches a dirty page to the screen surface. The surface is real bytes, kept in the page store.
 */
import { Counter } from '../costs';
import type { Machine } from '../machine';
import { hex } from '../machine';
import { PAGE_SIZE } from '../pages';
import type { Domain, Framebuffer, FbOracle } from '../state';
import type { TrackerAnswer } from '../trackers/types';
import { DIRTY_MEMORY_VGA, type DirtySnapshot } from './dirty';

/**
 * xen_sync_dirty_bitmap: each set bit → memory_region_set_dirty of that page (Xen's `all` is a
 * bitmap of ones); -ENODATA → one memory_region_set_dirty of the whole framebuffer. While the domain
 * migrates, each of those calls also reaches Xen (cpu_physical_memory_set_dirty_range →
 * xen_hvm_modified_memory → XEN_DMOP_modified_memory, a hypercall that marks the pfns dirty in the
 * log-dirty trie).
 */
export function importAnswer(m: Machine, d: Domain, o: FbOracle, fb: Framebuffer, ans: TrackerAnswer): void {
  if (ans.kind === 'enodata') {
    o.qemu.setRange(0, fb.pages, 1 << DIRTY_MEMORY_VGA);
    if (d.logdirty) {
      modifiedMemory(m, d, fb.gfn, fb.pages);
    }
    return;
  }
  const bits = new Uint8Array(Math.ceil(fb.pages / 8));
  const dirty = ans.kind === 'bitmap' ? ans.dirty : null;
  for (let k = 0, n = dirty ? dirty.length : fb.pages; k < n; k++) {
    const p = dirty ? dirty[k] : k;
    if (p < fb.pages) {
      bits[p >> 3] |= 1 << (p & 7);
      if (d.logdirty) {
        modifiedMemory(m, d, fb.gfn + p, 1);
      }
    }
  }
  o.qemu.importBitmap(0, bits, fb.pages, DIRTY_MEMORY_VGA);
}

/**
 * XEN_DMOP_modified_memory (dm.c modified_memory): paging_mark_pfn_dirty for each pfn (and under
 * shadow sh_remove_shadows); none under `memcmp`, whose qemu-dm predates the call.
 */
export function modifiedMemory(m: Machine, d: Domain, gfn: number, n: number): void {
  if (d.tracker === 'memcmp') {
    // qemu-dm of the memcmp era had no such call: HVMOP_modified_memory came with stub domains
    // (7d03c1bec2, 2008-06), after 4fe64c6d1b (2008-05) had replaced memcmp for LFB modes.
    return;
  }
  m.costs.add(Counter.hypercalls);
  for (let g = gfn; g < gfn + n; g++) {
    m.markPfnDirty(d, g);
    if (d.paging === 'shadow' && m.isShadowed(d, g)) {
      // dm.c's modified_memory: "these are most probably not page tables any more" —
      // sh_remove_shadows(d, mfn, 1 /* fast */, 0), which ends with a flush.
      m.removeShadowsOf(d, g, true);
    }
  }
  if (m.sink.record) {
    m.ev('logdirty', 'xen_hvm_modified_memory', `XEN_DMOP_modified_memory: gfn ${hex(gfn)}${n > 1 ? ` + ${n} pages` : ''}`, { gfn });
  }
}

/** Pre-2017 QEMU's reset after drawing: the VGA bits of the span the loop drew, nothing if it drew nothing. */
export function resetDrawnSpan(m: Machine, o: FbOracle): void {
  const span = o.drawnSpan;
  if (span === null) {
    m.ev('refresh', 'vga_draw_graphic', 'nothing drawn: no reset (pre-2017)');
    return;
  }
  o.qemu.reset(span[0], span[1] - span[0] + 1, DIRTY_MEMORY_VGA);
  m.ev('refresh', 'memory_region_reset_dirty', `reset the VGA bits of pages ${span[0]}..${span[1]} after drawing (pre-2017: the span drawn)`);
}

/** Pages that hold visible pixels. */
export function visiblePages(fb: Framebuffer): number {
  return Math.min(fb.pages, Math.ceil((fb.width * 4 * fb.height) / PAGE_SIZE));
}

/**
 * Does visible page p show different pixels on the screen than guest memory holds? Only the bytes
 * that are pixels count: the tail of the last visible page past the last scanline is never drawn.
 */
function pixelsDiffer(m: Machine, d: Domain, fb: Framebuffer, o: FbOracle, p: number): boolean {
  const n = Math.min(PAGE_SIZE, fb.width * 4 * fb.height - p * PAGE_SIZE);
  return Buffer.compare(m.pages.read(m.backingMfn(d, fb.gfn + p)).subarray(0, n), m.pages.read(o.screenMfn + p).subarray(0, n)) !== 0;
}

/**
 * The scanline loop. `snap` is the snapshot (fixed QEMU) or null to read the live bitmap per line
 * (pre-2017). Returns the pages whose lines were drawn, and leaves in `o.drawnSpan` the span the
 * pre-2017 reset covers.
 */
export function drawScanlines(m: Machine, d: Domain, fb: Framebuffer, o: FbOracle, snap: DirtySnapshot | null): number[] {
  const linesize = fb.width * 4;
  const drawnPages = new Set<number>();
  // page_min / page_max of vga_draw_graphic: the lowest drawn address, the highest drawn line's last byte.
  let spanMin = -1;
  let spanMax = -1;
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
    if (spanMin < 0) {
      spanMin = addr;
    }
    spanMax = addr + linesize - 1;
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
  // memory_region_reset_dirty(vram, page_min, page_max - page_min): the bytes [page_min, page_max),
  // whole pages from the first's to the one holding byte page_max - 1.
  o.drawnSpan = spanMin < 0 ? null : [Math.floor(spanMin / PAGE_SIZE), Math.floor(Math.max(spanMin, spanMax - 1) / PAGE_SIZE)];
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
    if (pixelsDiffer(m, d, fb, o, p)) {
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

/** Visible pages where the screen differs from guest memory right now (no bookkeeping, no invariant). */
export function staleNow(m: Machine, d: Domain, fb: Framebuffer, o: FbOracle): number[] {
  const visible = visiblePages(fb);
  return o.screenSuspect.toArray().filter((p) => p < visible && screenDiffers(m, d, fb, o, p));
}

/** Does page p differ between guest memory and the screen right now? */
export function screenDiffers(m: Machine, d: Domain, fb: Framebuffer, o: FbOracle, p: number): boolean {
  if (!o.screenSuspect.has(p) || p >= visiblePages(fb)) {
    return false;
  }
  return pixelsDiffer(m, d, fb, o, p);
}

/**
 * Shadow-mode dirty-VRAM tracking as Xen has done it since 2008 (xen/arch/x86/mm/shadow/hvm.c:
 * shadow_track_dirty_vram, shadow_vram_get_mfn, shadow_vram_put_mfn): one remembered shadow L1e
 * per page (sl1ma); writable count 0 clean, 1 test-and-clear D, ≥ 2 dirty; D bits of destroyed
 * entries kept in the accumulator; the first call (and a range change) blows the shadow tables and
 * answers -ENODATA; after 2 s without dirtiness, write access is removed (last_dirty = -1).
 */
import { Counter } from '../costs';
import { hex, Machine } from '../machine';
import { D } from '../pte';
import { ShDirtyVram, type Domain, type Framebuffer, type ShadowTable } from '../state';
import { COW_PAGE_MASK, COW_PAGE_SHIFT } from '../cow';
import type { TrackerAnswer } from './types';

const TWO_SECONDS = 2_000_000_000;

function markAcc(m: Machine, vram: ShDirtyVram, i: number): void {
  if (m.bugs.has('acc-typo')) {
    // The typo fixed by cf177e383a: OR in another byte of the accumulator instead of the bit.
    vram.acc[i >> 3] |= vram.acc[i % 8];
  } else {
    vram.acc[i >> 3] |= 1 << (i & 7);
  }
}

/** The tracked VRAM page a frame backs (through the M2P, as mfn_to_gfn does), or -1. */
function vramPage(m: Machine, d: Domain, mfn: number): number {
  const vram = d.shVram;
  if (!vram) {
    return -1;
  }
  const gfn = m.m2p(d, mfn);
  return gfn >= vram.begin && gfn < vram.end ? gfn - vram.begin : -1;
}

/** shadow_vram_get_mfn: called by shadow_set_l1e after a present writable entry takes its reference. */
export function shadowVramGetMfn(m: Machine, d: Domain, mfn: number, _flags: number, sl1a: number): void {
  const i = vramPage(m, d, mfn);
  if (i < 0) {
    return;
  }
  const vram = d.shVram!;
  if (m.writableCount(d, mfn) === 1) {
    vram.sl1ma.set(i, sl1a);
    if (m.sink.record) {
      m.ev('set-l1e', 'shadow_vram_get_mfn', `page ${i}: first writable mapping, sl1ma = smfn ${hex(Math.floor(sl1a / 512))}[${sl1a % 512}]`, { page: i });
    }
  }
  m.touchVram(d, i);
}

/** shadow_vram_put_mfn: called before a writable entry's reference is dropped. */
export function shadowVramPutMfn(m: Machine, d: Domain, mfn: number, flags: number, sl1a: number): void {
  const i = vramPage(m, d, mfn);
  if (i < 0) {
    return;
  }
  const vram = d.shVram!;
  // The reference being dropped is still counted here.
  const count = m.writableCount(d, mfn);
  let dirty = false;
  let why: string;
  if (count === 1) {
    if (vram.sl1ma.get(i) === -1) {
      dirty = true;
      why = 'last writable mapping, sl1ma unknown: dirty';
    } else {
      vram.sl1ma.set(i, -1);
      dirty = (flags & D) !== 0;
      why = `last writable mapping: sl1ma invalidated, ${dirty ? 'D set: dirty' : 'D clear'}`;
    }
  } else {
    dirty = true;
    if (vram.sl1ma.get(i) === sl1a) {
      vram.sl1ma.set(i, -1);
      why = 'one of several mappings, the remembered one: dirty, sl1ma invalidated';
    } else {
      why = 'one of several mappings: dirty';
    }
  }
  if (dirty) {
    markAcc(m, vram, i);
    vram.lastDirty = m.time;
  }
  if (m.sink.record) {
    m.ev('set-l1e', 'shadow_vram_put_mfn', `page ${i}: ${why}`, { page: i });
  }
  m.touchVram(d, i);
}

/** shadow_track_dirty_vram for the framebuffer's range. */
export function shadowTrackDirtyVram(m: Machine, d: Domain, fb: Framebuffer): TrackerAnswer {
  const begin = fb.gfn;
  const nr = fb.pages;
  const end = begin + nr;
  let vram = d.shVram;
  if (vram && (vram.begin !== begin || vram.end !== end)) {
    if (m.sink.record) {
      m.ev('peek', 'shadow_track_dirty_vram', `stopping tracking VRAM ${hex(vram.begin)} - ${hex(vram.end)}`);
    }
    d.shVram = vram = null;
  }
  if (!vram) {
    m.blowTables(d);
    vram = new ShDirtyVram(begin, end);
    // Idle from the start (2965f75ebd, 2026: the fresh accumulator is clean): no scan until a write
    // fault on a VRAM page (_sh_propagate) or a dirty shadow_vram_put_mfn sets last_dirty.
    vram.lastDirty = -1;
    d.shVram = vram;
    d.trackedFb = fb.name;
    if (m.sink.record) {
      m.ev('peek', 'shadow_track_dirty_vram', `tracking VRAM ${hex(begin)} - ${hex(end)}: -ENODATA`);
    }
    return { kind: 'enodata' };
  }
  let flush = false;
  let out: Uint8Array;
  if (vram.lastDirty === -1) {
    // Nothing to do while the accumulator is completely clean: the answer is the zero-filled
    // bitmap, and the accumulator is left as it is.
    out = new Uint8Array(vram.acc.length);
    if (m.sink.record) {
      m.ev('peek', 'shadow_track_dirty_vram', 'last_dirty = -1: idle, no scan; all clean');
    }
  } else {
    const contiguous = m.bugs.has('contiguous-mfn');
    const base = m.backingMfn(d, begin);
    const backing = m.backingOf(d, begin, nr);
    // Plain RAM behind the whole range: every lookup would give the backing frame (get_gfn_query).
    const plain = backing !== null && Machine.fastPaths && d.p2m.plainRange(begin, end);
    // ... and with contiguous frames, page i's frame is the first one plus i.
    const linear = plain && backing.scatter === null ? backing.mfn(begin) : -1;
    const wcount = d.wcount;
    let spage: Float64Array | undefined;
    let spi = -1;
    // Neighbouring pages share a count page and (mostly) an L1 shadow: look each up once.
    let wpage: Int32Array | undefined;
    let wpi = -1;
    const shift = COW_PAGE_SHIFT;
    const mask = COW_PAGE_MASK;
    let lt: ShadowTable | undefined;
    let lsmfn = -1;
    let anyDirty = false;
    for (let i = 0; i < nr; i++) {
      const gfn = begin + i;
      let mfn = linear >= 0 ? linear + i : plain ? backing.mfn(gfn) : backing ? m.p2mMfnIn(d, backing, gfn) : m.p2mMfn(d, gfn);
      if (contiguous && mfn >= 0 && mfn !== base + i) {
        m.violation('wrong-frame', `sl1ma scan of page ${i} (gfn ${hex(gfn)}) read frame ${hex(base + i)}, but the page is backed by ${hex(mfn)}: the framebuffer is not MFN-contiguous`, { fb: fb.name, pages: [i], gfn, mfn: base + i });
        mfn = base + i;
      }
      let dirty = false;
      if (mfn < 0) {
        dirty = true;
      } else {
        if (mfn >>> shift !== wpi) {
          wpi = mfn >>> shift;
          wpage = wcount.readPage(mfn);
        }
        const count = wpage === undefined ? 0 : wpage[mfn & mask];
        if (i >>> shift !== spi) {
          spi = i >>> shift;
          spage = vram.sl1ma.readPage(i);
        }
        const sl1a = spage === undefined ? -1 : spage[i & mask];
        if (count === 0) {
          // No guest reference: nothing to track.
        } else if (count === 1) {
          if (sl1a === -1) {
            dirty = true;
            if (m.sink.record) {
              m.ev('peek-page', 'shadow_track_dirty_vram', `page ${i}: one mapping, unknown: dirty; sh_remove_all_mappings`, { page: i });
            }
            flush = m.removeAllMappings(d, mfn, true) || flush;
            // That changed counts, sl1ma entries (perhaps copying their pages) and shadow entries:
            // look up afresh.
            wpi = -1;
            spi = -1;
            lsmfn = -1;
          } else {
            if (sl1a < lsmfn * 512 || sl1a >= lsmfn * 512 + 512) {
              lsmfn = Math.floor(sl1a / 512);
              lt = d.shTables.get(lsmfn);
            }
            const t = lt!;
            const slot = sl1a & 511;
            if (t.f[slot] & D) {
              dirty = true;
              // l1e_remove_flags: atomic; the TLB may still cache D=1 until the flush.
              m.clearShadowD(d, t, slot);
              flush = true;
              if (m.sink.record) {
                m.ev('peek-page', 'shadow_track_dirty_vram', `page ${i}: D set in smfn ${hex(t.smfn)}[${slot}]: dirty, D cleared`, { page: i });
              }
            }
          }
        } else {
          dirty = true;
          if (m.sink.record) {
            m.ev('peek-page', 'shadow_track_dirty_vram', `page ${i}: ${count} writable mappings: dirty`, { page: i });
          }
        }
      }
      if (dirty) {
        vram.acc[i >> 3] |= 1 << (i & 7);
        anyDirty = true;
      }
    }
    // One NOW() after the loop, for last_dirty and the idle test below.
    if (anyDirty) {
      vram.lastDirty = m.time;
    }
    m.costs.add(Counter.pteScans, nr);
    out = vram.acc.slice();
    vram.acc.fill(0);
    if (vram.lastDirty + TWO_SECONDS < m.time && !m.bugs.has('no-idle-heuristic')) {
      m.nest('remove-write-access', 'shadow_track_dirty_vram', 'clean for more than 2 s: remove write access to VRAM', () => {
        for (let g = begin; g < end; g++) {
          const mfn = m.p2mMfn(d, g);
          if (mfn >= 0) {
            flush = m.removeWriteAccess(d, mfn, true) || flush;
          }
        }
      });
      vram!.lastDirty = -1;
    }
  }
  if (flush) {
    if (m.bugs.has('skip-flush')) {
      if (m.sink.record) {
        m.ev('flush-skipped', 'shadow_track_dirty_vram', 'flush owed but skipped (inject skip-flush)', { dom: d.name });
      }
    } else {
      m.flushDomainTlbs(d, 'guest_flush_tlb_mask', 'after clearing D / removing write access');
    }
  }
  if (vram.lastDirty === -1) {
    m.checkIdleWritable(d, fb);
  }
  return { kind: 'bitmap', dirty: bitmapPages(out, nr) };
}

/** The set bits of a page bitmap (bit i = page i), ascending, in an array of exactly that size. */
function bitmapPages(bits: Uint8Array, nr: number): number[] {
  const bytes = Math.ceil(nr / 8);
  let count = 0;
  for (let b = 0; b < bytes; b++) {
    count += POPCOUNT[bits[b]];
  }
  const out = new Array<number>(count);
  let k = 0;
  for (let b = 0; b < bytes && k < count; b++) {
    const v = bits[b];
    if (v !== 0) {
      for (let j = 0; j < 8; j++) {
        if (v & (1 << j) && b * 8 + j < nr) {
          out[k++] = b * 8 + j;
        }
      }
    }
  }
  out.length = k;
  return out;
}
const POPCOUNT = Uint8Array.from({ length: 256 }, (_, v) => {
  let n = 0;
  for (let x = v; x; x >>= 1) {
    n += x & 1;
  }
  return n;
});

/** `untrack` (nr = 0): tear the tracker down. */
export function shadowUntrack(m: Machine, d: Domain): void {
  if (d.shVram) {
    if (m.sink.record) {
      m.ev('peek', 'shadow_track_dirty_vram', `nr=0: stopping tracking VRAM ${hex(d.shVram.begin)} - ${hex(d.shVram.end)}`);
    }
  }
  d.shVram = null;
  d.trackedFb = null;
}

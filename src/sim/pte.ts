/** x86-64 page-table entries as 8 bytes in a frame: flags, the address field, NX (bit 63). */
import type { PteFlagName } from './program';
import type { PteFlagsView } from './inspect';

export const P = 0x1;
export const RW = 0x2;
export const US = 0x4;
export const A = 0x20;
export const D = 0x40;
export const PS = 0x80;
export const G = 0x100;
/** NX lives in bit 63, i.e. bit 31 of the high word; in flag sets we use this marker bit. */
export const NX = 0x8000;

export function flagBit(n: PteFlagName): number {
  switch (n) {
    case 'P': return P;
    case 'RW': return RW;
    case 'US': return US;
    case 'A': return A;
    case 'D': return D;
    case 'G': return G;
    case 'NX': return NX;
  }
}

/** Read entry `idx` of a table frame: [flags incl. NX marker, target frame number]. */
export function readPte(d: Uint8Array, idx: number): [number, number] {
  return [pteFlags(d, idx), pteFrame(d, idx)];
}

export function writePte(d: Uint8Array, idx: number, flags: number, frame: number): void {
  const o = idx * 8;
  const lo = ((frame % 0x100000) * 0x1000 + (flags & 0xfff)) >>> 0;
  const hi = (Math.floor(frame / 0x100000) & 0xfffff) | (flags & NX ? 0x80000000 : 0);
  d[o] = lo & 0xff; d[o + 1] = (lo >>> 8) & 0xff; d[o + 2] = (lo >>> 16) & 0xff; d[o + 3] = lo >>> 24;
  d[o + 4] = hi & 0xff; d[o + 5] = (hi >>> 8) & 0xff; d[o + 6] = (hi >>> 16) & 0xff; d[o + 7] = hi >>> 24;
}

/** The raw 64-bit entry as hex. */
export function pteHex(flags: number, frame: number): string {
  const b = new Uint8Array(8);
  writePte(b, 0, flags, frame);
  let s = '';
  for (let i = 7; i >= 0; i--) {
    s += b[i].toString(16).padStart(2, '0');
  }
  return '0x' + s;
}

export function flagsView(f: number): PteFlagsView {
  return { P: !!(f & P), RW: !!(f & RW), US: !!(f & US), A: !!(f & A), D: !!(f & D), PS: !!(f & PS), G: !!(f & G), NX: !!(f & NX) };
}

export function flagsString(f: number): string {
  const names: [number, string][] = [[P, 'P'], [RW, 'RW'], [US, 'US'], [A, 'A'], [D, 'D'], [PS, 'PS'], [G, 'G'], [NX, 'NX']];
  return names.filter(([b]) => f & b).map(([, n]) => n).join('|') || '-';
}

/** Index of `va` (48-bit) in the table of `level` (4..1). */
export function vaIndex(va: number, level: number): number {
  // va is a non-negative integer below 2^48: the quotient truncates to the same value as floor, and
  // ToInt32 keeps its low bits (2^32 is a multiple of 512), without a floating-point modulo.
  return (va / LEVEL_SHIFT[level]) & 511;
}
const LEVEL_SHIFT = [1, 2 ** 12, 2 ** 21, 2 ** 30, 2 ** 39];

/** The flags of entry `idx` (incl. the NX marker), without allocating. */
export function pteFlags(d: Uint8Array, idx: number): number {
  const o = idx * 8;
  return (d[o] | ((d[o + 1] & 0xf) << 8)) | (d[o + 7] & 0x80 ? NX : 0);
}
/** The target frame number of entry `idx`, without allocating. */
export function pteFrame(d: Uint8Array, idx: number): number {
  const o = idx * 8;
  const lo = (d[o] | (d[o + 1] << 8) | (d[o + 2] << 16) | (d[o + 3] << 24)) >>> 0;
  const hi = (d[o + 4] | (d[o + 5] << 8) | (d[o + 6] << 16) | (d[o + 7] << 24)) >>> 0;
  return (lo >>> 12) + (hi & 0xfffff) * 0x100000;
}

/** Bits whose change from 0 to 1 in a present entry needs no invalidation (SDM 4.10.4.3). */
const OPTIONAL_SET = RW | US | A | D;
/** The architectural bits of the low 12 (P..G; 9–11 are ignored by the walker). */
const ARCH_LOW = 0x1ff;

/**
 * Does changing a paging-structure entry from (f0, frame0) to (f1, frame1) call for an
 * invalidation before the old translation is used again (SDM 4.10.4.2)? Not when the old entry was
 * not present (nothing was cached from it), nor when the change only sets R/W, U/S, A or D or
 * clears XD (SDM 4.10.4.3: at worst a spurious fault), nor when only ignored bits change.
 */
export function needsInvalidation(f0: number, frame0: number, f1: number, frame1: number): boolean {
  if (!(f0 & P)) {
    return false;
  }
  if (!(f1 & P) || frame0 !== frame1) {
    return true;
  }
  const set = f1 & ~f0;
  const cleared = f0 & ~f1;
  return ((set & ARCH_LOW & ~OPTIONAL_SET) | (cleared & ARCH_LOW) | (set & NX)) !== 0;
}

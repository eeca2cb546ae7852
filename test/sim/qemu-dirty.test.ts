/** QEMU's two dirty-memory implementations answer alike; the VGA refresh draws what the bitmap says. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ByteFlags, WordBitmaps, DIRTY_MEMORY_VGA, DIRTY_MEMORY_MIGRATION, type DirtyMemory } from '../../src/sim/qemu/dirty';

type Op = { k: 'set'; s: number; n: number; c: number } | { k: 'snap'; s: number; n: number; c: number } | { k: 'reset'; s: number; n: number; c: number } | { k: 'import'; s: number; bits: number[]; c: number };
const PAGES = 300;
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ k: fc.constant('set' as const), s: fc.integer({ min: 0, max: PAGES - 1 }), n: fc.integer({ min: 1, max: 70 }), c: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ k: fc.constant('snap' as const), s: fc.integer({ min: 0, max: PAGES - 1 }), n: fc.integer({ min: 1, max: 100 }), c: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ k: fc.constant('reset' as const), s: fc.integer({ min: 0, max: PAGES - 1 }), n: fc.integer({ min: 1, max: 40 }), c: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ k: fc.constant('import' as const), s: fc.constantFrom(0, 32, 64, 5), bits: fc.array(fc.integer({ min: 0, max: 200 }), { maxLength: 20 }), c: fc.integer({ min: 0, max: 2 }) }),
);

function apply(d: DirtyMemory, o: Op): string {
  const n = Math.min(o.k === 'import' ? 201 : o.n, PAGES - o.s);
  switch (o.k) {
    case 'set': d.setRange(o.s, n, 1 << o.c); return '';
    case 'reset': d.reset(o.s, n, o.c); return '';
    case 'snap': return d.snapshotAndClear(o.s, n, o.c).pages().join(',');
    case 'import': {
      const bits = new Uint8Array(Math.ceil(n / 8));
      for (const b of o.bits.filter((x) => x < n)) {
        bits[b >> 3] |= 1 << (b & 7);
      }
      d.importBitmap(o.s, bits, n, o.c);
      return '';
    }
  }
}
function dump(d: DirtyMemory): string {
  const out: string[] = [];
  for (let c = 0; c < 3; c++) {
    const buf = new Int32Array(PAGES);
    const k = d.collect(0, PAGES, c, buf);
    out.push(Array.from(buf.subarray(0, k)).join(','));
    let next = d.nextDirty(0, PAGES, c);
    const viaNext: number[] = [];
    while (next >= 0) {
      viaNext.push(next);
      next = d.nextDirty(next + 1, PAGES, c);
    }
    assert.equal(viaNext.join(','), out[c], 'find-next-bit and collect agree');
  }
  return out.join('|');
}

test('byte flags and word bitmaps give identical answers on random operation sequences', () => {
  fc.assert(fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
    const a = new ByteFlags(PAGES);
    const b = new WordBitmaps(PAGES);
    for (const o of ops) {
      assert.equal(apply(a, o), apply(b, o));
    }
    assert.equal(dump(a), dump(b));
  }), { numRuns: 300, seed: 7 });
});

test('word bitmaps touch one word per 32 clean pages; byte flags one byte per page', () => {
  const a = new ByteFlags(4096);
  const b = new WordBitmaps(4096);
  a.setRange(1000, 3, 1 << DIRTY_MEMORY_MIGRATION);
  b.setRange(1000, 3, 1 << DIRTY_MEMORY_MIGRATION);
  const out = new Int32Array(4096);
  a.collect(0, 4096, DIRTY_MEMORY_MIGRATION, out);
  b.collect(0, 4096, DIRTY_MEMORY_MIGRATION, out);
  assert.equal(a.probes, 4096);
  assert.equal(b.probes, 128);
  assert.equal(a.get(1001, DIRTY_MEMORY_VGA), false, 'clients are separate');
});

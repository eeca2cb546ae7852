/**
 * A vCPU's TLB (its hash layout, dense records, O(1) flush and checkpoint copies) against a Map:
 * fills and refills, invlpg, flushes with and without global entries, lookups, the reported mark,
 * and checkpoint copies that later carry on as the live TLB (a restore) while the original goes on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Tlb, TLB_G, TLB_W, TLB_D, TLB_WARNED, type TlbEntry } from '../../src/sim/tlb';

type Op =
  | { op: 'insert'; vpn: number; mfn: number; flags: number; ptVer: number }
  | { op: 'remove'; vpn: number }
  | { op: 'clear'; keepGlobal: boolean }
  | { op: 'warn'; vpn: number }
  | { op: 'find'; vpn: number }
  | { op: 'clone' }
  | { op: 'restore' };

/** A small vpn space (collisions, refills, long probe chains), some in the kernel half (doubles). */
const vpn = fc.oneof(
  fc.integer({ min: 0, max: 300 }),
  fc.integer({ min: 0, max: 40 }).map((i) => 0xffff80000 * 16 + i * 4097),
);
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ op: fc.constant('insert' as const), vpn, mfn: fc.integer({ min: 0, max: 1 << 20 }), flags: fc.integer({ min: 0, max: 7 }), ptVer: fc.nat(1000) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('remove' as const), vpn }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('clear' as const), keepGlobal: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('warn' as const), vpn }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('find' as const), vpn }) },
  { weight: 1, arbitrary: fc.constant({ op: 'clone' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'restore' as const }) },
);

function entryFor(o: Extract<Op, { op: 'insert' }>): TlbEntry {
  return {
    mfn: o.mfn, gfn: o.mfn + 1, w: !!(o.flags & TLB_W), d: !!(o.flags & TLB_D), g: !!(o.flags & TLB_G),
    src: o.mfn * 3, srcVer: o.ptVer + 2, pt: o.vpn % 512, ptVer: o.ptVer, warned: false,
  };
}

test('TLB: fills, invlpg, flushes (keeping globals or not), lookups and checkpoint copies agree with a map', () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
      let tlb = new Tlb();
      let ref = new Map<number, TlbEntry>();
      let saved: { tlb: Tlb; ref: Map<number, TlbEntry> } | null = null;
      for (const o of ops) {
        switch (o.op) {
          case 'insert': {
            const e = entryFor(o);
            const slot = tlb.insert(o.vpn, e.mfn, e.gfn, o.flags, e.src, e.srcVer, e.pt, e.ptVer, 7);
            assert.equal(tlb.mfn(slot), o.mfn);
            ref.set(o.vpn, e);
            break;
          }
          case 'remove':
            assert.equal(tlb.remove(o.vpn), ref.delete(o.vpn));
            break;
          case 'clear':
            tlb.clear(o.keepGlobal);
            ref = new Map([...ref].filter(([, e]) => o.keepGlobal && e.g));
            break;
          case 'warn': {
            const s = tlb.find(o.vpn);
            assert.equal(s >= 0, ref.has(o.vpn));
            if (s >= 0) {
              tlb.warn(s);
              ref.get(o.vpn)!.warned = true;
              assert.ok(tlb.flags(s) & TLB_WARNED);
            }
            break;
          }
          case 'find': {
            const s = tlb.find(o.vpn);
            const e = ref.get(o.vpn);
            assert.equal(s >= 0, e !== undefined);
            if (e !== undefined) {
              assert.deepEqual(tlb.entry(s), e);
              assert.equal(tlb.ep(s), 7);
            }
            break;
          }
          case 'clone':
            saved = { tlb: tlb.cloneShared(), ref: new Map([...ref].map(([k, e]) => [k, { ...e }])) };
            break;
          case 'restore':
            if (saved !== null) {
              // A restore carries on from a copy of the checkpoint (the checkpoint itself stays).
              tlb = saved.tlb.cloneShared();
              ref = new Map([...saved.ref].map(([k, e]) => [k, { ...e }]));
            }
            break;
        }
        assert.equal(tlb.size, ref.size);
      }
      assert.deepEqual(tlb.entries(), [...ref].sort((a, b) => a[0] - b[0]));
      if (saved !== null) {
        assert.deepEqual(saved.tlb.entries(), [...saved.ref].sort((a, b) => a[0] - b[0]));
      }
    }),
    { numRuns: 300 },
  );
});

test('TLB: a flush of a big table is O(1) and the table keeps working across many generations', () => {
  const tlb = new Tlb();
  for (let round = 0; round < 50; round++) {
    for (let v = 0; v < 2000; v++) {
      tlb.insert(v * 7 + round, v, v, TLB_W | TLB_D, 0, 0, 0, 0, 0);
    }
    assert.equal(tlb.size, 2000);
    assert.equal(tlb.mfn(tlb.find(round)), 0);
    assert.equal(tlb.mfn(tlb.find(7 * 1999 + round)), 1999);
    tlb.clear();
    assert.equal(tlb.size, 0);
    assert.equal(tlb.find(round), -1);
  }
});

test('TLB: invlpg of half of a full table leaves every other entry reachable (probe chains repaired)', () => {
  const tlb = new Tlb();
  let x = 12345;
  const rnd = (): number => (x = (Math.imul(x, 1103515245) + 12345) >>> 0);
  const vpns = [...new Set(Array.from({ length: 6000 }, () => rnd() % 50000))];
  for (const v of vpns) {
    tlb.insert(v, v + 1, v, TLB_W, 0, 0, 0, v & 0xff, 0);
  }
  const gone = new Set(vpns.filter(() => rnd() % 2 === 0));
  for (const v of gone) {
    assert.ok(tlb.remove(v));
  }
  assert.equal(tlb.size, vpns.length - gone.size);
  for (const v of vpns) {
    const s = tlb.find(v);
    if (gone.has(v)) {
      assert.equal(s, -1);
    } else {
      assert.ok(s >= 0, `vpn ${v} lost`);
      assert.equal(tlb.mfn(s), v + 1);
      assert.equal(tlb.ptVer(s), v & 0xff);
    }
  }
});

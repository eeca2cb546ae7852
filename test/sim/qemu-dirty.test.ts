/** QEMU's two dirty-memory implementations answer alike; the VGA refresh draws what the bitmap says. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ByteFlags, WordBitmaps, DIRTY_MEMORY_VGA, DIRTY_MEMORY_MIGRATION, type DirtyMemory } from '../../src/sim/qemu/dirty';
import { parseTrace } from '../../src/trace/index';
import { createEngine } from '../../src/sim/engine';

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

// Pre-2017 vga_draw_graphic (qemu-reset-after-read) resets the VGA bits of the span it drew, from
// the first drawn line to the last — not the whole framebuffer, and nothing when it drew nothing.
function runTrace(text: string) {
  const e = createEngine(parseTrace(text, 'qemu.xpt'), {});
  e.run({});
  return e.report();
}
const OLD_QEMU = 'inject qemu-reset-after-read\ndomain g paging=hap mem=64M vcpus=1\nvram lfb dom=g gfn=0x3000 pages=16\nmap vcpu=g.0 va=0xffff800000000000 fb=lfb\nrefresh fb=lfb\n';
test('pre-2017 QEMU resets only the span it drew: a page synced during the draw outside that span keeps its bit', () => {
  const r = runTrace(OLD_QEMU + 'write vcpu=g.0 va=0xffff800000002000\nrefresh fb=lfb phase=draw\n' +
    'write vcpu=g.0 va=0xffff80000000a000\npeek fb=lfb\nrefresh fb=lfb phase=finish\nrefresh fb=lfb\n');
  assert.deepEqual(r.violations, []);
  assert.deepEqual(r.answers.at(-1)!.stale, []);
  // Inside the span, the same race loses the page (the bug the 2017 fix removed).
  const lost = runTrace(OLD_QEMU + 'write vcpu=g.0 va=0xffff800000002000\nwrite vcpu=g.0 va=0xffff80000000a000\nrefresh fb=lfb phase=draw\n' +
    'write vcpu=g.0 va=0xffff800000005000\npeek fb=lfb\nrefresh fb=lfb phase=finish\nrefresh fb=lfb\n');
  assert.deepEqual(lost.answers.at(-1)!.stale, [5]);
});
test('pre-2017 QEMU resets nothing when the tick drew no line', () => {
  const r = runTrace(OLD_QEMU + 'refresh fb=lfb phase=draw\ndma dom=g gfn=0x3005 len=4096 byte=0x55\nrefresh fb=lfb phase=finish\nrefresh fb=lfb\n');
  assert.deepEqual(r.violations, []);
  assert.deepEqual(r.answers.at(-1)!.stale, []);
});

test('while migrating, every page QEMU marks from an answer is reported back to Xen (XEN_DMOP_modified_memory)', () => {
  const r = runTrace('domain g paging=hap mem=64M vcpus=1\nvram lfb dom=g gfn=0x3000 pages=16\nmap vcpu=g.0 va=0xffff800000000000 fb=lfb\n' +
    'logdirty dom=g enable\nlogdirty dom=g clean\nrefresh fb=lfb\nlogdirty dom=g peek\n');
  assert.equal(r.answers[0].kind, 'all', 'Xen\'s bitmap of ones: QEMU marks each page, one call each');
  assert.deepEqual(r.logdirty.at(-1)!.dirty, Array.from({ length: 16 }, (_, i) => 0x3000 + i));
  assert.equal(r.costs.hypercalls, 3 + 1 + 16, 'enable, clean, peek; the refresh; one modified_memory per page');
  // Not migrating: QEMU keeps the bits to itself.
  const quiet = runTrace('domain g paging=hap mem=64M vcpus=1\nvram lfb dom=g gfn=0x3000 pages=16\nmap vcpu=g.0 va=0xffff800000000000 fb=lfb\nrefresh fb=lfb\n');
  assert.equal(quiet.costs.hypercalls, 1);
});

test('qemu-dm of the memcmp era tells Xen nothing while migrating: no XEN_DMOP_modified_memory for its answers or its own DMA', () => {
  const r = runTrace('domain g paging=shadow mem=64M vcpus=1 tracker=memcmp\nvram lfb dom=g gfn=0x3000 pages=16\nmap vcpu=g.0 va=0xffff800000000000 fb=lfb\nrefresh fb=lfb\n' +
    'logdirty dom=g enable\nlogdirty dom=g clean\nwrite vcpu=g.0 va=0xffff800000003800 len=4 byte=0x11\nrefresh fb=lfb\ndma dom=g gfn=0x3005 len=4096 byte=0x22\nrefresh fb=lfb\nlogdirty dom=g peek\n');
  assert.equal(r.costs.hypercalls, 3, 'enable, clean, peek: memcmp itself makes none');
  assert.ok(r.logdirty.at(-1)!.dirty.includes(0x3003), 'the guest\'s own store is logged by Xen');
  assert.ok(!r.logdirty.at(-1)!.dirty.includes(0x3005), 'qemu-dm\'s DMA is not');
});

test('QEMU knows of its own DMA at once: a pre-2017 reset that wipes the page\'s bit is a lost update at that refresh', () => {
  const r = runTrace('inject qemu-reset-after-read\ndomain g paging=hap mem=64M vcpus=1 tracker=p2m-type\nvram lfb dom=g gfn=0x3000 pages=16\nmap vcpu=g.0 va=0xffff800000000000 fb=lfb\nrefresh fb=lfb\n' +
    'write vcpu=g.0 va=0xffff800000002000\nrefresh fb=lfb phase=draw\ndma dom=g gfn=0x3002 len=4096 byte=0x44\nrefresh fb=lfb phase=finish\n');
  assert.deepEqual(r.violations.map((v) => [v.line, v.id]), [[9, 'lost-update']], 'at the finishing refresh, not later');
});

test('a refresh split with phase=draw and never finished still reports its stale pages (as drawn)', () => {
  const r = runTrace('domain g paging=hap mem=64M vcpus=1\nvram lfb dom=g gfn=0x3000 pages=16\nmap vcpu=g.0 va=0xffff800000000000 fb=lfb\nrefresh fb=lfb\n' +
    'refresh fb=lfb phase=draw\nwrite vcpu=g.0 va=0xffff800000003000 byte=0x11\n');
  const last = r.answers.at(-1)!;
  assert.equal(last.refresh, true);
  assert.deepEqual(last.stale, []);
});

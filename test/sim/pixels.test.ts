/**
 * `draw` and `blit` are pixel stores (and loads), scanline by scanline: one 4-byte access per pixel,
 * each through the TLB on its own. Each test compares a draw (or blit) with the same accesses
 * written out as one `write`/`read` statement per pixel: the same bytes, oracle sets, answers,
 * violations (one `stale-tlb` record per store), costs and TLBs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseTrace } from '../../src/trace/index';
import { createEngine, type Engine } from '../../src/sim/engine';
import { Machine } from '../../src/sim/machine';
import { PAGE_WRITTEN } from '../../src/sim/inspect';

const KVA = 0xffff800000000000n;
/** 300 pixels (1200 bytes) a line: some lines cross a page boundary in the middle. */
const WIDTH = 300;
const hexVa = (off: number): string => '0x' + (KVA + BigInt(off)).toString(16);

/** The pixel-by-pixel form of a statement: `draw ... color=0x000000` as writes of zeros, `blit` of zeros as reads then writes. */
function perPixel(line: string): string[] {
  const d = /^draw vcpu=(\S+) fb=lfb rect=(\d+),(\d+),(\d+),(\d+) color=0x000000$/.exec(line);
  const px = (v: string, x: number, y: number, op: 'write' | 'read'): string => `${op} vcpu=${v} va=${hexVa((y * WIDTH + x) * 4)} len=4${op === 'write' ? ' byte=0' : ''}`;
  if (d) {
    const [v, x, y, w, h] = [d[1] as string, ...d.slice(2).map(Number)] as [string, number, number, number, number];
    const out: string[] = [];
    for (let r = y; r < y + h; r++) {
      for (let c = x; c < x + w; c++) {
        out.push(px(v, c, r, 'write'));
      }
    }
    return out;
  }
  const b = /^blit vcpu=(\S+) fb=lfb from=(\d+),(\d+),(\d+),(\d+) to=(\d+),(\d+)$/.exec(line);
  if (b) {
    const [v, x, y, w, h, tx, ty] = [b[1] as string, ...b.slice(2).map(Number)] as [string, number, number, number, number, number, number];
    const out: string[] = [];
    for (let r = 0; r < h; r++) {
      for (let c = 0; c < w; c++) {
        out.push(px(v, x + c, y + r, 'read'));
      }
    }
    for (let r = 0; r < h; r++) {
      for (let c = 0; c < w; c++) {
        out.push(px(v, tx + c, ty + r, 'write'));
      }
    }
    return out;
  }
  return [line];
}

interface Seen { bytes: string; answers: unknown; violations: unknown; costs: unknown; tlb: unknown; written: number[] }

function seen(e: Engine): Seen {
  const r = e.report();
  return {
    bytes: Buffer.from(e.screen('lfb').guest).toString('base64'),
    answers: r.answers.map(({ line: _l, ...a }) => a),
    violations: r.violations.map((v) => `${v.id} ${v.vcpu ?? ''} ${v.va ?? ''} ${v.pages?.join(',') ?? ''}`),
    costs: r.costs,
    tlb: e.summary().domains.flatMap((d) => d.vcpus.map((v) => e.tlb(v.id))),
    written: [...Array(16).keys()].filter((p) => ((e.bitmap('lfb', p, 1).state[0] ?? 0) & PAGE_WRITTEN) !== 0),
  };
}

function run(text: string, inject: string[], stepped = false): Engine {
  const e = createEngine(parseTrace(text, 'pixels.xpt'), { inject: inject as never });
  if (stepped) {
    e.recordEvents = true;
    while (!e.done) {
      e.step();
    }
  } else {
    e.run({});
  }
  return e;
}

/** The trace and its pixel-by-pixel form run alike (and the draw alike with events recorded, and without the model's fast paths). */
function assertPerPixel(head: string, body: string[], inject: string[] = []): Seen {
  const text = head + body.join('\n') + '\n';
  const expanded = head + body.flatMap(perPixel).join('\n') + '\n';
  const want = seen(run(expanded, inject));
  const got = seen(run(text, inject));
  assert.deepEqual(got, want);
  assert.deepEqual(seen(run(text, inject, true)), want, 'the same with events recorded');
  Machine.fastPaths = false;
  try {
    assert.deepEqual(seen(run(text, inject)), want, 'the same without the fast paths');
  } finally {
    Machine.fastPaths = true;
  }
  return got;
}

const head = (paging: string, extra = ''): string =>
  `domain g paging=${paging} mem=64M vcpus=2${extra}\nvram lfb dom=g gfn=0x3000 pages=16 width=${WIDTH}\nmap vcpu=g.0 va=${hexVa(0)} fb=lfb\nmap vcpu=g.1 va=${hexVa(0)} fb=lfb\n`;

test('a draw through a stale TLB entry is one stale-tlb record per pixel store (the audit\'s 4-pixel rect: 4 records)', () => {
  const text = 'inject skip-flush\ndomain g paging=shadow mem=64M vcpus=1 tracker=sl1ma\nvram lfb dom=g gfn=0x3000 pages=16\n'
    + 'map vcpu=g.0 va=0xffff800000000000 fb=lfb\npeek fb=lfb\ndraw vcpu=0 fb=lfb rect=0,5,4,1\npeek fb=lfb\ndraw vcpu=0 fb=lfb rect=0,5,4,1 color=0x123456\n';
  const r = run(text, []).report();
  assert.deepEqual(r.violations.map((v) => `${v.line} ${v.id} ${v.va}`), [0, 4, 8, 12].map((o) => `8 stale-tlb 0xffff80000000500${o.toString(16)}`));
  const s = run(text, []).screen('lfb').guest;
  assert.deepEqual([...s.subarray(5 * 4096, 5 * 4096 + 20)], [0x56, 0x34, 0x12, 0, 0x56, 0x34, 0x12, 0, 0x56, 0x34, 0x12, 0, 0x56, 0x34, 0x12, 0, 0, 0, 0, 0]);
});

test('draw = one 4-byte store per pixel in scanline order (shadow and HAP, with a stale TLB, a guest PTE edit, PML)', () => {
  for (const [paging, extra, inject] of [['shadow', ' tracker=sl1ma', ['skip-flush']], ['shadow', ' tracker=sl1ma', []], ['hap', '', ['skip-flush']], ['hap', ' pml=on', []]] as const) {
    const got = assertPerPixel(head(paging, extra), [
      'peek fb=lfb',
      'draw vcpu=g.0 fb=lfb rect=110,2,30,3 color=0x000000', // line 3 crosses a page boundary at pixel 124
      'peek fb=lfb',
      'draw vcpu=g.1 fb=lfb rect=0,0,5,9 color=0x000000',
      `pte vcpu=g.0 va=${hexVa(4096)} clear=D`,
      'draw vcpu=g.0 fb=lfb rect=3,4,7,2 color=0x000000',
      'peek fb=lfb',
      'draw vcpu=g.0 fb=lfb rect=0,0,300,8 color=0x000000',
      'peek fb=lfb',
    ], [...inject]);
    if (inject.length > 0 && paging === 'shadow') {
      assert.ok((got.violations as string[]).filter((v) => v.startsWith('stale-tlb')).length >= 4, `${paging}: stale-tlb records, one per store: ${(got.violations as string[]).length}`);
    }
  }
});

test('blit = all pixel loads, then all pixel stores, each a 4-byte access of its own', () => {
  assertPerPixel(head('shadow', ' tracker=sl1ma'), [
    'peek fb=lfb', 'blit vcpu=g.0 fb=lfb from=110,3,20,3 to=0,20', 'peek fb=lfb', 'blit vcpu=g.0 fb=lfb from=0,20,10,3 to=5,21', 'peek fb=lfb',
  ], ['skip-flush']);
  assertPerPixel(head('hap'), ['peek fb=lfb', 'blit vcpu=g.1 fb=lfb from=0,0,300,6 to=0,1', 'peek fb=lfb']);
});

test('blit copies with memmove semantics, pixel for pixel', () => {
  const e = run(head('hap') + 'draw vcpu=g.0 fb=lfb rect=0,0,4,1 color=0x010203\ndraw vcpu=g.0 fb=lfb rect=4,0,4,1 color=0x0a0b0c\nblit vcpu=g.0 fb=lfb from=0,0,6,1 to=2,0\n', []);
  const row = [...e.screen('lfb').guest.subarray(0, 8 * 4)];
  const p = (c: number): number[] => [c & 0xff, (c >> 8) & 0xff, c >> 16, 0];
  assert.deepEqual(row, [0x010203, 0x010203, 0x010203, 0x010203, 0x010203, 0x010203, 0x0a0b0c, 0x0a0b0c].flatMap(p));
});

test('property: random draws and blits run as their pixel-by-pixel forms', () => {
  const rect = fc.tuple(fc.integer({ min: 0, max: WIDTH - 1 }), fc.integer({ min: 0, max: 50 }), fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 3 }))
    .map(([x, y, w, h]) => [x, y, Math.min(w, WIDTH - x), h] as const);
  const stmt = fc.oneof(
    rect.map(([x, y, w, h]) => `draw vcpu=g.0 fb=lfb rect=${x},${y},${w},${h} color=0x000000`),
    fc.tuple(rect, fc.integer({ min: 0, max: 51 })).map(([[x, y, w, h], ty]) => `blit vcpu=g.1 fb=lfb from=${x},${y},${w},${h} to=${x},${Math.min(ty, 54 - h)}`),
    fc.constantFrom('peek fb=lfb', 'flush dom=g', 'vmexit vcpu=g.0', 'tick 3s', `invlpg vcpu=g.0 va=${hexVa(4096)}`, `pte vcpu=g.1 va=${hexVa(2 * 4096)} clear=D`, 'reclaim dom=g'),
  );
  fc.assert(fc.property(fc.constantFrom('shadow', 'hap'), fc.boolean(), fc.array(stmt, { minLength: 1, maxLength: 8 }), (paging, skip, body) => {
    assertPerPixel(head(paging, paging === 'shadow' ? ' tracker=sl1ma' : ''), ['peek fb=lfb', ...body], skip ? ['skip-flush'] : []);
  }), { numRuns: 40 });
});

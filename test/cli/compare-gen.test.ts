/** `xpl gen` workloads are valid, deterministic traces; `xpl compare` reproduces the 2007 argument. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generate, GENERATORS } from '../../src/trace/gen';
import { parseTrace } from '../../src/trace/index';
import { compareTrackers } from '../../src/trace/compare';
import { createEngine } from '../../src/sim/engine';

for (const g of GENERATORS) {
  test(`gen ${g.name}: parses, runs without violations, and is the same for the same seed`, () => {
    const o = { seed: 3, seconds: 1, guests: 2, ranges: 64 };
    const text = generate(g.name, o);
    assert.equal(generate(g.name, o), text, 'deterministic');
    assert.notEqual(generate(g.name, { ...o, seed: 4 }).length, 0);
    const e = createEngine(parseTrace(text, `${g.name}.xpt`), {});
    e.run({});
    const r = e.report();
    assert.ok(r.steps > 0);
    assert.deepEqual(r.violations, []);
  });
}

function dom0(c: ReturnType<typeof compareTrackers>, t: string): number {
  const row = c.rows.find((r) => r.tracker === t)!;
  assert.equal(row.error, undefined, `${t} ran`);
  return row.costs!.dom0Cycles;
}

for (const guests of [8, 4]) {
  test(`compare on database + ${guests} idle XP guests: memcmp costs dom0 ≥ 20× the 2007 D-bit hypercall; sl1ma and p2m-type are of its order`, () => {
    const text = generate('db-xp', { seed: 1, guests, seconds: 2 });
    const c = compareTrackers(parseTrace(text, 'db-xp.xpt'), ['memcmp', 'dbit-2007', 'sl1ma', 'p2m-type']);
    const dbit = dom0(c, 'dbit-2007');
    assert.ok(dom0(c, 'memcmp') >= 20 * dbit, `memcmp ${dom0(c, 'memcmp')} vs dbit ${dbit}`);
    for (const t of ['sl1ma', 'p2m-type']) {
      const ratio = dom0(c, t) / dbit;
      assert.ok(ratio > 0.1 && ratio < 10, `${t} is ${ratio.toFixed(2)}× dbit-2007`);
    }
    assert.equal(c.rows.find((r) => r.tracker === 'p2m-type')!.paging, 'hap', 'p2m-type runs the workload under HAP');
  });
}

test('compare lists the answers that differ between designs', () => {
  const text = 'domain g paging=shadow mem=64M vcpus=1\nvram lfb dom=g gfn=0x3000 pages=16\nmap vcpu=g.0 va=0xffff800000000000 fb=lfb\npeek fb=lfb\nwrite vcpu=g.0 va=0xffff800000005000\npeek fb=lfb\n';
  const c = compareTrackers(parseTrace(text, 't.xpt'), ['memcmp', 'sl1ma', 'p2m-type']);
  const first = c.differences.find((d) => d.line === 4)!;
  assert.deepEqual(first.byTracker, { memcmp: 'all', sl1ma: 'enodata', 'p2m-type': 'all' });
  assert.ok(!c.differences.some((d) => d.line === 6), 'all three report page 5 at line 6');
});

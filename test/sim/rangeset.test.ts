/**
 * Rangesets: Xen's sorted list and the 2015 balanced tree, checked against Xen's behaviour
 * (xen/common/rangeset.c), against each other, and against a point-by-point reference model.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  createRangeSet, convertRangeSet, ListRangeSet, TreeRangeSet, RANGESET_IMPLS,
  type Range, type RangeSet, type RangesetImpl,
} from '../../src/sim/rangeset/index';
import { deepClone } from '../../src/sim/util';

function set(impl: RangesetImpl, ranges: [number, number][] = [], limit?: number): RangeSet {
  const r = createRangeSet(impl, `test ${impl}`);
  for (const [s, e] of ranges) {
    assert.equal(r.addRange(s, e), 'ok');
  }
  if (limit !== undefined) {
    r.setLimit(limit);
  }
  return r;
}

function pairs(r: RangeSet): [number, number][] {
  return r.ranges().map((x) => [x.s, x.e]);
}

for (const impl of RANGESET_IMPLS) {
  test(`${impl}: add merges overlapping ranges`, () => {
    const r = set(impl, [[10, 20], [15, 30]]);
    assert.deepEqual(pairs(r), [[10, 30]]);
    assert.equal(r.count, 1);
  });

  test(`${impl}: add merges adjacent ranges (x->e + 1 == s) on either side, and bridges a gap`, () => {
    assert.deepEqual(pairs(set(impl, [[10, 19], [20, 29]])), [[10, 29]]);
    assert.deepEqual(pairs(set(impl, [[20, 29], [10, 19]])), [[10, 29]]);
    const bridged = set(impl, [[0, 9], [20, 29], [10, 19]]);
    assert.deepEqual(pairs(bridged), [[0, 29]]);
    assert.equal(bridged.count, 1);
    assert.deepEqual(pairs(set(impl, [[10, 19], [21, 29]])), [[10, 19], [21, 29]], 'a one-value gap is kept');
  });

  test(`${impl}: add swallows every range it spans`, () => {
    const r = set(impl, [[0, 1], [4, 5], [8, 9], [20, 21]]);
    assert.equal(r.addRange(1, 8), 'ok');
    assert.deepEqual(pairs(r), [[0, 9], [20, 21]]);
    assert.equal(r.addRange(3, 100), 'ok');
    assert.deepEqual(pairs(r), [[0, 100]]);
  });

  test(`${impl}: remove trims, deletes and splits`, () => {
    const r = set(impl, [[0, 99]]);
    assert.equal(r.removeRange(10, 19), 'ok');
    assert.deepEqual(pairs(r), [[0, 9], [20, 99]]);
    assert.equal(r.removeRange(0, 4), 'ok');
    assert.equal(r.removeRange(90, 200), 'ok');
    assert.deepEqual(pairs(r), [[5, 9], [20, 89]]);
    assert.equal(r.removeRange(0, 50), 'ok');
    assert.deepEqual(pairs(r), [[51, 89]]);
    assert.equal(r.removeRange(51, 89), 'ok');
    assert.ok(r.isEmpty());
    assert.equal(r.removeRange(3, 4), 'ok', 'removing what is not there is not an error');
  });

  test(`${impl}: remove across ranges keeps a range that ends below the start (fix e118fc98e7)`, () => {
    // Roger Pau Monné's example: { [0,1], [4,5] } - { [3,4] } is { [0,1], [5,5] }, not { [0,2], [5,5] }.
    const r = set(impl, [[0, 1], [4, 5]]);
    assert.equal(r.removeRange(3, 4), 'ok');
    assert.deepEqual(pairs(r), [[0, 1], [5, 5]]);
    assert.equal(r.checkInvariant(), null);
  });

  test(`${impl}: a split at the limit fails with ENOMEM and leaves the set unchanged`, () => {
    const r = set(impl, [[0, 99]], 0);
    assert.equal(r.removeRange(10, 19), 'ENOMEM');
    assert.deepEqual(pairs(r), [[0, 99]]);
    assert.equal(r.allowance, 0);
    assert.equal(r.removeRange(0, 9), 'ok', 'trimming an end allocates nothing');
    assert.equal(r.removeRange(90, 99), 'ok');
    assert.deepEqual(pairs(r), [[10, 89]]);
  });

  test(`${impl}: add at the limit: a new range fails, merging into the left or overlapping does not`, () => {
    const r = set(impl, [], 2);
    assert.equal(r.addRange(0, 9), 'ok');
    assert.equal(r.addRange(20, 29), 'ok');
    assert.equal(r.allowance, 0);
    assert.equal(r.addRange(40, 49), 'ENOMEM');
    assert.equal(r.addRange(10, 12), 'ok', 'left-adjacent: extends [0,9]');
    assert.equal(r.addRange(25, 35), 'ok', 'overlapping: extends [20,29]');
    assert.equal(r.addRange(5, 22), 'ok', 'spanning both: frees one');
    assert.deepEqual(pairs(r), [[0, 35]]);
    assert.equal(r.allowance, 1);
    assert.equal(r.checkInvariant(), null);
  });

  test(`${impl}: at the limit, a range adjacent only on its right fails (Xen allocates before merging)`, () => {
    const r = set(impl, [[10, 19]], 0);
    assert.equal(r.addRange(5, 9), 'ENOMEM');
    assert.deepEqual(pairs(r), [[10, 19]]);
    assert.equal(r.addRange(20, 25), 'ok');
    assert.deepEqual(pairs(r), [[10, 25]]);
  });

  test(`${impl}: contains needs one range to cover all of [s, e]`, () => {
    const r = set(impl, [[0, 9], [11, 20]]);
    assert.equal(r.containsRange(0, 9), true);
    assert.equal(r.containsRange(3, 3), true);
    assert.equal(r.containsRange(5, 15), false, 'two ranges with a hole');
    assert.equal(r.containsRange(10, 10), false);
    assert.equal(r.containsRange(11, 21), false);
    assert.equal(r.containsSingleton(20), true);
    assert.equal(r.containsSingleton(21), false);
  });

  test(`${impl}: overlaps finds any intersection`, () => {
    const r = set(impl, [[0, 9], [20, 29]]);
    assert.equal(r.overlapsRange(10, 19), false);
    assert.equal(r.overlapsRange(9, 10), true);
    assert.equal(r.overlapsRange(15, 20), true);
    assert.equal(r.overlapsRange(30, 1000), false);
    assert.equal(r.overlapsRange(0, 1000), true);
  });

  test(`${impl}: report_ranges clips to the query and stops when the callback returns non-zero`, () => {
    const r = set(impl, [[0, 9], [20, 29], [40, 49], [60, 69]]);
    const seen: Range[] = [];
    assert.equal(r.reportRanges(5, 45, (s, e) => (seen.push({ s, e }), 0)), 0);
    assert.deepEqual(seen, [{ s: 5, e: 9 }, { s: 20, e: 29 }, { s: 40, e: 45 }]);
    const stopped: Range[] = [];
    assert.equal(r.reportRanges(0, 100, (s, e) => (stopped.push({ s, e }), stopped.length === 2 ? -7 : 0)), -7);
    assert.deepEqual(stopped, [{ s: 0, e: 9 }, { s: 20, e: 29 }]);
  });

  test(`${impl}: the allowance is -1 until limited, then counts down per range and back up on removal`, () => {
    const r = set(impl);
    assert.equal(r.allowance, -1);
    assert.equal(r.cap, -1);
    r.setLimit(3);
    assert.equal(r.allowance, 3);
    r.addRange(0, 0);
    r.addRange(2, 2);
    assert.equal(r.allowance, 1);
    r.removeRange(0, 0);
    assert.equal(r.allowance, 2);
    r.purge();
    assert.ok(r.isEmpty());
    assert.equal(r.allowance, 3);
    assert.equal(r.checkInvariant(), null);
  });

  test(`${impl}: merge, subtract and consume`, () => {
    const a = set(impl, [[0, 9], [30, 39]]);
    const b = set(impl, [[10, 19], [50, 59]]);
    assert.equal(a.merge(b), 'ok');
    assert.deepEqual(pairs(a), [[0, 19], [30, 39], [50, 59]]);
    assert.equal(a.subtract(set(impl, [[5, 34]])), 'ok');
    assert.deepEqual(pairs(a), [[0, 4], [35, 39], [50, 59]]);
    const limited = set(impl, [[0, 99]], 0);
    assert.equal(limited.subtract(set(impl, [[10, 19]])), 'ENOMEM');
    const got: Range[] = [];
    assert.equal(a.consumeRanges((s, e) => {
      got.push({ s, e });
      return { rc: got.length === 3 ? 1 : 0, consumed: Math.min(3, e - s + 1) };
    }), 1);
    // [0,4] takes two calls (3, then 2); the third call consumes 3 of [35,39] and stops.
    assert.deepEqual(got, [{ s: 0, e: 4 }, { s: 3, e: 4 }, { s: 35, e: 39 }]);
    assert.deepEqual(pairs(a), [[38, 39], [50, 59]]);
  });

  test(`${impl}: a deep-cloned set (checkpoint) is independent and keeps working`, () => {
    const r = set(impl, [[0, 9], [20, 29], [40, 49]]);
    const c = deepClone(r);
    r.addRange(10, 19);
    r.removeRange(40, 49);
    assert.deepEqual(pairs(c), [[0, 9], [20, 29], [40, 49]]);
    assert.equal(c.removeRange(22, 23), 'ok');
    assert.deepEqual(pairs(c), [[0, 9], [20, 21], [24, 29], [40, 49]]);
    assert.equal(c.checkInvariant(), null);
    assert.equal(c.impl, impl);
  });
}

test('the invariant checker reports unmerged, overlapping and over-limit sets', () => {
  // Corrupt the node pool directly: the public API cannot produce these states.
  type Pool = { ns: number[]; ne: number[]; count: number; nrRanges: number };
  const adj = new ListRangeSet('adj');
  adj.addRange(0, 9);
  adj.addRange(20, 29);
  (adj as unknown as Pool).ne[1] = 19;
  assert.match(adj.checkInvariant() ?? '', /adjacent ranges \[0x0-0x13\] and \[0x14-0x1d\] were not merged/);
  (adj as unknown as Pool).ne[1] = 25;
  assert.match(adj.checkInvariant() ?? '', /overlap or are out of order/);
  const over = new TreeRangeSet('over');
  over.setLimit(1);
  over.addRange(0, 0);
  (over as unknown as Pool).count = 2;
  assert.match(over.checkInvariant() ?? '', /holds 1 ranges but counts 2/);
  const lim = new ListRangeSet('lim');
  lim.setLimit(0);
  (lim as unknown as Pool).nrRanges = 1;
  assert.match(lim.checkInvariant() ?? '', /allowance 1 does not match limit 0/);
});

test('the invariant checker reports a broken red-black tree', () => {
  const t = new TreeRangeSet('rb');
  for (let i = 0; i < 8; i++) {
    t.addRange(i * 4, i * 4 + 1);
  }
  assert.equal(t.checkInvariant(), null);
  const red = (t as unknown as { red: number[] }).red;
  const slot = red.findIndex((c, i) => i > 0 && c === 0 && i !== (t as unknown as { root: number }).root);
  red[slot] = 1;
  assert.match(t.checkInvariant() ?? '', /red slot|black heights differ/);
});

test('converting between list and tree keeps ranges, allowance and the visit count', () => {
  const l = set('list', [[0, 9], [20, 29], [40, 49]], 5);
  l.containsRange(40, 41);
  const t = convertRangeSet(l, 'tree');
  assert.equal(t.impl, 'tree');
  assert.deepEqual(pairs(t), pairs(l));
  assert.equal(t.allowance, 5);
  assert.equal(t.cap, l.cap);
  assert.equal(t.nodesVisited, l.nodesVisited);
  assert.equal(t.checkInvariant(), null);
  const back = convertRangeSet(set('tree', [[1, 2]]), 'list');
  assert.equal(back.allowance, -1);
  assert.equal(back.checkInvariant(), null);
});

// ---------------------------------------------------------------- property tests

type Op =
  | { op: 'add' | 'remove' | 'contains' | 'overlaps'; s: number; len: number }
  | { op: 'report'; s: number; len: number; stopAfter: number }
  | { op: 'limit'; n: number }
  | { op: 'purge' };

const N = 200;
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('add' as const), s: fc.integer({ min: 0, max: N }), len: fc.integer({ min: 0, max: 20 }) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('remove' as const), s: fc.integer({ min: 0, max: N }), len: fc.integer({ min: 0, max: 30 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('contains' as const), s: fc.integer({ min: 0, max: N }), len: fc.integer({ min: 0, max: 10 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('overlaps' as const), s: fc.integer({ min: 0, max: N }), len: fc.integer({ min: 0, max: 10 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('report' as const), s: fc.integer({ min: 0, max: N }), len: fc.integer({ min: 0, max: 80 }), stopAfter: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('limit' as const), n: fc.integer({ min: 0, max: 6 }) }) },
  { weight: 1, arbitrary: fc.constant({ op: 'purge' as const }) },
);

/** A point-by-point model of a rangeset with Xen's allocation rules, written independently of rangeset.c. */
class Reference {
  pts = new Uint8Array(N + 64);
  nr = -1;
  limited = false;
  runs(): [number, number][] {
    const out: [number, number][] = [];
    for (let i = 0; i < this.pts.length; i++) {
      if (this.pts[i] && (i === 0 || !this.pts[i - 1])) {
        let j = i;
        while (j + 1 < this.pts.length && this.pts[j + 1]) {
          j++;
        }
        out.push([i, j]);
      }
    }
    return out;
  }
  any(s: number, e: number): boolean {
    for (let i = Math.max(0, s); i <= e; i++) {
      if (this.pts[i]) {
        return true;
      }
    }
    return false;
  }
  all(s: number, e: number): boolean {
    for (let i = s; i <= e; i++) {
      if (i < 0 || !this.pts[i]) {
        return false;
      }
    }
    return true;
  }
  private fill(s: number, e: number, v: number): void {
    const before = this.runs().length;
    this.pts.fill(v, s, e + 1);
    this.nr -= this.runs().length - before;
  }
  add(s: number, e: number): string {
    // A new node is needed unless something overlaps [s, e] or ends at s - 1.
    if (!this.any(s - 1, e) && this.nr === 0) {
      return 'ENOMEM';
    }
    this.fill(s, e, 1);
    return 'ok';
  }
  remove(s: number, e: number): string {
    // A split (one range reaching past both ends) needs a node.
    if (s > 0 && this.all(s - 1, e + 1) && this.nr === 0) {
      return 'ENOMEM';
    }
    this.fill(s, e, 0);
    return 'ok';
  }
  purge(): void {
    this.nr += this.runs().length;
    this.pts.fill(0);
  }
  allowance(): number {
    return this.limited ? this.nr : -1;
  }
}

function runOp(r: RangeSet, o: Op): unknown {
  switch (o.op) {
    case 'add': return r.addRange(o.s, o.s + o.len);
    case 'remove': return r.removeRange(o.s, o.s + o.len);
    case 'contains': return r.containsRange(o.s, o.s + o.len);
    case 'overlaps': return r.overlapsRange(o.s, o.s + o.len);
    case 'report': {
      const calls: [number, number][] = [];
      const rc = r.reportRanges(o.s, o.s + o.len, (s, e) => (calls.push([s, e]), calls.length >= o.stopAfter ? 1 : 0));
      return { rc, calls };
    }
    case 'limit': r.setLimit(o.n); return null;
    case 'purge': r.purge(); return null;
  }
}

function runRef(m: Reference, o: Op): unknown {
  switch (o.op) {
    case 'add': return m.add(o.s, o.s + o.len);
    case 'remove': return m.remove(o.s, o.s + o.len);
    case 'contains': return m.runs().some(([s, e]) => s <= o.s && o.s + o.len <= e);
    case 'overlaps': return m.any(o.s, o.s + o.len);
    case 'report': {
      const calls: [number, number][] = [];
      let rc = 0;
      for (const [s, e] of m.runs()) {
        if (rc !== 0 || s > o.s + o.len) {
          break;
        }
        if (e >= o.s) {
          calls.push([Math.max(s, o.s), Math.min(e, o.s + o.len)]);
          rc = calls.length >= o.stopAfter ? 1 : 0;
        }
      }
      return { rc, calls };
    }
    case 'limit': m.nr = o.n; m.limited = true; return null;
    case 'purge': m.purge(); return null;
  }
}


test('property: list, tree and the reference model give the same answers and states on random operations', () => {
  fc.assert(fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
    const l = createRangeSet('list', 'l');
    const t = createRangeSet('tree', 't');
    const m = new Reference();
    for (const [i, o] of ops.entries()) {
      const a = runOp(l, o);
      const b = runOp(t, o);
      const c = runRef(m, o);
      assert.deepEqual(a, b, `op ${i} ${JSON.stringify(o)}: list and tree differ`);
      assert.deepEqual(a, c, `op ${i} ${JSON.stringify(o)}: differs from the reference`);
      assert.deepEqual(pairs(l), pairs(t));
      assert.deepEqual(pairs(l), m.runs());
      assert.equal(l.allowance, t.allowance);
      assert.equal(l.allowance, m.allowance());
      assert.equal(l.count, m.runs().length);
      assert.equal(l.checkInvariant(), null, `list invariant after op ${i}`);
      assert.equal(t.checkInvariant(), null, `tree invariant after op ${i}`);
    }
  }), { numRuns: 300 });
});

// ---------------------------------------------------------------- cost growth

/** Average nodes visited by `rangeset_contains_range` over every range of a set of n ranges. */
function lookupCost(impl: RangesetImpl, n: number): { avg: number; set: RangeSet } {
  const r = createRangeSet(impl, `${impl} ${n}`);
  // Insert ranges 4 apart (so none merge) in a shuffled order (seeded Fisher-Yates).
  const order = Array.from({ length: n }, (_, i) => i);
  let seed = 12345;
  for (let i = n - 1; i > 0; i--) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    const j = seed % (i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  for (const i of order) {
    r.addRange(i * 4, i * 4 + 1);
  }
  assert.equal(r.count, n);
  const before = r.nodesVisited;
  for (let i = 0; i < n; i++) {
    assert.equal(r.containsRange(i * 4, i * 4 + 1), true);
  }
  return { avg: (r.nodesVisited - before) / n, set: r };
}

test('cost: the list visits grow linearly with the number of ranges, the tree visits logarithmically', () => {
  const sizes = [16, 256, 1024, 4096];
  const list = sizes.map((n) => lookupCost('list', n).avg);
  const tree = sizes.map((n) => {
    const { avg, set: t } = lookupCost('tree', n);
    assert.ok((t as TreeRangeSet).height() <= 2 * Math.log2(n + 1), `tree of ${n} ranges too high`);
    return avg;
  });
  // The list scans from the lowest range up to the first range above s: (n + 1) / 2 + 1 on average.
  for (const [i, n] of sizes.entries()) {
    assert.ok(Math.abs(list[i] - ((n + 1) / 2 + 1 - 1 / n)) < 1e-9, `list of ${n}: ${list[i]}`);
    assert.ok(tree[i] <= 2 * Math.log2(n + 1), `tree of ${n}: ${tree[i]} visits`);
  }
  // 256 times the ranges: the list costs about 256 times more, the tree a few visits more.
  assert.ok(list[3] / list[0] > 200, `list growth ${list[3] / list[0]}`);
  assert.ok(tree[3] / tree[0] < 4, `tree growth ${tree[3] / tree[0]}`);
  assert.ok(tree[3] - tree[0] <= 2 * (Math.log2(4096) - Math.log2(16)), `tree growth ${tree[3] - tree[0]}`);
});

test('cost: the tree stays balanced through deletions and splits', () => {
  const t = new TreeRangeSet('churn');
  t.addRange(0, 40959);
  for (let i = 1; i < 2048; i++) {
    assert.equal(t.removeRange(i * 20, i * 20 + 9), 'ok');
  }
  assert.equal(t.count, 2048);
  assert.ok(t.height() <= 2 * Math.log2(2049));
  for (let i = 0; i < 2048; i += 2) {
    t.removeRange(i * 20, i * 20 + 19);
  }
  assert.equal(t.count, 1024);
  assert.equal(t.checkInvariant(), null);
  assert.ok(t.height() <= 2 * Math.log2(1025));
});

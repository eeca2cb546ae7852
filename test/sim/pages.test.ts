/**
 * The page store (machine memory plus its write log) against a reference model that keeps every
 * write and rebuilds memory at any log position by replaying them: reads, zero tests, the bytes at a
 * past position, "changed since", time travel, replays that re-use the log, divergences that drop it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PageStore, PAGE_SIZE, ZERO_PAGE } from '../../src/sim/pages';
import { Hasher } from '../../src/sim/util';

interface RefRecord {
  mfn: number;
  off: number;
  len: number;
  /** The bytes written. */
  bytes: Uint8Array;
  /** What the writer passed (re-issued as is by replays). */
  src: Uint8Array | number;
}

/** Memory as the list of writes; a log position is a prefix of the list. */
class RefStore {
  log: RefRecord[] = [];
  pos = 0;

  write(mfn: number, off: number, len: number, src: Uint8Array | number): void {
    if (this.pos < this.log.length) {
      const r = this.log[this.pos];
      if (r.mfn === mfn && r.off === off && r.len === len) {
        this.pos++;
        return;
      }
      this.log.length = this.pos;
    }
    const bytes = typeof src === 'number' ? new Uint8Array(len).fill(src) : src.slice(0, len);
    this.log.push({ mfn, off, len, bytes, src: typeof src === 'number' ? src : src.slice() });
    this.pos++;
  }

  /** Every frame's bytes at log position p (frames never written: absent). */
  pagesAt(p: number): Map<number, Uint8Array> {
    const pages = new Map<number, Uint8Array>();
    for (let i = 0; i < p; i++) {
      applyRecord(pages, this.log[i]);
    }
    return pages;
  }
}

function applyRecord(pages: Map<number, Uint8Array>, r: RefRecord): void {
  let page = pages.get(r.mfn);
  if (page === undefined) {
    page = new Uint8Array(PAGE_SIZE);
    pages.set(r.mfn, page);
  }
  page.set(r.bytes, r.off);
}

const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0;
const pageOf = (pages: Map<number, Uint8Array>, mfn: number): Uint8Array => pages.get(mfn) ?? ZERO_PAGE;

/** The hash `hashInto` must give: non-zero frames in ascending mfn order, each as its mfn then its bytes. */
function refHash(pages: Map<number, Uint8Array>): string {
  const h = new Hasher();
  for (const mfn of [...pages.keys()].sort((a, b) => a - b)) {
    const d = pages.get(mfn)!;
    if (d.some((b) => b !== 0)) {
      h.num(mfn);
      h.bytes(d);
    }
  }
  return h.hex();
}
function storeHash(s: PageStore): string {
  const h = new Hasher();
  s.hashInto(h);
  return h.hex();
}

/** Everything observable, at the current position and at every earlier one, for the given frames. */
function checkAll(s: PageStore, ref: RefStore, mfns: number[]): void {
  assert.equal(s.position, ref.pos);
  const now = ref.pagesAt(ref.pos);
  for (const m of mfns) {
    const want = pageOf(now, m);
    const got = s.read(m);
    assert.equal(got.length, PAGE_SIZE);
    assert.ok(same(got, want), `read(${m}) at ${ref.pos}`);
    assert.equal(s.isZero(m), want.every((b) => b === 0), `isZero(${m}) at ${ref.pos}`);
  }
  assert.equal(storeHash(s), refHash(now), `hash at ${ref.pos}`);
  const then = new Map<number, Uint8Array>();
  for (let p0 = 0; p0 <= ref.pos; p0++) {
    for (const m of mfns) {
      const old = pageOf(then, m);
      assert.ok(same(s.bytesAt(m, p0), old), `bytesAt(${m}, ${p0}) at ${ref.pos}`);
      assert.equal(s.changedSince(m, p0), !same(old, pageOf(now, m)), `changedSince(${m}, ${p0}) at ${ref.pos}`);
    }
    if (p0 < ref.pos) {
      applyRecord(then, ref.log[p0]);
    }
  }
}

/** Frame numbers from every corner of the table: 0, chunk edges, the usual allocator range, just under 2^31. */
const MFNS: number[] = [];
for (let i = 0; i < 100; i++) {
  MFNS.push(0x1000 + i);
}
for (let i = 0; i < 100; i++) {
  MFNS.push(0x100000 + i * 37);
}
MFNS.push(0, 1, 4095, 4096, 4097, 0xfffff, 0x7fffffff, 0x7ffff000, 0x7fffefff, 0x40000000);
while (MFNS.length < 300) {
  MFNS.push(0x200000 + MFNS.length * 4099);
}

type Op =
  | { k: 'write'; m: number; off: number; len: number; fill: number | null; seed: number; small: boolean }
  | { k: 'back'; f: number }
  | { k: 'forward'; f: number }
  | { k: 'replay'; f: number; count: number }
  | { k: 'check' };

const mfnIndex = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 5 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: MFNS.length - 1 }) });
const length = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 4 }) },
  { weight: 5, arbitrary: fc.integer({ min: 5, max: 32 }) },
  { weight: 2, arbitrary: fc.integer({ min: 33, max: 200 }) },
  { weight: 1, arbitrary: fc.integer({ min: 201, max: PAGE_SIZE }) },
  { weight: 1, arbitrary: fc.constant(PAGE_SIZE) },
);
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record({
      k: fc.constant('write' as const),
      m: mfnIndex,
      off: fc.oneof(fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0, max: PAGE_SIZE })),
      len: length,
      // Few distinct byte values: writes often put back what was there.
      fill: fc.option(fc.oneof(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 255 })), { freq: 2 }),
      seed: fc.integer(),
      small: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('back' as const), f: fc.double({ min: 0, max: 1, noNaN: true }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('forward' as const), f: fc.double({ min: 0, max: 1, noNaN: true }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('replay' as const), f: fc.double({ min: 0, max: 1, noNaN: true }), count: fc.integer({ min: 1, max: 30 }) }) },
  { weight: 2, arbitrary: fc.constant({ k: 'check' as const }) },
);

function bytesFrom(seed: number, len: number, small: boolean): Uint8Array {
  const b = new Uint8Array(len);
  let x = seed >>> 0;
  for (let i = 0; i < len; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    b[i] = small ? (x >>> 24) % 3 : x >>> 24;
  }
  return b;
}

function run(ops: Op[]): void {
  const s = new PageStore();
  const ref = new RefStore();
  const used = new Set<number>([MFNS[0], MFNS[MFNS.length - 1]]);
  for (const o of ops) {
    switch (o.k) {
      case 'write': {
        const m = MFNS[o.m];
        const off = Math.min(o.off, PAGE_SIZE - o.len);
        const src = o.fill ?? bytesFrom(o.seed, o.len, o.small);
        used.add(m);
        s.write(m, off, o.len, src);
        ref.write(m, off, o.len, src);
        assert.equal(s.position, ref.pos);
        assert.ok(same(s.read(m), pageOf(ref.pagesAt(ref.pos), m)), `read(${m}) after a write`);
        break;
      }
      case 'back':
        ref.pos = Math.floor(o.f * ref.pos);
        s.moveTo(ref.pos);
        break;
      case 'forward':
        ref.pos += Math.floor(o.f * (ref.log.length - ref.pos));
        s.moveTo(ref.pos);
        break;
      case 'replay': {
        // Go back and issue the logged writes again, as a replay from a checkpoint does.
        const end = ref.log.length;
        const logBytes = s.logBytes;
        ref.pos = Math.floor(o.f * ref.pos);
        s.moveTo(ref.pos);
        const stop = Math.min(end, ref.pos + o.count);
        while (ref.pos < stop) {
          const r = ref.log[ref.pos];
          s.write(r.mfn, r.off, r.len, r.src);
          ref.write(r.mfn, r.off, r.len, r.src);
        }
        assert.equal(ref.log.length, end);
        assert.equal(s.logBytes, logBytes);
        // The log did not grow or lose its tail: its old end is still reachable.
        s.moveTo(end);
        ref.pos = end;
        assert.throws(() => s.moveTo(end + 1));
        break;
      }
      case 'check':
        checkAll(s, ref, [...used]);
        break;
    }
  }
  checkAll(s, ref, [...used]);
  // All the way back: nothing was ever written; and all the way forward again.
  s.moveTo(0);
  ref.pos = 0;
  for (const m of used) {
    assert.ok(s.isZero(m));
    assert.equal(s.changedSince(m, 0), false);
  }
  assert.equal(storeHash(s), refHash(new Map()));
  s.moveTo(ref.log.length);
  ref.pos = ref.log.length;
  checkAll(s, ref, [...used]);
}

test('pages: random writes, time travel and replays agree with a replay-everything reference at every position', () => {
  fc.assert(fc.property(fc.array(op, { maxLength: 120 }), run), { numRuns: 150, seed: 20261123 });
});

test('pages: frames never written read as the zero page, are zero, and never changed', () => {
  const s = new PageStore();
  s.write(0x1000, 0, 4, 0xff);
  for (const m of [0, 0xfff, 0x1001, 0x7fffffff, -1]) {
    assert.equal(s.read(m), ZERO_PAGE);
    assert.equal(s.isZero(m), true);
    assert.equal(s.changedSince(m, 0), false);
    assert.ok(same(s.bytesAt(m, 0), ZERO_PAGE));
  }
});

test('pages: a write that matches the log at the position is a replay: the logged bytes are applied, whatever the source', () => {
  const s = new PageStore();
  s.write(0x1000, 8, 4, Uint8Array.of(1, 2, 3, 4));
  s.write(0x1000, 100, 64, 7);
  s.moveTo(0);
  s.write(0x1000, 8, 4, Uint8Array.of(9, 9, 9, 9));
  s.write(0x1000, 100, 64, 1);
  assert.deepEqual([...s.read(0x1000).subarray(8, 12)], [1, 2, 3, 4]);
  assert.ok(s.read(0x1000).subarray(100, 164).every((b) => b === 7));
  assert.equal(s.position, 2);
});

test('pages: a write that differs from the log at the position drops the rest of the log', () => {
  const s = new PageStore();
  s.write(0x1000, 0, 4, 1);
  s.write(0x1001, 0, 100, 2);
  s.write(0x1000, 4, 4, 3);
  s.moveTo(1);
  s.write(0x1001, 0, 99, 5);
  assert.equal(s.position, 2);
  assert.throws(() => s.moveTo(3), /beyond 2/);
  s.moveTo(0);
  assert.ok(s.isZero(0x1000) && s.isZero(0x1001));
  s.moveTo(2);
  assert.ok(s.read(0x1001).subarray(0, 99).every((b) => b === 5));
  assert.equal(s.read(0x1001)[99], 0);
  assert.ok(s.read(0x1000).subarray(4, 8).every((b) => b === 0));
});

test('pages: a page written and then put back is not changed; one written with the bytes it held is not changed', () => {
  const s = new PageStore();
  s.write(0x1000, 0, 4, 7);
  const p0 = s.position;
  s.write(0x1000, 0, 4, 7);
  assert.equal(s.changedSince(0x1000, p0), false);
  s.write(0x1000, 2, 1, 9);
  assert.equal(s.changedSince(0x1000, p0), true);
  s.write(0x1000, 0, 8, Uint8Array.of(7, 7, 7, 7, 0, 0, 0, 0));
  assert.equal(s.changedSince(0x1000, p0), false);
  // Many bytes since p0 (the whole-page comparison), ending with the page as it was.
  for (let i = 0; i < 8; i++) {
    s.write(0x1000, i * 128, 128, i + 1);
  }
  assert.equal(s.changedSince(0x1000, p0), true);
  s.write(0x1000, 0, PAGE_SIZE, 0);
  s.write(0x1000, 0, 4, 7);
  assert.equal(s.changedSince(0x1000, p0), false);
  assert.equal(s.changedSince(0x1000, 0), true);
});

test('pages: for "changed since", a byte written several times counts its oldest old value and its newest new value', () => {
  for (const [first, second] of [[4, 4], [4, 16], [16, 4], [16, 16]]) {
    const s = new PageStore();
    s.write(0x1000, 0, 64, 5);
    const p0 = s.position;
    s.write(0x1000, 8, first, 6);
    s.write(0x1000, 8, second, 5);
    assert.equal(s.changedSince(0x1000, p0), first > second, `${first} then ${second} bytes`);
    s.write(0x1000, 8, Math.max(first, second), 5);
    assert.equal(s.changedSince(0x1000, p0), false);
    s.write(0x1000, 60, 8, 5);
    assert.equal(s.changedSince(0x1000, p0), true);
  }
});

test('pages: a small change after many bytes rewritten as they were is a change; put back, it is not', () => {
  const s = new PageStore();
  s.write(0x1000, 0, PAGE_SIZE, 3);
  const p0 = s.position;
  s.write(0x1000, 1000, 600, 3);
  s.write(0x1000, 4000, 1, 4);
  assert.equal(s.changedSince(0x1000, p0), true);
  s.write(0x1000, 3999, 2, 3);
  assert.equal(s.changedSince(0x1000, p0), false);
  s.write(0x1000, 8, 4, 5);
  s.write(0x1000, 0, 1000, 3);
  assert.equal(s.changedSince(0x1000, p0), false);
});

test('pages: thousands of frames across slabs and table chunks, and a log longer than a record chunk, travel back and forth', () => {
  const s = new PageStore();
  const mfns: number[] = [];
  for (let i = 0; i < 3000; i++) {
    mfns.push(0x1000 + i * 3);
  }
  let x = 99;
  const next = (): number => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0);
  const pos: number[] = [];
  const want: Map<number, Uint8Array>[] = [];
  const cur = new Map<number, Uint8Array>();
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 360000; i++) {
      const m = mfns[next() % mfns.length];
      const off = (next() % 1024) * 4;
      const v = next() & 0xff;
      s.write(m, off, 4, v);
      let page = cur.get(m);
      if (page === undefined) {
        page = new Uint8Array(PAGE_SIZE);
        cur.set(m, page);
      }
      page.fill(v, off, off + 4);
    }
    pos.push(s.position);
    want.push(new Map([...cur].map(([m, d]) => [m, d.slice()])));
  }
  const check = (r: number): void => {
    for (const m of mfns) {
      assert.ok(same(s.read(m), pageOf(want[r], m)), `frame ${m} after round ${r}`);
    }
    assert.equal(storeHash(s), refHash(want[r]));
  };
  check(2);
  for (const m of mfns) {
    assert.equal(s.changedSince(m, pos[0]), !same(pageOf(want[0], m), pageOf(want[2], m)));
    assert.ok(same(s.bytesAt(m, pos[1]), pageOf(want[1], m)));
  }
  s.moveTo(pos[0]);
  check(0);
  s.moveTo(pos[1]);
  check(1);
  s.moveTo(0);
  assert.ok(mfns.every((m) => s.isZero(m)));
  s.moveTo(pos[2]);
  check(2);
});

test('pages: long writes across byte-heap chunks survive a divergence in the middle of the heap', () => {
  const s = new PageStore();
  const ref = new RefStore();
  const mfns = [0x1000, 0x1001, 0x2000, 0x7fffffff];
  for (let i = 0; i < 3000; i++) {
    const m = mfns[i % mfns.length];
    const len = i % 7 === 0 ? PAGE_SIZE : 1000 + (i % 3000);
    const src = bytesFrom(i, len, false);
    s.write(m, PAGE_SIZE - len, len, src);
    ref.write(m, PAGE_SIZE - len, len, src);
  }
  const mid = 1500;
  s.moveTo(mid);
  ref.pos = mid;
  for (let i = 0; i < 1000; i++) {
    const m = mfns[(i * 3) % mfns.length];
    const src = bytesFrom(-i, PAGE_SIZE, false);
    s.write(m, 0, PAGE_SIZE, src);
    ref.write(m, 0, PAGE_SIZE, src);
  }
  const at = (p: number): void => {
    s.moveTo(p);
    ref.pos = p;
    const pages = ref.pagesAt(p);
    for (const m of mfns) {
      assert.ok(same(s.read(m), pageOf(pages, m)), `frame ${m} at ${p}`);
    }
  };
  at(ref.log.length);
  at(mid - 1);
  at(mid + 500);
  at(ref.log.length);
  for (const m of mfns) {
    assert.ok(same(s.bytesAt(m, mid + 10), pageOf(ref.pagesAt(mid + 10), m)));
    assert.equal(s.changedSince(m, mid + 10), !same(pageOf(ref.pagesAt(mid + 10), m), s.read(m)));
  }
});

test('pages: the hash of a fixed history is the one the Map-based store gave', () => {
  const s = new PageStore();
  let x = 7;
  const next = (): number => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0);
  const mfns = [0, 0x1000, 0x1fff, 0x2000, 0x100000, 0x100001, 0x7fffffff];
  const hashes: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const m = mfns[next() % mfns.length];
    const len = [1, 2, 4, 4, 4, 8, 33, 600, PAGE_SIZE][next() % 9];
    const off = next() % (PAGE_SIZE - len + 1);
    s.write(m, off, len, next() % 2 ? next() & 0xff : bytesFrom(next(), len, false));
    if (i === 2000) {
      s.moveTo(1000);
      hashes.push(storeHash(s));
      s.moveTo(2001);
    }
  }
  hashes.push(storeHash(s));
  s.moveTo(1500);
  s.write(0x1000, 0, PAGE_SIZE, 0);
  hashes.push(storeHash(s));
  assert.deepEqual(hashes, GOLDEN);
});
const GOLDEN = ['93db8cdcbfe4b0fa', '8aa0aeaec5cde5b0', '3ec7bc273ed22749'];

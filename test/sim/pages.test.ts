/**
 * The page store: guest memory plus its write log. Checked against a reference that keeps a full
 * copy of memory after every write: reads, "changed since", bytes at a past position, time travel
 * back and forth, and replays that re-issue logged writes without growing the log.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PageStore, PAGE_SIZE } from '../../src/sim/pages';

/** Reference memory: mfn → bytes, copied whole at every position. */
type Mem = Map<number, Uint8Array>;
function page(m: Mem, mfn: number): Uint8Array {
  return m.get(mfn) ?? new Uint8Array(PAGE_SIZE);
}
function copyMem(m: Mem): Mem {
  return new Map([...m].map(([k, v]) => [k, v.slice()]));
}

interface W { mfn: number; off: number; len: number; fill: number | null; seed: number }

const MFNS = [0x1000, 0x1001, 0x1fff, 0x2000, 0x100000, 0x7fff_ffff - 5];
const writeArb: fc.Arbitrary<W> = fc.record({
  mfn: fc.constantFrom(...MFNS),
  off: fc.integer({ min: 0, max: PAGE_SIZE - 1 }),
  len: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 4 }) }, { weight: 1, arbitrary: fc.integer({ min: 5, max: PAGE_SIZE }) }),
  fill: fc.option(fc.integer({ min: 0, max: 255 })),
  seed: fc.integer({ min: 0, max: 1000 }),
}).map((w) => ({ ...w, len: Math.min(w.len, PAGE_SIZE - w.off) }));

function bytesOf(w: W): Uint8Array | number {
  if (w.fill !== null) {
    return w.fill;
  }
  const b = new Uint8Array(w.len);
  for (let i = 0; i < w.len; i++) {
    b[i] = (w.seed * 31 + i * 7) & 0xff;
  }
  return b;
}
function applyRef(m: Mem, w: W): void {
  const p = page(m, w.mfn).slice();
  const src = bytesOf(w);
  for (let i = 0; i < w.len; i++) {
    p[w.off + i] = typeof src === 'number' ? src : src[i];
  }
  m.set(w.mfn, p);
}

function checkAt(store: PageStore, history: Mem[], pos: number): void {
  const now = history[pos];
  for (const mfn of MFNS) {
    assert.deepEqual(store.read(mfn), page(now, mfn), `bytes of ${mfn.toString(16)} at position ${pos}`);
    assert.equal(store.isZero(mfn), page(now, mfn).every((b) => b === 0));
    for (const p0 of [0, Math.floor(pos / 2), Math.max(0, pos - 1), pos]) {
      const then = page(history[p0], mfn);
      assert.deepEqual(store.bytesAt(mfn, p0), then, `bytesAt(${mfn.toString(16)}, ${p0}) at ${pos}`);
      assert.equal(store.changedSince(mfn, p0), Buffer.compare(then, page(now, mfn)) !== 0, `changedSince(${mfn.toString(16)}, ${p0}) at ${pos}`);
    }
  }
}

test('page store: reads, changedSince and bytesAt agree with full copies, at every position, back and forth', () => {
  fc.assert(fc.property(fc.array(writeArb, { minLength: 1, maxLength: 60 }), fc.array(fc.nat(), { minLength: 1, maxLength: 6 }), (writes, jumps) => {
    const store = new PageStore();
    const history: Mem[] = [new Map()];
    for (const w of writes) {
      store.write(w.mfn, w.off, w.len, bytesOf(w));
      const m = copyMem(history[history.length - 1]);
      applyRef(m, w);
      history.push(m);
    }
    checkAt(store, history, writes.length);
    for (const j of jumps) {
      const target = j % (writes.length + 1);
      store.moveTo(target);
      assert.equal(store.position, target);
      checkAt(store, history, target);
    }
  }), { numRuns: 150 });
});

test('page store: replaying logged writes after stepping back re-applies them and does not grow the log', () => {
  fc.assert(fc.property(fc.array(writeArb, { minLength: 2, maxLength: 40 }), fc.nat(), (writes, at) => {
    const store = new PageStore();
    for (const w of writes) {
      store.write(w.mfn, w.off, w.len, bytesOf(w));
    }
    const end = store.position;
    const bytes = store.logBytes;
    const back = at % writes.length;
    store.moveTo(back);
    for (const w of writes.slice(back)) {
      store.write(w.mfn, w.off, w.len, bytesOf(w));
    }
    assert.equal(store.position, end);
    assert.equal(store.logBytes, bytes);
    const ref: Mem = new Map();
    writes.forEach((w) => applyRef(ref, w));
    for (const mfn of MFNS) {
      assert.deepEqual(store.read(mfn), page(ref, mfn));
    }
    // Everything is still reachable backwards.
    store.moveTo(0);
    for (const mfn of MFNS) {
      assert.ok(store.isZero(mfn));
    }
  }), { numRuns: 100 });
});

test('page store: a diverging write after stepping back drops the rest of the log, and history before it survives', () => {
  const store = new PageStore();
  store.write(0x1000, 0, 4, 1);
  store.write(0x1000, 100, 2000, 2);
  store.write(0x1000, 0, 4, 3);
  store.write(0x1001, 8, 8, 4);
  store.moveTo(1);
  store.write(0x1000, 50, 600, 9);
  assert.equal(store.position, 2);
  assert.equal(store.read(0x1000)[0], 1);
  assert.equal(store.read(0x1000)[60], 9);
  assert.equal(store.read(0x1000)[1000], 0, 'the dropped 2000-byte write is gone');
  assert.ok(store.isZero(0x1001), 'the dropped write to another frame is undone');
  assert.throws(() => store.moveTo(3), /beyond/);
  store.moveTo(0);
  assert.ok(store.isZero(0x1000));
  store.moveTo(2);
  assert.equal(store.read(0x1000)[599], 9);
  assert.equal(store.changedSince(0x1000, 1), true);
  assert.equal(store.changedSince(0x1001, 0), false);
});

test('page store: a write of the bytes already there is logged but is not a change', () => {
  const store = new PageStore();
  store.write(0x1000, 0, 4, 7);
  const p = store.position;
  store.write(0x1000, 0, 4, 7);
  store.write(0x1000, 0, 1, 7);
  assert.equal(store.position, p + 2);
  assert.equal(store.changedSince(0x1000, p), false);
  store.write(0x1000, 2, 1, 8);
  store.write(0x1000, 2, 1, 7);
  assert.equal(store.changedSince(0x1000, p), false, 'changed and changed back');
  assert.equal(store.changedSince(0x1000, 0), true);
});

// The p2m's range loop against the per-entry operation it stands for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { P2m, T, WHY_GUEST, WHY_HV, changeable } from '../../src/sim/p2m';
import { Hasher } from '../../src/sim/util';

/** Everything an entry holds (type, explicit flag, D, stamp, version) and the p2m's counters. */
function fingerprint(p: P2m, from: number, to: number): string {
  const h = new Hasher();
  p.hashInto(h);
  for (let g = from; g < to; g++) {
    h.num(p.version(g));
  }
  h.num(p.verEpoch);
  h.num(p.ioreqEntries);
  return h.hex();
}

/**
 * The effective type by the rule itself, from the public primitives (the stored type; if a range
 * change is pending on it, p2m_recalc_type: changeable types follow the log-dirty ranges).
 */
function expectedType(p: P2m, g: number, backed: boolean): number {
  const raw = p.rawType(g, backed);
  if (raw === T.invalid || !p.pending(g) || !changeable(raw)) {
    return raw;
  }
  return p.inLogdirtyRange(g) ? T.ram_logdirty : T.ram_rw;
}

function rng(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 4294967296;
  };
}

test('p2m_log_dirty_range in one pass (changeTypeEach) leaves the p2m that p2m_change_type_one page by page leaves', () => {
  const types = [T.ram_rw, T.ram_logdirty, T.mmio_dm, T.ioreq_server];
  for (let seed = 1; seed <= 60; seed++) {
    const r = rng(seed);
    const span = 3000;
    const lo = 4096 - 700;
    // Frames back [lo, lo + span) except one hole: entries there are invalid unless set.
    const hole = lo + Math.floor(r() * span);
    const backed = (g: number): boolean => g >= lo && g < lo + span && (g < hole || g >= hole + 40);
    const p = new P2m();
    // A history: lazy range changes (some still pending), explicit entries, resolved tables.
    for (let k = 0; k < 12; k++) {
      const a = lo + Math.floor(r() * span);
      const b = Math.min(lo + span, a + 1 + Math.floor(r() * 1500));
      const x = r();
      if (x < 0.3) {
        p.changeTypeRange(a, b, T.ram_rw, T.ram_logdirty);
      } else if (x < 0.4) {
        p.changeTypeRange(a, b, T.ram_logdirty, T.ram_rw);
      } else if (x < 0.7) {
        for (let n = 0; n < 40; n++) {
          const g = lo + Math.floor(r() * span);
          p.setEntry(g, types[Math.floor(r() * types.length)], r() < 0.5 ? WHY_HV : WHY_GUEST, backed);
        }
      } else if (x < 0.85) {
        for (let n = 0; n < 40; n++) {
          p.changeTypeOne(lo + Math.floor(r() * span), backed, T.ram_logdirty, T.ram_rw);
        }
      } else {
        p.resolveTable(lo + Math.floor(r() * span), backed);
      }
    }
    const s = lo + Math.floor(r() * (span / 2));
    const e = s + 1 + Math.floor(r() * (span / 2));
    const [ot, nt] = r() < 0.8 ? [T.ram_rw, T.ram_logdirty] : [T.ram_logdirty, T.ram_rw];
    const one = p.cloneShared();
    const each = p.cloneShared();
    const byOne: number[] = [];
    for (let g = s; g < e; g++) {
      // p2m_change_type_one: it changes exactly the entries whose effective type is ot, to nt,
      // leaving nothing pending on them.
      const was = expectedType(one, g, backed(g));
      assert.equal(one.type(g, backed(g)), was, `seed ${seed}: type of gfn ${g}`);
      const did = one.changeTypeOne(g, backed, ot, nt);
      assert.equal(did, was === ot, `seed ${seed}: gfn ${g} was ${was}`);
      if (did) {
        assert.equal(expectedType(one, g, backed(g)), nt);
        assert.equal(one.pending(g), false);
        byOne.push(g - s);
      }
    }
    const byEach: number[] = [];
    each.changeTypeEach(s, e, backed, ot, nt, byEach);
    assert.deepEqual(byEach, byOne, `seed ${seed}: pages changed`);
    assert.ok(byOne.length > 0 || seed > 1, 'the scenarios change pages');
    assert.equal(fingerprint(each, lo, lo + span), fingerprint(one, lo, lo + span), `seed ${seed}: the p2m afterwards`);
  }
});

/**
 * The costs chart's data on the host side, in plain Node: the samples a source takes as steps run
 * (CostSamples) and the series the panel answers (costSeries) stay bounded for a trace of any length.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CostSamples } from '../../src/debug/custom';
import { COST_POINTS_MAX, costSeries, thinVisited } from '../../src/extension/visualizer/costHistory';

describe('cost history', () => {
  it('samples every step of a short run, and a bounded, evenly strided set of a long one', () => {
    const short = new CostSamples(8);
    for (let s = 0; s <= 8; s++) {
      short.note(s, () => ({ cycles: s * 10 }));
    }
    // Nine steps for eight places: every other one, first and last included.
    assert.deepEqual(short.list().map((p) => p.step), [0, 2, 4, 6, 8]);
    const long = new CostSamples(2048);
    let reads = 0;
    for (let s = 0; s <= 1_000_000; s++) {
      long.note(s, () => {
        reads++;
        return { cycles: s };
      });
    }
    const steps = long.list().map((p) => p.step);
    assert.ok(steps.length <= 2048 && steps.length > 1024, `${steps.length} samples`);
    const stride = steps[1] - steps[0];
    assert.ok(steps.every((s, i) => s === i * stride), 'evenly spaced from step 0');
    assert.ok(reads < 20_000, `the counters are read only on the stride (${reads} reads)`);
    // A step already sampled is not read again (a replay after time travel).
    long.note(0, () => assert.fail('read again'));
  });

  it('merges the steps shown with the samples, thins past the bound and keeps the current step', () => {
    const visited = new Map<number, Record<string, number>>([[3, { cycles: 3 }], [7, { cycles: 7 }]]);
    const sampled = [0, 2, 4, 6, 8].map((step) => ({ step, costs: { cycles: step } }));
    assert.deepEqual(costSeries(visited, sampled, 7).map((p) => p.step), [0, 2, 3, 4, 6, 7, 8]);
    const many = Array.from({ length: 100_000 }, (_, step) => ({ step, costs: { cycles: step } }));
    const out = costSeries(new Map(), many, 54_321);
    assert.ok(out.length <= COST_POINTS_MAX, `${out.length} points`);
    assert.equal(out[0].step, 0);
    assert.equal(out[out.length - 1].step, 99_999);
    assert.ok(out.some((p) => p.step === 54_321), 'the current step is kept');
    assert.ok(out.every((p, i) => i === 0 || p.step > out[i - 1].step), 'ascending');
    const v = new Map(Array.from({ length: 5000 }, (_, i) => [i, { cycles: i }] as [number, Record<string, number>]));
    thinVisited(v, 4999, 4096);
    assert.ok(v.size <= 4096 && v.has(4999));
  });
});

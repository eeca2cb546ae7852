/**
 * Every lesson in examples/ runs on the model with all its `expect`s passing, and each bug twin
 * shows the violation it is named for while its correct twin shows none.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseTrace } from '../../src/trace/index';
import { createEngine } from '../../src/sim/engine';

const root = path.join(__dirname, '..', '..', '..');
const dir = path.join(root, 'examples');
const lessons = fs.readdirSync(dir).filter((f) => f.endsWith('.xpt')).sort();

function run(file: string, inject: string[] = []) {
  const text = fs.readFileSync(path.join(dir, file), 'utf8');
  const e = createEngine(parseTrace(text, `examples/${file}`), { inject: inject as never });
  e.run({});
  return e.report();
}

for (const f of lessons) {
  test(`lesson ${f}: every expect passes`, () => {
    const r = run(f);
    assert.deepEqual(r.expects.failed, []);
    assert.ok(r.expects.passed > 0, 'a lesson states its outcome with expect lines');
  });
}

test('bug twins show violations and their correct twins do not', () => {
  const twins = lessons.filter((f) => /\.[a-z-]+\.xpt$/.test(f) && f !== 'demo.xpt');
  assert.ok(twins.length >= 5);
  for (const t of twins) {
    const base = t.replace(/\.[a-z-]+\.xpt$/, '.xpt');
    const bug = t.slice(base.length - 3, -4);
    const rb = run(t);
    const rc = run(base);
    if (bug === 'no-idle-heuristic') {
      // A cost change, not a correctness bug: more scanning, same answers.
      assert.ok(rb.costs.pteScans > rc.costs.pteScans, `${t}: scans more than ${base}`);
      assert.deepEqual(rb.answers.map((a) => a.dirty), rc.answers.map((a) => a.dirty));
    } else {
      assert.ok(rb.violations.length > 0, `${t} shows a violation`);
    }
    assert.equal(rc.violations.length, 0, `${base} shows none`);
  }
});

test('every lesson run twice gives identical state hashes at every step', () => {
  for (const f of lessons) {
    const text = fs.readFileSync(path.join(dir, f), 'utf8');
    const hashes = (): string[] => {
      const e = createEngine(parseTrace(text, f), {});
      const out = [e.stateHash()];
      while (!e.done) {
        e.step();
        out.push(e.stateHash());
      }
      return out;
    };
    assert.deepEqual(hashes(), hashes());
  }
});

for (const lesson of ['demo.xpt', 's10-migration-and-vram.xpt', 'seed-003-abandoned-page-tables.xpt', 'qemu-2017-reset-after-read.qemu-reset-after-read.xpt']) {
  test(`${lesson}: seek back and forward restores identical states (checkpoint + replay)`, () => {
  const text = fs.readFileSync(path.join(dir, lesson), 'utf8');
  const e = createEngine(parseTrace(text, lesson), { checkpointInterval: 7 });
  const hashes = [e.stateHash()];
  while (!e.done) {
    e.step();
    hashes.push(e.stateHash());
  }
  const reportAtEnd = JSON.stringify(e.report());
  for (const k of [0, 3, 17, hashes.length - 2, 9, 1].filter((x) => x < hashes.length)) {
    e.seek(k);
    assert.equal(e.stateHash(), hashes[k], `state after seek(${k})`);
  }
  e.seek(hashes.length - 1);
  assert.equal(JSON.stringify(e.report()), reportAtEnd);
});
}

test('checkpoints thinned past their memory budget stay evenly spaced, and seeks stay exact', () => {
  const text = fs.readFileSync(path.join(dir, 'demo.xpt'), 'utf8');
  const e = createEngine(parseTrace(text, 'demo.xpt'), { checkpointInterval: 2, checkpointBudgetBytes: 1 });
  const hashes = [e.stateHash()];
  while (!e.done) {
    e.step();
    hashes.push(e.stateHash());
  }
  const steps = e.checkpointSteps();
  assert.ok(steps.length <= 3, `thinned to ${steps.join(',')}`);
  const gaps = steps.slice(1).map((s, i) => s - steps[i]);
  assert.ok(gaps.every((g) => g === gaps[0]), `evenly spaced: ${steps.join(',')}`);
  for (const k of [hashes.length - 1, 5, 30, 0, 61]) {
    e.seek(k);
    assert.equal(e.stateHash(), hashes[k]);
  }
});

/** A trace's own `expect` lines as a test's assertions (shared by the model's test files). */
import assert from 'node:assert/strict';
import { parseTrace } from '../../src/trace/index';
import { createEngine, type Engine } from '../../src/sim/engine';

/**
 * Run a trace whose `expect` lines state what Xen's source implies: every one holds (the failures'
 * messages are the assertion's diff), and there is one. Returns the engine at the end.
 */
export function expectsHold(text: string): Engine {
  const e = createEngine(parseTrace(text, 'expects.xpt'), {});
  e.run({});
  const r = e.report();
  assert.deepEqual(r.expects.failed.map((f) => `line ${f.line}: ${f.message}`), []);
  assert.ok(r.expects.passed > 0);
  return e;
}

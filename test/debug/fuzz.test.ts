/**
 * Random sequences of DAP requests — in any order, before or after launch, with plausible or
 * malformed arguments — against the standalone adapter: every request gets a response (success or
 * error) within the time limit, and afterwards the session still answers. XPL_FUZZ_RUNS sets the
 * number of sequences (the default is CI's short run).
 */
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import { fixture, open, within } from './harness';

const RUNS = Number(process.env.XPL_FUZZ_RUNS ?? 8);
const COMMANDS = [
  'launch', 'configurationDone', 'threads', 'setBreakpoints', 'setFunctionBreakpoints', 'setExceptionBreakpoints', 'dataBreakpointInfo',
  'setDataBreakpoints', 'continue', 'next', 'stepIn', 'stepOut', 'stepBack', 'reverseContinue', 'goto', 'gotoTargets', 'pause',
  'stackTrace', 'scopes', 'variables', 'evaluate', 'readMemory', 'exceptionInfo', 'breakpointLocations', 'restart', 'completions',
  'xpl/summary', 'xpl/tlb', 'xpl/walk', 'xpl/p2m', 'xpl/bitmap', 'xpl/tracker', 'xpl/screen', 'xpl/timeline', 'xpl/seek', 'xpl/costs', 'noSuchCommand',
];
const TRACE = fixture('shadow-peek-after-one-store.xpt');
const arg = fc.oneof(
  fc.constant({}),
  fc.constant(null),
  fc.record({ trace: fc.constantFrom(TRACE, '/nonexistent.xpt', 7), stopOnEntry: fc.boolean(), tracker: fc.constantFrom('sl1ma', 'bogus', undefined) }),
  fc.record({ threadId: fc.integer({ min: -1, max: 3 }), frameId: fc.integer({ min: -1, max: 1000 }), variablesReference: fc.integer({ min: 0, max: 2000 }) }),
  fc.record({ source: fc.constant({ path: TRACE }), breakpoints: fc.array(fc.record({ line: fc.integer({ min: -2, max: 20 }), condition: fc.constantFrom(undefined, 'dirtyCount("lfb") > 0', ')(') }), { maxLength: 3 }) }),
  fc.record({ expression: fc.constantFrom('translate 0xffff800000005000', 'tlb 0', 'help', 'p2m 0x3005', 'bitmap lfb', '1 +', 'dirtyCount("nope")'), frameId: fc.integer({ min: 0, max: 10 }) }),
  fc.record({ filters: fc.array(fc.constantFrom('lost-update', 'stale-tlb', 'any', 'bogus'), { maxLength: 3 }) }),
  fc.record({ step: fc.integer({ min: -5, max: 50 }), fb: fc.constantFrom('lfb', 'x'), start: fc.integer({ min: -1, max: 20 }), count: fc.integer({ min: -1, max: 100 }), vcpu: fc.constantFrom('g.0', '9', 'x'), va: fc.integer({ min: -1, max: 2 ** 48 }), gfn: fc.integer({ min: -1, max: 0x4000 }), dom: fc.constantFrom('g', 'x') }),
  fc.record({ memoryReference: fc.constantFrom('g:g:0x3005', 'm:0', 'junk'), offset: fc.integer({ min: -10, max: 5000 }), count: fc.integer({ min: -1, max: 9000 }) }),
);
const request = fc.tuple(fc.constantFrom(...COMMANDS), arg);

describe('adapter fuzzing', () => {
  it(`${RUNS} random request sequences: every request answered, the adapter still alive`, async () => {
    let answered = 0;
    let failed = 0;
    await fc.assert(fc.asyncProperty(fc.array(request, { minLength: 1, maxLength: 25 }), async (seq) => {
      const s = await open();
      try {
        await within(s.dc.initializeRequest({ adapterID: 'xpl', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path' }), 'initialize');
        for (const [cmd, a] of seq) {
          await within(s.dc.customRequest(cmd, a as never).then(() => answered++, () => failed++), cmd, 20000);
        }
        const t = await within(s.dc.threadsRequest(), 'threads after the sequence', 20000);
        assert.ok(Array.isArray(t.body.threads));
      } finally {
        await within(s.dc.stop(), 'stop', 20000).catch(() => undefined);
      }
    }), { numRuns: RUNS, seed: Number(process.env.XPL_FUZZ_SEED ?? 11) });
    assert.ok(answered + failed > 0);
    if (process.env.XPL_FUZZ_RUNS) {
      console.log(`adapter fuzz: ${RUNS} sequences, ${answered} requests succeeded, ${failed} answered with an error`);
    }
  });
});


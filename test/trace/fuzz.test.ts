/**
 * Lines built at random from the language's own vocabulary (every keyword, key and typical value)
 * reach deep into the checker; whatever the mix, parsing ends in a Program or a TraceError with a
 * sane position, never another exception, and diagnostics never throw.
 */
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import { STATEMENTS } from '../../src/trace/keywords';
import { diagnoseTrace, parseTrace, textToJsonl, jsonlToText, TraceError } from '../../src/trace/index';

const PREAMBLE = [
  'domain g paging=shadow mem=64M vcpus=2',
  'domain h paging=hap mem=1G vcpus=1 pml=on',
  'vram lfb dom=g gfn=0x3000 pages=16',
  'process p dom=g',
  'ioreq server gpu dom=h',
].join('\n') + '\n';

const KEYWORDS = [...new Set(STATEMENTS.map((s) => s.keyword))];
const KEYS = [...new Set(STATEMENTS.flatMap((s) => s.keys.map((k) => k.name)))];
const WORDS = [...new Set(STATEMENTS.flatMap((s) => [
  ...(s.selector && 'word' in s.selector ? [s.selector.word] : []),
  ...s.positional.flatMap((p) => p.values ?? [p.name]),
]))];
const VALUES = [
  'g', 'h', 'x', 'g.0', 'g.1', 'g.9', 'h.0', '0', '1', '7', '16', '0x1000', '0xffff800000000000', '0x0000800000000000',
  '64M', '1T', '2T', '5ms', '2s', 'lfb', 'p', 'kernel', 'gpu', 'none', 'all', 'enodata', '0..4', '4..0', '0..262145', '1,2,3',
  '1,,2', '0,0,8,8', '0,0,2000,1', '0x00ff00', 'port', 'pci', 'mmio', '0x60..0x65', '0000:00:02.0', 'stale-tlb', 'D,A', 'sl1ma',
  'p2m-type', 'on', 'off', 'shadow', 'hap', '-1', '1__0', '99999999999999999999', '""', '"note"', 'é', '😀',
];

describe('vocabulary fuzzing', () => {
  const token = fc.oneof(
    fc.tuple(fc.constantFrom(...KEYS), fc.constantFrom(...VALUES)).map(([k, v]) => `${k}=${v}`),
    fc.constantFrom(...WORDS, ...VALUES),
  );
  const randomLine = fc.tuple(fc.constantFrom(...KEYWORDS), fc.array(token, { maxLength: 6 })).map(([k, ts]) => [k, ...ts].join(' '));
  const validLine = fc.constantFrom(
    'peek fb=lfb', 'write vcpu=g.0 va=0x1000 len=8', 'tick 5ms', 'expect fb=lfb dirty=0..4', 'flush dom=h', 'note "x \\"y\\""',
    'logdirty dom=h enable', 'ioreq map gpu kind=port range=0x60..0x65', 'expect ioreq server=none', 'cr3 vcpu=g.1 process=p  # c',
    '  map vcpu=g.0 va=0x400000 fb=lfb ro', 'expect violation=stale-tlb', 'refresh fb=lfb phase=draw', '', '# comment',
  );
  const line = fc.oneof({ arbitrary: validLine, weight: 6 }, { arbitrary: randomLine, weight: 1 });
  const trace = fc.array(line, { minLength: 1, maxLength: 8 }).map((ls) => PREAMBLE + ls.join('\n') + '\n');

  it('parses to a Program or a positioned TraceError, and round-trips what it accepts', () => {
    let accepted = 0;
    fc.assert(fc.property(trace, (text) => {
      const lines = text.split('\n').length;
      try {
        const p = parseTrace(text, 'f.xpt');
        accepted++;
        assert.equal(jsonlToText(textToJsonl(text, 'f.xpt'), 'f.xpt.jsonl'), text);
        assert.ok(p.statements.length >= 5);
      } catch (e) {
        assert.ok(e instanceof TraceError, e instanceof Error ? e.stack : String(e));
        assert.ok(e.line >= 1 && e.line <= lines && e.col >= 1, e.message);
        assert.doesNotMatch(e.message, /\n/);
      }
      for (const d of diagnoseTrace(text, 'f.xpt')) {
        assert.ok(d instanceof TraceError && d.line >= 1 && d.col >= 1);
      }
    }), { numRuns: 600 });
    assert.ok(accepted > 0, 'some generated traces should be valid');
  });

  it('survives JSON Lines junk', () => {
    const member = fc.tuple(fc.constantFrom('op', 'args', 'text', '#ws', '#order', ...KEYS), fc.oneof(
      fc.constantFrom(...KEYWORDS, ...VALUES).map((v) => JSON.stringify(v)),
      fc.integer().map(String), fc.constantFrom('1.5', 'true', 'null', '[]', '[1,"x"]', '[[1]]', '{}', '"\\n"'),
    )).map(([k, v]) => `"${k}":${v}`);
    const jline = fc.array(member, { maxLength: 5 }).map((ms) => `{${ms.join(',')}}`);
    fc.assert(fc.property(fc.array(fc.oneof(jline, fc.string({ maxLength: 20 })), { maxLength: 6 }), (ls) => {
      const text = ls.join('\n');
      try {
        parseTrace(text, 'f.xpt.jsonl');
      } catch (e) {
        assert.ok(e instanceof TraceError, e instanceof Error ? e.stack : String(e));
        assert.doesNotMatch(e.message, /\n/);
      }
      diagnoseTrace(text, 'f.xpt.jsonl');
    }), { numRuns: 500 });
  });
});

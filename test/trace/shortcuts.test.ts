// The parser's shortcut for plain `write vcpu=V va=A` lines against its general path: the same
// statements (with their columns) or the same error, and the same diagnostics, for random traces.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diagnoseTrace, parseTrace, plainStore } from '../../src/trace/index';
import { lexLine } from '../../src/trace/lexer';
import { lexedToRaw } from '../../src/trace/jsonl';
import { parserShortcuts } from '../../src/trace/parser';

function rng(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 4294967296;
  };
}

/** Both ways: every statement as an object (with its columns), or the error. */
function outcome(text: string, file: string, shortcuts: boolean): string {
  parserShortcuts.enabled = shortcuts;
  try {
    const p = parseTrace(text, file);
    const out: unknown[] = [];
    for (let i = 0; i < p.statements.length; i++) {
      out.push(p.statements.at(i));
    }
    return JSON.stringify(out);
  } catch (e) {
    return `error: ${(e as Error).message}`;
  } finally {
    parserShortcuts.enabled = true;
  }
}
function diagnostics(text: string, file: string, shortcuts: boolean): string[] {
  parserShortcuts.enabled = shortcuts;
  try {
    return diagnoseTrace(text, file).map((e) => e.message);
  } finally {
    parserShortcuts.enabled = true;
  }
}

const VCPUS = ['g.0', 'g.1', 'g.7', 'h.0', 'nodom.0', 'g.01', '0', 'g.', 'g.x', '_d-2.0'];
const VAS = [
  '0x1000', '0x10000ffc', '0xffff800000001000', '0xFFFF800000001ffe', '0xffff7ffffffff000', '0x0000800000000000',
  '0x7ffffffffffe', '4096', '0x', '0x1_000', '0xfffffffffffffffff', '0xffffffffffff1000', '0x00007ffffffff000', '12345678901234567',
];

function line(r: () => number): string {
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)] as T;
  const x = r();
  if (x < 0.6) {
    return `write vcpu=${pick(VCPUS)} va=${pick(VAS)}`;
  }
  if (x < 0.7) {
    // Near misses of the plain shape: the general path's own.
    return pick([
      `write  vcpu=g.0 va=0x1000`, `write vcpu=g.0 va=0x1000 # c`, `write vcpu=g.0 va=0x1000 `, `write va=0x1000 vcpu=g.0`,
      `write vcpu=g.0 va=0x1000 len=8`, `write vcpu=g.0 va=0x1000 byte=7`, `write vcpu=g.0 vcpu=g.0`, `write vcpu=g.0`,
      `\twrite vcpu=g.0 va=0x2000`, `Write vcpu=g.0 va=0x1000`, `write vcpu="g.0" va=0x1000`, `read vcpu=g.0 va=0x1000`,
    ]);
  }
  if (x < 0.8) {
    return pick(['peek fb=lfb', '# a comment', '', 'repeat 3', 'end', 'invlpg vcpu=g.0 va=0x1000']);
  }
  return `write vcpu=${pick(VCPUS)} va=0x${Math.floor(r() * 0x10000).toString(16)}${pick(['000', 'ffc', 'ffe', ''])}`;
}

test('plain write lines parse the same with the shortcut as through the lexer and the general checks', () => {
  const head = 'domain g paging=hap mem=64M vcpus=2\nvram lfb dom=g gfn=0x3000 pages=16\nmap vcpu=g.0 va=0x10000000 fb=lfb\n';
  let parsedBoth = 0;
  for (let seed = 1; seed <= 400; seed++) {
    const r = rng(seed);
    const lines: string[] = [];
    const n = 1 + Math.floor(r() * 12);
    for (let i = 0; i < n; i++) {
      lines.push(line(r));
    }
    // Often a trace whose lines all parse: only the good values.
    const text = head + (r() < 0.5 ? lines.join('\n') : lines.filter((l) => !/nodom|g\.0[1x]|g\.$|va=0x$|_|h\.0|g\.7|7ffe|0x0000800|ffff7|fffffffffffffffff|12345678901234567|0x1_000|vcpu=0 /.test(l)).join('\n')) + (r() < 0.5 ? '\n' : '');
    const a = outcome(text, 't.xpt', true);
    const b = outcome(text, 't.xpt', false);
    assert.equal(a, b, `seed ${seed}:\n${text}`);
    if (!a.startsWith('error')) {
      parsedBoth++;
    }
    assert.deepEqual(diagnostics(text, 't.xpt', true), diagnostics(text, 't.xpt', false), `seed ${seed}: diagnostics`);
  }
  assert.ok(parsedBoth > 50, `${parsedBoth} traces parsed without an error`);
});

test('the shortcut makes of a plain line exactly the raw statement the lexer makes', () => {
  for (const text of ['write vcpu=g.0 va=0x1000', 'write vcpu=dom_1-x.127 va=0xffff800000001000', 'write vcpu=a.0 va=4096']) {
    assert.deepEqual(plainStore({ line: 9, text, cr: false }), lexedToRaw(lexLine(text, 0, text.length, 9, false)), text);
  }
  for (const text of ['write vcpu=g.0 va=0x1000 ', 'write vcpu=g.0  va=0x1000', 'write vcpu=0 va=0x1000', 'write vcpu=g.0 va=0x1000 len=4']) {
    assert.equal(plainStore({ line: 1, text, cr: false }), null, text);
  }
  assert.equal(plainStore({ line: 1, text: 'write vcpu=g.0 va=0x1000', cr: true }), null, 'CRLF lines go through the lexer');
});

/**
 * The Limits section of the spec, at and just beyond each edge, and the byte-level checks of
 * readTraceFile (1 GiB file, 1 MiB line, invalid UTF-8). A huge line must be refused without
 * parsing it (no timing assertion: the test only needs to finish).
 */
import { describe, it, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LIMITS, parseTrace, parseTraceBounded, readTraceFile, TraceError } from '../../src/trace/index';
import { assertError, ok } from './util';

const MiB = 1024 * 1024;

function domains(n: number): string {
  return Array.from({ length: n }, (_, i) => `domain d${i} paging=hap mem=1M vcpus=1`).join('\n');
}

describe('limits', () => {
  it('allows 64 domains and refuses the 65th at its line', () => {
    assert.equal(ok(domains(64)).length, 64);
    assertError(domains(65), '65:1', /too many domains: at most 64/);
  });
  it('allows 128 vCPUs per domain, not 129', () => {
    ok('domain g paging=hap mem=1M vcpus=128\nvmexit vcpu=127');
    assertError('domain g paging=hap mem=1M vcpus=129', '1:34', /vcpus 129 exceeds the limit of 128/);
    assertError('domain g paging=hap mem=1M vcpus=0', '1:34', /too small/);
  });
  it('allows 64 framebuffers, not 65', () => {
    const fbs = (n: number): string => 'domain g paging=hap mem=1G vcpus=1\n' + Array.from({ length: n }, (_, i) => `vram f${i} dom=g gfn=${i * 16} pages=16`).join('\n');
    ok(fbs(64));
    assertError(fbs(65), '66:1', /too many framebuffers: at most 64/);
  });
  it('allows 4096 process statements, not 4097; each domain\'s kernel is not counted', () => {
    const procs = (n: number, doms = 1): string => Array.from({ length: doms }, (_, i) => `domain g${i} paging=hap mem=1M vcpus=1\n`).join('')
      + Array.from({ length: n }, (_, i) => `process p${i} dom=g${i % doms}`).join('\n');
    ok(procs(4096));
    ok(procs(4096, 64));
    assertError(procs(4097), '4098:1', /too many processes: at most 4096 'process' statements \(each domain's kernel is not counted\)/);
    assertError(procs(4097, 64), '4161:1', /too many processes: at most 4096/);
  });
  it('allows 1 TiB per domain, not a page more', () => {
    ok('domain g paging=hap mem=1T vcpus=1');
    assertError(`domain g paging=hap mem=${2 ** 40 + 4096} vcpus=1`, '1:25', /exceeds the limit of 1 TiB per domain/);
  });
  it('allows exactly 10^8 executed steps', () => {
    const st = ok('repeat 100000000\n  tick 1ns\nend');
    assert.equal(st.length, 3);
  });
  it('refuses the statement that crosses 10^8 steps outside any repeat', () => {
    assertError('repeat 100000000\n  tick 1ns\nend\ntick 1ns', '4:1', /more than 10\^8 steps/);
  });
  it('refuses the outermost repeat whose nested total crosses 10^8 steps', () => {
    assertError('tick 1ns\nrepeat 10000\n  repeat 10001\n    tick 1ns\n  end\nend', '2:1', /this repeat would make the trace execute more than 10\^8 steps/);
  });
  it('refuses a repeat count over 10^8 when it is read', () => {
    assertError('repeat 100000001\n  tick 1ns\nend', '1:8', /repeat count 100000001 is too large \(at most 10\^8\)/);
  });
  it('bounds the numbers all lists of a trace expand to (2^22), and one list (2^20)', () => {
    const line = 'expect logdirty dom=g dirty=0..1048576';
    const head = 'domain g paging=hap mem=1T vcpus=1\n';
    ok(head + Array.from({ length: 4 }, () => line).join('\n'));
    assertError(head + Array.from({ length: 5 }, () => line).join('\n'), '6:29', /expand to more than 4194304 numbers in total/);
    assertError(head + 'expect logdirty dom=g dirty=0..1048577', '2:29', /list is too long \(more than 1048576 entries\)/);
  });
  it('refuses more statements than one Program holds, at the first one over', () => {
    assert.equal(LIMITS.statements, 2 ** 21);
    const bounds = { statements: 1000 };
    assert.equal(parseTraceBounded('tick 1ns\n'.repeat(1000), 't.xpt', bounds).statements.length, 1000);
    assert.throws(() => parseTraceBounded('# lesson\n' + 'tick 1ns\n'.repeat(1001), 't.xpt', bounds),
      (e: unknown) => e instanceof TraceError && e.line === 1002 && e.col === 1 && /more than 1000 statements \(the parser's bound/.test(e.detail));
  });
  it('bounds loop iterations even with empty bodies', () => {
    assertError('repeat 100000000\n  repeat 2\n  end\nend', '1:1', /more than 10\^8 iterations/);
  });
  it('allows exactly 10^8 steps through nested repeats (repeat and end lines are not steps)', () => {
    ok('repeat 2\n  repeat 50000000\n    tick 1ns\n  end\nend');
    ok('repeat 100\n  repeat 1000000\n    repeat 1\n      tick 1ns\n    end\n  end\nend');
  });
});

describe('line and file size', () => {
  it('accepts a line of exactly 1 MiB and refuses one byte more', () => {
    ok('#' + 'x'.repeat(MiB - 1));
    assertError('tick 1ns\n#' + 'x'.repeat(MiB), '2:1', /line is longer than 1 MiB/);
  });
  it('counts the limit in UTF-8 bytes, not characters', () => {
    // 524288 two-byte characters plus '#' = 1 MiB + 1 byte in 524289 characters
    assertError('#' + 'é'.repeat(MiB / 2), '1:1', /longer than 1 MiB/);
  });
  it('refuses a 50 MB line in a string', () => {
    assertError('x'.repeat(50_000_000), '1:1', /longer than 1 MiB/);
  });

  let dir = '';
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xpl-limits-'));
  });
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const errorOfFile = (p: string): TraceError => {
    try {
      readTraceFile(p);
    } catch (e) {
      assert.ok(e instanceof TraceError);
      return e;
    }
    assert.fail('expected a TraceError');
  };

  it('refuses a 50 MB line in a file at its line', () => {
    const p = path.join(dir, 'long-line.xpt');
    fs.writeFileSync(p, Buffer.concat([Buffer.from('tick 1ns\n'), Buffer.alloc(50_000_000, 0x61), Buffer.from('\n')]));
    const e = errorOfFile(p);
    assert.deepEqual([e.line, e.col, e.detail], [2, 1, 'line is longer than 1 MiB (the limit)']);
  });
  it('reports an earlier error before a later over-long line', () => {
    const p = path.join(dir, 'early-error.xpt');
    fs.writeFileSync(p, Buffer.concat([Buffer.from('tick 5\n'), Buffer.alloc(2 * MiB, 0x61)]));
    const e = errorOfFile(p);
    assert.deepEqual([e.line, e.col], [1, 6]);
  });
  it('refuses a file over 1 GiB before reading it', () => {
    const p = path.join(dir, 'huge.xpt');
    fs.closeSync(fs.openSync(p, 'w'));
    fs.truncateSync(p, 1024 * MiB + 1); // sparse: nothing is written
    const e = errorOfFile(p);
    assert.equal(e.message, `${p}:1:1: error: the file is larger than 1 GiB (the limit)`);
  });
  it('refuses invalid UTF-8 at its line and column', () => {
    const p = path.join(dir, 'latin1.xpt');
    fs.writeFileSync(p, Buffer.from('# ok\nnote "caf\xe9 cr\xe8me"\n', 'latin1'));
    const e = errorOfFile(p);
    assert.deepEqual([e.line, e.col], [2, 10]);
    assert.match(e.detail, /invalid UTF-8 \(byte 0xe9\)/);
  });
  it('refuses overlong and surrogate UTF-8 encodings', () => {
    for (const bytes of [[0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82]]) {
      const p = path.join(dir, 'bad-utf8.xpt');
      fs.writeFileSync(p, Buffer.from([0x23, ...bytes, 0x0a]));
      const e = errorOfFile(p);
      assert.deepEqual([e.line, e.col], [1, 2], bytes.join(','));
    }
  });
  it('refuses a binary file', () => {
    const p = path.join(dir, 'binary.xpt');
    fs.writeFileSync(p, Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x01, 0x00]));
    const e = errorOfFile(p);
    assert.equal(e.line, 1);
    assert.match(e.detail, /control character|NUL|invalid UTF-8/);
  });
  it('reads a valid UTF-8 file like the string form', () => {
    const p = path.join(dir, 'note.xpt');
    const text = 'note "café ☕ 😀"\n';
    fs.writeFileSync(p, text);
    assert.deepEqual(readTraceFile(p).statements, parseTrace(text, p).statements);
  });
  it('accepts a UTF-8 byte-order mark at the very start of a file or string, and ignores it (columns too)', () => {
    const text = 'domain g paging=hap mem=64M vcpus=1\ntick 1ns\n';
    const p = path.join(dir, 'bom.xpt');
    fs.writeFileSync(p, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]));
    assert.deepEqual(readTraceFile(p).statements, parseTrace(text, p).statements);
    assert.deepEqual(parseTrace('\ufeff' + text, p).statements, parseTrace(text, p).statements);
    // Columns on line 1 do not count it, from a file and from a string.
    fs.writeFileSync(p, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('domain g paging=hop mem=64M vcpus=1\n')]));
    assert.deepEqual([errorOfFile(p).line, errorOfFile(p).col], [1, 17]);
    assertError('\ufeffdomain g paging=hop mem=64M vcpus=1\n', '1:17', /bad value 'hop'/);
    // JSON Lines too (by name, and by content after the mark).
    const j = '{"op":"domain","args":["g"],"paging":"hap","mem":"64M","vcpus":1}\n';
    assert.deepEqual(parseTrace('\ufeff' + j, 'b.xpt.jsonl').statements, parseTrace(j, 'b.xpt.jsonl').statements);
    assert.equal(parseTrace('\ufeff' + j, 'b.txt').statements.length, 1);
    fs.writeFileSync(p, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(j)]));
    assert.equal(readTraceFile(p).statements.length, 1);
    // Anywhere else it is still an error, at its column.
    assertError('tick 1ns\n\ufefftick 1ns\n', '2:1', /byte-order mark \(U\+FEFF\) in the middle of the trace/);
    assertError('\ufeff\ufefftick 1ns\n', '1:1', /byte-order mark/);
    assertError('note "a\ufeff"\n', '1:8', /byte-order mark/);
  });
  it('names a missing file in one line', () => {
    const e = errorOfFile(path.join(dir, 'missing.xpt'));
    assert.match(e.message, /missing\.xpt:1:1: error: cannot read the trace: no such file$/);
  });
});

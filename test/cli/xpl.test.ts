/**
 * `xpl` as a user runs it: `node dist/xpl.js ...` (built with
 * `npx webpack --mode development --env only=cli`; built here if missing).
 */
import { describe, it, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const REPO = path.resolve(__dirname, '../../..');
const XPL = path.join(REPO, 'dist', 'xpl.js');
const FIX = 'test/fixtures/trace';

interface Result { code: number | null; out: string; err: string }

function xpl(args: string[], env: Record<string, string> = {}): Result {
  const r = spawnSync(process.execPath, [XPL, ...args], { cwd: REPO, encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** A one-line `FILE:LINE:COL: error: MESSAGE` and nothing else (no stack trace). */
function assertOneLineError(r: Result, prefix: string, message: RegExp): void {
  assert.equal(r.code, 2, r.err);
  const lines = r.err.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, r.err);
  assert.ok(lines[0]?.startsWith(prefix), `expected "${prefix}...", got "${lines[0]}"`);
  assert.match(lines[0] ?? '', message);
  assert.doesNotMatch(r.err, /\n\s+at /);
}

let tmp = '';
before(() => {
  if (!fs.existsSync(XPL)) {
    execFileSync('npx', ['webpack', '--mode', 'development', '--env', 'only=cli'], { cwd: REPO, stdio: 'ignore' });
  }
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xpl-cli-'));
});
after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('xpl run', () => {
  it('prints the report as JSON with the spec\'s fields and exits 0 when every expect passes', () => {
    const r = xpl(['run', `${FIX}/shadow-write-then-peek.xpt`, '--json']);
    assert.equal(r.code, 0, r.err);
    const rep = JSON.parse(r.out) as Record<string, unknown> & { answers: { line: number; kind: string; dirty: number[]; missed: number[] }[]; expects: { passed: number; failed: unknown[] } };
    for (const k of ['trace', 'tracker', 'steps', 'answers', 'violations', 'logdirty', 'ioreq', 'expects', 'costs']) {
      assert.ok(k in rep, k);
    }
    assert.equal(rep['trace'], `${FIX}/shadow-write-then-peek.xpt`);
    assert.equal(rep['tracker'], 'sl1ma');
    assert.equal(rep['steps'], 10);
    assert.deepEqual(rep.answers.map((a) => [a.line, a.kind, a.dirty]), [[6, 'enodata', []], [10, 'bitmap', [1, 5]]]);
    assert.deepEqual(rep.expects, { passed: 3, failed: [] });
  });
  it('counts every iteration of a repeat body as a step', () => {
    const r = xpl(['run', `${FIX}/hap-write-then-peek.xpt`, '--json']);
    assert.equal(r.code, 0, r.err);
    const rep = JSON.parse(r.out) as { steps: number; tracker: string };
    assert.equal(rep.tracker, 'p2m-type');
    assert.equal(rep.steps, 10); // 5 set-up/peek/expect lines + 3 writes + peek + expect
  });
  it('prints a readable summary and exits 1 when an expect fails', () => {
    const r = xpl(['run', `${FIX}/expect-fails.xpt`]);
    assert.equal(r.code, 1, r.err);
    assert.match(r.out, /expects: 0 passed, 1 failed/);
    assert.match(r.out, /line 8 +expected fb=lfb dirty=4/);
    assert.match(r.out, /line 7 +lfb +bitmap +dirty 3/);
    assert.match(r.out, /costs:\n +vmexits +\d+/);
  });
  it('reports a trace error as one line and exits 2', () => {
    const f = path.join(tmp, 'bad-number.xpt');
    fs.writeFileSync(f, 'domain g paging=hap mem=64M vcpus=1\nvram lfb dom=g gfn=0x3g00 pages=4\n');
    assertOneLineError(xpl(['run', f]), `${f}:2:20: error: `, /bad number '0x3g00'/);
  });
  it('reports a guest fault the model does not handle at the argument at fault', () => {
    const f = path.join(tmp, 'ro-store.xpt');
    fs.writeFileSync(f, 'domain g paging=shadow mem=64M vcpus=1\nmap vcpu=0 va=0x400000 gfn=0x100 pages=1 ro\nwrite vcpu=0 va=0x400000\n');
    assertOneLineError(xpl(['run', f]), `${f}:3:`, /error: .*read-only/);
  });
  it('overrides the tracker and refuses one that does not fit the paging', () => {
    const ok = xpl(['run', `${FIX}/shadow-write-then-peek.xpt`, '--json', '--tracker', 'memcmp']);
    assert.equal((JSON.parse(ok.out) as { tracker: string }).tracker, 'memcmp');
    assertOneLineError(xpl(['run', `${FIX}/shadow-write-then-peek.xpt`, '--tracker=p2m-type']),
      `${FIX}/shadow-write-then-peek.xpt:2:10: error: `, /--tracker p2m-type needs paging=hap, but domain 'g' uses paging=shadow/);
  });
  it('checks --inject and --tracker values', () => {
    const r = xpl(['run', `${FIX}/hap-write-then-peek.xpt`, '--inject', 'skip-flush', '--inject', 'no-pml-drain', '--json']);
    assert.equal(r.code === 0 || r.code === 1, true, r.err);
    const bad = xpl(['run', `${FIX}/hap-write-then-peek.xpt`, '--inject', 'skip-flsh']);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /^xpl: unknown bug 'skip-flsh' .*did you mean 'skip-flush'/);
    assert.equal(xpl(['run', `${FIX}/hap-write-then-peek.xpt`, '--tracker', 'nope']).code, 2);
  });
  it('prints every violation with the spec\'s fixed fields first, fb and pages included when it concerns no framebuffer', () => {
    const f = path.join(tmp, 'no-flush.xpt');
    fs.writeFileSync(f, 'domain g paging=shadow mem=16M vcpus=1\nmap vcpu=g.0 va=0x1000 gfn=0x10 pages=1\nwrite vcpu=g.0 va=0x1000\npte vcpu=g.0 va=0x1000 clear=RW\nwrite vcpu=g.0 va=0x1000\n');
    const r = xpl(['run', f, '--json']);
    const v = (JSON.parse(r.out) as { violations: Record<string, unknown>[] }).violations;
    assert.equal(v.length, 1);
    assert.deepEqual(Object.keys(v[0]).slice(0, 5), ['line', 'id', 'fb', 'pages', 'message']);
    assert.deepEqual([v[0].id, v[0].fb, v[0].pages, v[0].vcpu], ['guest-no-flush', null, [], 'g.0']);
  });
  it('keeps the first notes within a bound and counts the rest, so a loop of big notes runs (exit 0)', () => {
    const p = path.join(tmp, 'bignote.xpt');
    fs.writeFileSync(p, `repeat 600\nnote "${'a'.repeat(1_000_000)}"\nend\n`);
    const r = xpl(['run', p, '--json']);
    assert.equal(r.code, 0, r.err);
    const rep = JSON.parse(r.out) as { steps: number; notes: { line: number; text: string }[]; notesOmitted: number };
    assert.equal(rep.steps, 600);
    assert.equal(rep.notes.length, 1);
    assert.equal(rep.notes[0]?.text.length, 1_000_000);
    assert.equal(rep.notesOmitted, 599);
  });
  it('names a directory given as TRACE in one line', () => {
    assertOneLineError(xpl(['run', 'test']), 'test:1:1: error: ', /cannot read the trace: it is a directory/);
  });
  it('runs a JSON Lines trace found by its content, whatever its name', () => {
    const f = path.join(tmp, 'content.trace');
    fs.writeFileSync(f, '{"op":"domain","args":["g"],"paging":"hap","mem":"16M","vcpus":1}\n{"op":"tick","args":["5ms"]}\n');
    const r = xpl(['run', f, '--json']);
    assert.equal(r.code, 0, r.err);
    assert.equal((JSON.parse(r.out) as { steps: number }).steps, 2);
  });
  it('refuses unknown options and missing files in one line', () => {
    const r = xpl(['run', `${FIX}/hap-write-then-peek.xpt`, '--jsn']);
    assert.equal(r.code, 2);
    assert.match(r.err, /^xpl: unknown option '--jsn' \(did you mean '--json'\?\)\n$/);
    assertOneLineError(xpl(['run', 'no/such.xpt']), 'no/such.xpt:1:1: error: ', /no such file/);
  });
});

describe('xpl check', () => {
  it('prints PASS per file and exits 0', () => {
    const r = xpl(['check', `${FIX}/shadow-write-then-peek.xpt`, `${FIX}/hap-write-then-peek.xpt`]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^PASS test\/fixtures\/trace\/shadow-write-then-peek.xpt \(3 expects\)$/m);
    assert.match(r.out, /^PASS test\/fixtures\/trace\/hap-write-then-peek.xpt/m);
    assert.match(r.out, /^2 of 2 passed$/m);
  });
  it('prints FAIL with the failed expects and exits 1', () => {
    const r = xpl(['check', `${FIX}/shadow-write-then-peek.xpt`, `${FIX}/expect-fails.xpt`]);
    assert.equal(r.code, 1);
    assert.match(r.out, /^FAIL test\/fixtures\/trace\/expect-fails.xpt\n {2}test\/fixtures\/trace\/expect-fails.xpt:8: expected fb=lfb dirty=4/m);
  });
  it('goes on after a trace error and exits 2', () => {
    const f = path.join(tmp, 'unknown-keyword.xpt');
    fs.writeFileSync(f, 'domian g\n');
    const r = xpl(['check', f, `${FIX}/expect-fails.xpt`]);
    assert.equal(r.code, 2);
    assert.match(r.out, /^ERROR .*unknown-keyword.xpt$/m);
    assert.match(r.out, /^FAIL /m);
    assert.match(r.err, /unknown-keyword.xpt:1:1: error: unknown keyword 'domian'/);
  });
});

describe('xpl convert', () => {
  it('runs a trace that starts with a byte-order mark, and converts it both ways byte for byte', () => {
    const src = path.join(tmp, 'bom.xpt');
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), fs.readFileSync(path.join(REPO, FIX, 'hap-write-then-peek.xpt'))]);
    fs.writeFileSync(src, bytes);
    const r = xpl(['run', src, '--json']);
    assert.equal(r.code, 0, r.err);
    const j = path.join(tmp, 'bom.xpt.jsonl');
    const t = path.join(tmp, 'bom-back.xpt');
    assert.equal(xpl(['convert', src, j]).code, 0);
    assert.match(fs.readFileSync(j, 'utf8'), /^\{"op":"#","text":"# Under HAP[^\n]*"#bom":true\}\n/);
    assert.equal(xpl(['convert', j, t]).code, 0);
    assert.deepEqual(fs.readFileSync(t), bytes);
    assert.equal(xpl(['run', j, '--json']).code, 0);
  });
  it('converts text to JSON Lines and back byte for byte', () => {
    const src = `${FIX}/hap-write-then-peek.xpt`;
    const j = path.join(tmp, 'hap.xpt.jsonl');
    const t = path.join(tmp, 'hap.xpt');
    assert.equal(xpl(['convert', src, j]).code, 0);
    assert.match(fs.readFileSync(j, 'utf8'), /^\{"op":"#","text":"# Under HAP/);
    assert.equal(xpl(['convert', j, t]).code, 0);
    assert.equal(fs.readFileSync(t, 'utf8'), fs.readFileSync(path.join(REPO, src), 'utf8'));
    // and the JSON Lines form runs to the same answers
    const a = JSON.parse(xpl(['run', src, '--json']).out) as { answers: unknown; steps: number };
    const b = JSON.parse(xpl(['run', j, '--json']).out) as { answers: unknown; steps: number };
    assert.deepEqual([b.answers, b.steps], [a.answers, a.steps]);
  });
  it('refuses to overwrite an existing OUT unless --force', () => {
    const out = path.join(tmp, 'exists.xpt.jsonl');
    fs.writeFileSync(out, 'keep me');
    const r = xpl(['convert', `${FIX}/expect-fails.xpt`, out]);
    assert.equal(r.code, 2);
    assert.match(r.err, /exists; use --force/);
    assert.equal(fs.readFileSync(out, 'utf8'), 'keep me');
    assert.equal(xpl(['convert', `${FIX}/expect-fails.xpt`, out, '--force']).code, 0);
    assert.notEqual(fs.readFileSync(out, 'utf8'), 'keep me');
  });
  it('says so in one line when OUT cannot be written (a full disk)', { skip: !fs.existsSync('/dev/full') }, () => {
    // /dev/full has no .jsonl suffix, so convert JSON Lines to text into it
    const j = path.join(tmp, 'full-src.xpt.jsonl');
    assert.equal(xpl(['convert', `${FIX}/expect-fails.xpt`, j]).code, 0);
    const w = xpl(['convert', j, '/dev/full', '--force']);
    assert.equal(w.code, 2);
    assert.match(w.err, /^xpl: cannot write \/dev\/full: ENOSPC/);
    assert.doesNotMatch(w.err, /internal error|\n\s+at /);
  });
  it('needs exactly one side to be JSON Lines, and a valid trace', () => {
    assert.match(xpl(['convert', `${FIX}/expect-fails.xpt`, path.join(tmp, 'x.xpt')]).err, /exactly one of IN and OUT/);
    const bad = path.join(tmp, 'bad.xpt');
    fs.writeFileSync(bad, 'tick 5\n');
    assertOneLineError(xpl(['convert', bad, path.join(tmp, 'bad.xpt.jsonl')]), `${bad}:1:6: error: `, /bad duration/);
    assert.equal(fs.existsSync(path.join(tmp, 'bad.xpt.jsonl')), false);
  });
});

describe('xpl help', () => {
  it('gives an overview listing every statement', () => {
    const r = xpl(['help']);
    assert.equal(r.code, 0);
    assert.match(r.out, /xpl run TRACE/);
    for (const syntax of ['domain NAME paging=shadow|hap', 'peek fb=NAME', 'expect cost=COUNTER', 'ioreq access dom=D']) {
      assert.ok(r.out.includes(syntax), syntax);
    }
    assert.equal(xpl(['--help']).out, r.out);
  });
  it('explains a statement with its keys and the Xen function it models', () => {
    const r = xpl(['help', 'peek']);
    assert.equal(r.code, 0);
    assert.match(r.out, /shadow_track_dirty_vram/);
    const d = xpl(['help', 'domain']).out;
    assert.match(d, /tracker= \(optional\)/);
    assert.match(d, /tlb= \(optional, default tagged\)/);
    assert.match(xpl(['help', 'expect']).out, /expect screen fb=NAME stale=LIST\|none/);
  });
  it('explains trackers, bugs, invariants and counters', () => {
    assert.match(xpl(['help', 'sl1ma']).out, /tracker sl1ma \(paging: shadow\)/);
    assert.match(xpl(['help', 'skip-flush']).out, /bug skip-flush/);
    assert.match(xpl(['help', 'stale-tlb']).out, /invariant stale-tlb/);
    assert.match(xpl(['help', 'pmlDrains']).out, /counter pmlDrains/);
    assert.match(xpl(['help', 'trackers']).out, /p2m-type: \(hap\)/);
  });
  it('refuses an unknown topic with a suggestion', () => {
    const r = xpl(['help', 'domian']);
    assert.equal(r.code, 2);
    assert.match(r.err, /^xpl: no help on 'domian' \(did you mean 'domain'\?\)/);
  });
  it('prints the package version', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string };
    assert.equal(xpl(['--version']).out, `xpl ${pkg.version}\n`);
  });
  it('prints usage and exits 2 without a command or with an unknown one', () => {
    const none = xpl([]);
    assert.equal(none.code, 2);
    assert.match(none.err, /^Usage:/);
    const bad = xpl(['rum']);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /^xpl: unknown command 'rum' \(did you mean 'run'\?\)/);
  });
});

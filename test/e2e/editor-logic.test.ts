/**
 * The extension's logic that needs no VS Code, in plain Node: how the editor reads a trace line
 * (hover and completion targets), the outline, the language table built from the keyword table,
 * tracker applicability and cost overrides for Compare, the generated workloads (they must parse),
 * and the HTML pages showing trace text as text.
 */
import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { codePointColToUtf16, outline, scanLine, statementName, tokenAt } from '../../src/extension/language/scan';
import { TableIndex, valueGroupOf } from '../../src/extension/language/table';
import { XPT_TABLE } from '../../src/extension/language/xptTable';
import { compareTrackers, protocolCompareRows } from '../../src/extension/runner';
import { compareTrackers as xplCompare, DEFAULT_COMPARE } from '../../src/trace/compare';
import { generateWorkload, SHAPES } from '../../src/extension/workload';
import { COMPARE_STRINGS_EN, comparePage, esc, plainMessage, reportPage } from '../../src/extension/html';
import { parseTrace } from '../../src/trace/index';
import { createEngine } from '../../src/sim/engine';

describe('reading a trace line in the editor', () => {
  test('a compound statement, its keys and values, and a trailing comment', () => {
    const line = 'ioreq map gpu kind=mmio range=0xf0000000..0xf1000000  # BAR0';
    const toks = scanLine(line);
    assert.equal(statementName(toks), 'ioreq map');
    assert.deepEqual(toks.map((t) => t.kind), ['keyword', 'sub', 'word', 'key', 'value', 'key', 'value', 'comment']);
    const kind = toks.find((t) => t.kind === 'value' && t.key === 'kind');
    assert.equal(kind?.text, 'mmio');
    assert.equal(line.slice(kind!.start, kind!.end), 'mmio');
    assert.equal(tokenAt(toks, line.indexOf('range') + 2)?.text, 'range');
  });

  test('a quoted note keeps its spaces and a # inside the string is not a comment', () => {
    const toks = scanLine('note "peek #2 misses page 5"');
    assert.deepEqual(toks.map((t) => t.kind), ['keyword', 'string']);
    assert.equal(toks[1].text, '"peek #2 misses page 5"');
  });

  test('key-selected expect forms read as `expect`, word-selected ones as `expect screen`', () => {
    assert.equal(statementName(scanLine('expect fb=lfb dirty=0..4,9')), 'expect');
    assert.equal(statementName(scanLine('expect screen fb=lfb stale=none')), 'expect screen');
  });

  test('a JSON Lines line yields its op as the keyword', () => {
    const line = '{"op":"peek","fb":"lfb"}';
    const toks = scanLine(line);
    assert.equal(toks[0].text, 'peek');
    assert.equal(line.slice(toks[0].start, toks[0].end), 'peek');
  });

  test('columns in code points (the spec) become UTF-16 offsets (VS Code)', () => {
    const line = 'note "🖥 screen" wrte';
    // The emoji is one code point but two UTF-16 units: column 17 (1-based) is `w`, at UTF-16 offset 17.
    assert.equal(codePointColToUtf16(line, 17), 17);
    assert.equal(line[codePointColToUtf16(line, 17)], 'w');
  });
});

describe('the outline', () => {
  const text = [
    'domain g paging=shadow mem=64M vcpus=2',
    'vram lfb dom=g gfn=0x3000 pages=16',
    'process shell dom=g',
    'ioreq server gpu dom=g',
    'repeat 3',
    '  repeat 2',
    '    write vcpu=g.1 va=0xffff880000000000',
    '  end',
    'end',
  ].join('\n');

  test('declarations of every kind, with the vCPUs a domain declares', () => {
    const o = outline(text);
    assert.deepEqual(o.declarations.map((d) => `${d.kind}:${d.name}@${d.line}`), ['domain:g@0', 'fb:lfb@1', 'process:shell@2', 'server:gpu@3']);
    assert.deepEqual(o.vcpus, ['g.0', 'g.1']);
  });

  test('among thousands of stores, comments and JSON Lines, only declarations and repeat/end shape it', () => {
    const lines = ['  domain h paging=hap mem=64M vcpus=3', '# domain commented dom=x', 'endx', 'repeat 2'];
    for (let i = 0; i < 5000; i++) {
      lines.push(`  write vcpu=h.${i % 3} va=0xffff8800000${(i % 4096).toString(16).padStart(5, '0')}`);
    }
    lines.push('  end # closes the repeat', '{"op":"vram","args":["fb2"],"dom":"h","gfn":12288,"pages":4}', '{"op":"ioreq","args":["server","dm"],"dom":"h"}', '{"op":"write","vcpu":"h.0","va":"0xffff880000000000"}');
    const o = outline(lines.join('\n'));
    assert.deepEqual(o.declarations.map((d) => `${d.kind}:${d.name}@${d.line}`), ['domain:h@0', 'fb:fb2@5005', 'server:dm@5006']);
    assert.deepEqual(o.vcpus, ['h.0', 'h.1', 'h.2']);
    assert.deepEqual(o.repeats.map((r) => [r.start, r.end, r.count]), [[3, 5004, '2']]);
  });

  test('nested repeat blocks with their lines', () => {
    const o = outline(text);
    assert.equal(o.repeats.length, 1);
    assert.deepEqual([o.repeats[0].start, o.repeats[0].end, o.repeats[0].count], [4, 8, '3']);
    assert.deepEqual([o.repeats[0].children[0].start, o.repeats[0].children[0].end], [5, 7]);
  });
});

describe('the language table from src/trace/keywords.ts', () => {
  const index = new TableIndex(XPT_TABLE);

  test('every keyword has documentation naming the Xen or QEMU function', () => {
    for (const kw of ['domain', 'vram', 'map', 'write', 'peek', 'refresh', 'reclaim', 'logdirty']) {
      const s = index.statement(kw);
      assert.ok(s, kw);
      assert.ok(s.doc.length > 20 && (s.fn ?? '').length > 3, kw);
    }
    assert.match(index.statement('peek')!.fn!, /track_dirty_vram/);
  });

  test('expect merges the forms selected by a key and keeps those selected by a word', () => {
    const keys = index.statement('expect')!.args.map((a) => a.key);
    for (const k of ['fb', 'dirty', 'violation', 'violations', 'cost', 'min', 'max']) {
      assert.ok(keys.includes(k), k);
    }
    assert.ok(index.statement('expect screen'));
    assert.ok(index.statement('ioreq access'));
  });

  test('enum values and declared-name kinds for completion', () => {
    assert.deepEqual(index.arg('domain', 'paging')?.values, ['shadow', 'hap']);
    assert.equal(index.arg('peek', 'fb')?.names, 'fb');
    assert.equal(index.arg('cr3', 'process')?.names, 'process');
    assert.ok(index.statement('map')!.words!.includes('ro'));
    assert.ok(index.statement('inject')!.words!.includes('skip-flush'));
  });

  test('keys that cannot go together, and bare names that refer to declared things, for completion', () => {
    assert.deepEqual(index.arg('map', 'fb')?.without, ['gfn', 'pages']);
    assert.deepEqual(index.arg('map', 'gfn')?.without, ['fb']);
    assert.equal(index.statement('ioreq map')?.refs, 'server');
    assert.equal(index.statement('ioreq unmap')?.refs, 'server');
    // A declaring name is not a reference.
    assert.equal(index.statement('vram')?.refs, undefined);
  });

  test('bare flags and action words are documented for hover', () => {
    assert.match(index.statement('map')!.wordDocs!.ro, /read-only/);
    assert.match(index.statement('map')!.wordDocs!.global, /cr3/);
    assert.match(index.statement('logdirty')!.wordDocs!.clean, /SHADOW_OP_CLEAN/);
  });

  test('trackers, bugs and invariants are documented values', () => {
    assert.equal(index.value('p2m-type')?.group, 'tracker');
    assert.equal(index.value('skip-flush')?.group, 'bug');
    assert.equal(index.value('stale-tlb')?.group, 'invariant');
  });
});

describe('Compare Trackers', () => {
  test('every design runs, in the paging it needs, with the same rows as `xpl compare`', async () => {
    const p = parseTrace([
      'domain g paging=hap mem=64M vcpus=1', 'vram lfb dom=g gfn=0x3000 pages=16', 'map vcpu=g.0 va=0xffff880000000000 fb=lfb',
      'peek fb=lfb', 'write vcpu=g.0 va=0xffff880000005000', 'peek fb=lfb',
    ].join('\n') + '\n', 'h.xpt');
    const rows = await compareTrackers(p, {});
    assert.deepEqual(rows.map((r) => r.tracker), DEFAULT_COMPARE);
    assert.deepEqual(rows.filter((r) => r.error !== undefined), []);
    assert.equal(rows.find((r) => r.tracker === 'sl1ma')?.paging, 'shadow');
    assert.equal(rows.find((r) => r.tracker === 'p2m-type')?.paging, 'hap');
    assert.deepEqual(rows, xplCompare(p).rows);
    // What the visualizer's protocol carries: the same counts.
    const wire = protocolCompareRows(rows);
    assert.deepEqual(wire.map((r) => [r.tracker, r.paging, r.answers, r.costs.cycles]), rows.map((r) => [r.tracker, r.paging, r.answers, r.costs.cycles]));
  });

  test('cost overrides reach the engine without adding a step', () => {
    const p = parseTrace('domain g paging=hap mem=64M vcpus=1\nvram lfb dom=g gfn=0x3000 pages=4\npeek fb=lfb\n', 'r.xpt');
    const plain = createEngine(p, {});
    plain.run({});
    const priced = createEngine(p, { costs: { hypercalls: 5000 } });
    priced.run({});
    assert.equal(priced.report().steps, plain.report().steps);
    assert.equal(priced.report().costs.dom0Cycles - plain.report().costs.dom0Cycles, 3000);
  });

  test('a row sums missed pages and counts violations by id', async () => {
    const p = parseTrace([
      'domain g paging=shadow mem=64M vcpus=1', 'vram lfb dom=g gfn=0x3000 pages=16', 'map vcpu=g.0 va=0xffff880000000000 fb=lfb',
      'inject skip-flush', 'peek fb=lfb', 'write vcpu=g.0 va=0xffff880000005000', 'peek fb=lfb',
      'write vcpu=g.0 va=0xffff880000005000', 'peek fb=lfb', 'write vcpu=g.0 va=0xffff880000005000', 'peek fb=lfb',
    ].join('\n') + '\n', 'skip.xpt');
    const row = (await compareTrackers(p, {})).find((r) => r.tracker === 'sl1ma')!;
    assert.equal(row.answers, 4);
    assert.ok((row.violations['stale-tlb'] ?? 0) >= 1, JSON.stringify(row.violations));
    assert.ok(row.missedPages >= 1);
  });

  test('a design that stops on a trace error is a row with the error and its counts up to there', async () => {
    // A store through an address nothing maps: a guest fault the model does not run, under every design.
    const p = parseTrace('domain g paging=hap mem=64M vcpus=1\nvram lfb dom=g gfn=0x3000 pages=4\npeek fb=lfb\nwrite vcpu=g.0 va=0x7000\n', 'e.xpt');
    const rows = await compareTrackers(p, {});
    assert.equal(rows.length, DEFAULT_COMPARE.length);
    for (const r of rows) {
      assert.match(r.error ?? '', /^e\.xpt:4:\d+: error: /, r.tracker);
      assert.equal(r.answers, 1, r.tracker);
    }
  });
});

describe('Generate Workload', () => {
  test('every shape parses, for both paging modes', () => {
    for (const shape of SHAPES) {
      for (const paging of ['shadow', 'hap'] as const) {
        const text = generateWorkload({ paging, pages: 64, frames: 3, shape, pml: paging === 'hap' });
        const p = parseTrace(text, `${shape}.xpt`);
        assert.ok([...p.statements].some((s) => s.op === 'peek'), shape);
      }
    }
  });

  test('a tracker and an injected bug are written into the trace', () => {
    const text = generateWorkload({ paging: 'shadow', tracker: 'sl1ma', pages: 16, frames: 2, shape: 'cursor', inject: 'skip-flush' });
    assert.match(text, /^domain g paging=shadow .*tracker=sl1ma/m);
    assert.match(text, /^inject skip-flush$/m);
  });
});

describe('HTML pages show trace text as text', () => {
  test('esc', () => {
    assert.equal(esc('<img src=x onerror="a()">&\''), '&lt;img src=x onerror=&quot;a()&quot;&gt;&amp;&#39;');
  });

  test('the compare page has no script and escapes the trace name and errors', () => {
    const html = comparePage({
      trace: '<script>alert(1)</script>.xpt', cspSource: 'vscode-resource:', nonce: 'abc',
      rows: [{ tracker: 'memcmp', paging: '<i>hap</i>', error: '<b>boom</b>', answers: 0, missedPages: 0, extraPages: 0, violations: {}, expectsFailed: 0, costs: { vmexits: 0, eptViolations: 0, shadowFaults: 0, ptEmulations: 0, hypercalls: 0, pteScans: 0, p2mTypeChanges: 0, tlbFlushes: 0, tlbRefills: 0, pmlDrains: 0, bytesCompared: 0, bytesCopied: 0, rangesetNodesVisited: 0, guestCycles: 0, dom0Cycles: 0, cycles: 0 } }],
      strings: COMPARE_STRINGS_EN,
    });
    assert.ok(!/<script/i.test(html));
    assert.ok(!html.includes('<b>boom</b>'));
    assert.ok(!html.includes('<i>hap</i>'));
    assert.match(html, /default-src 'none'/);
  });

  test('the report escapes notes and messages from the trace', () => {
    const html = reportPage({
      report: {
        trace: 'a.xpt', tracker: 'sl1ma', steps: 1, answers: [], logdirty: [], ioreq: [],
        violations: [{ line: 3, id: 'lost-update', message: '<img src=x onerror=alert(1)>' }],
        expects: { passed: 0, failed: [] },
        costs: { vmexits: 0, eptViolations: 0, shadowFaults: 0, ptEmulations: 0, hypercalls: 0, pteScans: 0, p2mTypeChanges: 0, tlbFlushes: 0, tlbRefills: 0, pmlDrains: 0, bytesCompared: 0, bytesCopied: 0, rangesetNodesVisited: 0, guestCycles: 0, dom0Cycles: 0, cycles: 0 },
      },
      snapshots: [{ fb: 'lfb', pages: 4, state: Uint8Array.from([0, 1, 2, 4]), step: 1 }],
      bits: { written: 1, reported: 2, missed: 4 }, generated: 'now', source: 'test',
    });
    assert.ok(!html.includes('<img src=x'));
    assert.ok(!/<script/i.test(html));
    assert.match(html, /class="missed"/);
    // Empty parts say so instead of showing an empty table.
    assert.match(html, /No answers\./);
    assert.match(html, /Expects: none/);
    assert.match(html, /&lt;img src=x/);
  });

  test('the report draws a 262,144-page framebuffer whole, 32 pages per cell, a missed page visible in its cell', () => {
    const state = new Uint8Array(262144);
    state[5] = 1;
    state[200001] = 4;
    state[200002] = 2;
    const html = reportPage({
      report: {
        trace: 'big.xpt', tracker: 'p2m-type', steps: 1, answers: [], logdirty: [], ioreq: [], violations: [],
        expects: { passed: 0, failed: [] },
        costs: { vmexits: 0, eptViolations: 0, shadowFaults: 0, ptEmulations: 0, hypercalls: 0, pteScans: 0, p2mTypeChanges: 0, tlbFlushes: 0, tlbRefills: 0, pmlDrains: 0, bytesCompared: 0, bytesCopied: 0, rangesetNodesVisited: 0, guestCycles: 0, dom0Cycles: 0, cycles: 0 },
      },
      snapshots: [{ fb: 'lfb', pages: 262144, state, step: 1 }],
      bits: { written: 1, reported: 2, missed: 4 }, generated: 'now', source: 'test',
    });
    assert.match(html, /262144 pages, 32 per cell/);
    assert.equal((html.match(/<rect x=/g) ?? []).length, 8192);
    assert.match(html, /class="missed"><title>pages 200000–200031: 1 missed, 1 reported, 0 written, 30 clean<\/title>/);
    assert.match(html, /class="written"><title>pages 0–31: 0 missed, 0 reported, 1 written, 31 clean<\/title>/);
    // The last cell ends at the last page.
    assert.match(html, /<title>pages 262112–262143: 0 missed, 0 reported, 0 written, 32 clean<\/title>/);
  });
});

const root = path.resolve(__dirname, '..', '..', '..');
const read = (f: string): string => fs.readFileSync(path.join(root, f), 'utf8');

describe('ready for localisation', () => {

  test('every %key% of package.json is in package.nls.json', () => {
    const nls = JSON.parse(read('package.nls.json')) as Record<string, string>;
    const keys = [...read('package.json').matchAll(/"%([A-Za-z0-9_.]+)%"/g)].map((m) => m[1]);
    assert.ok(keys.length > 20);
    assert.deepEqual(keys.filter((k) => !(k in nls)), []);
  });

  test('every vscode.l10n.t string of the extension shell is in l10n/bundle.l10n.json', () => {
    const bundle = JSON.parse(read('l10n/bundle.l10n.json')) as Record<string, string>;
    const shell = ['commands.ts', 'debug.ts', 'extension.ts', 'language/providers.ts', 'runner.ts', 'html.ts'];
    const visualizer = ['panel.ts', 'index.ts', 'engineSource.ts', 'debugSource.ts'].map((f) => `visualizer/${f}`);
    const files = [...shell, ...visualizer].map((f) => read(path.join('src', 'extension', f)));
    const strings = files.flatMap((s) => [...s.matchAll(/(?:vscode\.l10n\.t|\bt)\(\s*'((?:[^'\\]|\\.)*)'/g)].map((m) => m[1].replace(/\\'/g, "'")));
    assert.ok(strings.length > 40);
    assert.deepEqual(strings.filter((k) => !(k in bundle)), []);
  });
});

describe('snippets and notifications', () => {
  /** A snippet's body with every placeholder at its default (mirrors `$N` take the default of `${N:…}`). */
  function expand(body: string[]): string {
    const text = body.join('\n');
    const defs = new Map<string, string>();
    text.replace(/\$\{(\d+):([^}]*)\}/g, (_m, n: string, d: string) => (defs.set(n, d), ''));
    text.replace(/\$\{(\d+)\|([^,|]*)[^}]*\|\}/g, (_m, n: string, d: string) => (defs.set(n, d), ''));
    return text.replace(/\$\{(\d+)\|([^,|]*)[^}]*\|\}/g, '$2').replace(/\$\{(\d+):([^}]*)\}/g, '$2').replace(/\$(\d+)/g, (_m, n: string) => defs.get(n) ?? '');
  }

  test('a guest snippet followed by "Store then peek" is a trace whose expect holds, under shadow and HAP', () => {
    const snippets = JSON.parse(read('snippets/xpt.code-snippets')) as Record<string, { body: string[] }>;
    for (const guest of ['Shadow guest with a framebuffer', 'HAP guest with a framebuffer']) {
      const text = expand(snippets[guest].body) + '\n' + expand(snippets['Store then peek'].body) + '\n';
      const e = createEngine(parseTrace(text, 'snippet.xpt'), {});
      e.run({});
      assert.deepEqual(e.report().expects.failed, [], guest);
      assert.equal(e.report().expects.passed, 1);
    }
  });

  test('notification text keeps a trace\'s [label](command:…) as text, not a link', () => {
    assert.equal(plainMessage("bad value '[Fix](command:xpl.openLesson)'"), "bad value '[Fix]\u200b(command:xpl.openLesson)'");
    assert.equal(plainMessage('no links here'), 'no links here');
  });
});

test('completion knows the vCPUs of a domain whose count is written in hex or with separators', () => {
  assert.deepEqual(outline('domain g paging=shadow mem=64M vcpus=0x4\n').vcpus, ['g.0', 'g.1', 'g.2', 'g.3']);
  assert.equal(outline('domain h paging=hap mem=64M vcpus=1_0\n').vcpus.length, 10);
});

test('a word that names both a tracker and an invariant (sl1ma) is documented as the invariant after violation=', () => {
  const index = new TableIndex(XPT_TABLE);
  assert.equal(index.value('sl1ma')?.group, 'tracker');
  assert.equal(index.value('sl1ma', valueGroupOf('violation'))?.group, 'invariant');
  assert.equal(index.value('rangeset', valueGroupOf('violation'))?.group, 'invariant');
  assert.equal(index.value('lost-update', valueGroupOf('tracker'))?.group, 'invariant', 'a word not in the group falls back to its own');
});

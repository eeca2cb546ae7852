/**
 * JSON Lines: the same program as the text form, errors pointing at the member's value, and the
 * byte-for-byte round trip text → JSON Lines → text that `xpl convert` relies on.
 */
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { diagnoseInSteps, diagnoseTrace, parseTraceSliced, jsonlToText, parseTrace, textToJsonl, TraceError } from '../../src/trace/index';
import { FIXTURES, REPO, ok, shapes } from './util';
import { quoteString } from '../../src/trace/jsonl';

/** Every text trace we ship or test with: fixtures and, once they exist, examples and lessons. */
function textTraces(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    if (!fs.existsSync(dir)) {
      return;
    }
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        walk(p);
      } else if (e.name.endsWith('.xpt')) {
        out.push(p);
      }
    }
  };
  for (const d of [FIXTURES, path.join(REPO, 'examples'), path.join(REPO, 'lessons')]) {
    walk(d);
  }
  return out;
}

describe('JSON Lines round trip', () => {
  const files = textTraces();
  it('has traces to check', () => {
    assert.ok(files.length >= 3);
  });
  for (const f of files) {
    const rel = path.relative(REPO, f);
    it(`${rel}: text → JSON Lines → text is byte for byte`, () => {
      const text = fs.readFileSync(f, 'utf8');
      let program;
      try {
        program = parseTrace(text, f);
      } catch (e) {
        if (e instanceof TraceError) {
          return; // a fixture that is wrong on purpose: convert refuses it (tested elsewhere)
        }
        throw e;
      }
      const jsonl = textToJsonl(text, f);
      assert.equal(jsonlToText(jsonl, f + '.jsonl'), text);
      assert.deepEqual(shapes([...parseTrace(jsonl, f + '.jsonl').statements]), shapes([...program.statements]));
    });
  }

  const layouts: [string, string][] = [
    ['indentation, tabs, runs of spaces', 'domain g\tparing=x'.replace('paring=x', 'paging=hap') + '  mem=1M   vcpus=1\n  \t# indented comment\n\trepeat 2\n\t\tflush  dom=g\n\tend\n'],
    ['blank lines with white space', '\n   \n\t\ntick 1ns\n\n'],
    ['trailing white space and comments without a space', 'tick 1ns   \ntick 2ns#c\ntick 3ns \t# c2\n#\n'],
    ['bare words after keys', 'domain g paging=hap mem=1M vcpus=1\nlogdirty dom=g enable\nmap vcpu=0 va=0x1000 gfn=0 pages=1 ro user global\nmap vcpu=0 va=0x2000 ro gfn=0 user pages=1\n'],
    ['no final newline', 'tick 1ns\ntick 2ns'],
    ['CRLF line endings', 'tick 1ns\r\n# c\r\n\r\ntick 2ns\r\n'],
    ['unicode and escapes in notes', 'note "café \\"☕\\" C:\\\\ 😀"  # ünïcode\n'],
    ['a byte-order mark', '\ufeffdomain g paging=hap mem=1M vcpus=1\ntick 1ns\n'],
    ['a byte-order mark before a comment, CRLF, no final newline', '\ufeff# c\r\ntick 1ns'],
    ['a byte-order mark before a blank line', '\ufeff\ntick 1ns\n'],
    ['a byte-order mark alone', '\ufeff'],
    ['repeat 0 and limit=0', 'domain g paging=hap mem=1M vcpus=1\nrepeat 0\n  tick 1ns\nend\nrepeat 0x0\nend\nioreq server s dom=g limit=0\n'],
    ['number spellings', 'domain g paging=hap mem=0x100_000 vcpus=01\nvram lfb dom=g gfn=1_0 pages=1\nexpect fb=lfb dirty=0..1\n'],
  ];
  for (const [name, text] of layouts) {
    it(`keeps ${name}`, () => {
      const jsonl = textToJsonl(text, 'layout.xpt');
      assert.equal(jsonlToText(jsonl, 'layout.xpt.jsonl'), text);
    });
  }
  it('keeps a byte-order mark as "#bom" on the first line only', () => {
    assert.equal(textToJsonl('\ufefftick 1ns\n', 'b.xpt'), '{"op":"tick","args":["1ns"],"#bom":true}\n');
    assert.throws(() => parseTrace('{"op":"tick","args":["1ns"]}\n{"op":"tick","args":["1ns"],"#bom":true}\n', 'b.jsonl'),
      (e: unknown) => e instanceof TraceError && e.line === 2 && /bad layout member "#bom": only on the first line/.test(e.detail));
    // A JSON Lines file's own mark is skipped, not carried to the text.
    assert.equal(jsonlToText('\ufeff{"op":"tick","args":["1ns"]}\n', 'b.jsonl'), 'tick 1ns\n');
  });
  it('writes one JSON object per text line, comments and blank lines included', () => {
    const text = '# lesson\n\ndomain g paging=hap mem=64M vcpus=1  # guest\nrepeat 3\nend\n';
    const lines = textToJsonl(text, 'x.xpt').split('\n');
    assert.equal(lines.length, 6);
    assert.deepEqual(JSON.parse(lines[0] ?? ''), { op: '#', text: '# lesson' });
    assert.deepEqual(JSON.parse(lines[1] ?? ''), { op: '#', text: '' });
    assert.deepEqual(JSON.parse(lines[2] ?? ''), { op: 'domain', args: ['g'], paging: 'hap', mem: '64M', vcpus: 1, '#ws': [' ', ' ', ' ', ' ', '  '], '#comment': ' guest' });
    assert.deepEqual(JSON.parse(lines[3] ?? ''), { op: 'repeat', args: [3] });
    assert.deepEqual(JSON.parse(lines[4] ?? ''), { op: 'end' });
  });

  it('round-trips generated lines with random layout (property)', () => {
    const stmt = fc.constantFrom(
      ['tick', '5ms'], ['flush', 'dom=g'], ['vmexit', 'vcpu=g.0', 'reason=timer'], ['note', '"a \\"b\\" \\\\ c"'],
      ['write', 'vcpu=0', 'va=0x1000', 'len=8'], ['logdirty', 'enable', 'dom=g'], ['expect', 'violations=none'],
      ['map', 'vcpu=0', 'va=0x2000', 'gfn=1', 'pages=2', 'ro'], ['expect', 'cost=cycles', 'max=1_000'],
    );
    const ws = fc.constantFrom(' ', '  ', '\t', ' \t ');
    const line = fc.record({
      indent: fc.constantFrom('', '  ', '\t', '    '),
      tokens: stmt,
      seps: fc.array(ws, { minLength: 6, maxLength: 6 }),
      trailing: fc.constantFrom('', ' ', '\t'),
      comment: fc.option(fc.string({ maxLength: 12 }).map((s) => [...s].filter((ch) => { const c = ch.codePointAt(0) ?? 0; return c >= 32 && c !== 0x7f && c !== 0xfeff; }).join('')), { nil: undefined }),
    }).map((l) => l.indent + l.tokens.map((t, i) => (i === 0 ? t : (l.seps[i] ?? ' ') + t)).join('') + (l.comment !== undefined ? l.trailing + '#' + l.comment : l.trailing));
    const blank = fc.constantFrom('', '  ', '# comment', '\t# c');
    fc.assert(fc.property(fc.array(fc.oneof(line, blank), { maxLength: 12 }), fc.boolean(), (lines, finalNl) => {
      const text = 'domain g paging=hap mem=1M vcpus=1\n' + lines.join('\n') + (finalNl ? '\n' : '');
      const program = parseTrace(text, 'p.xpt');
      const jsonl = textToJsonl(text, 'p.xpt');
      assert.equal(jsonlToText(jsonl, 'p.xpt.jsonl'), text);
      assert.deepEqual(shapes([...parseTrace(jsonl, 'p.xpt.jsonl').statements]), shapes([...program.statements]));
    }), { numRuns: 200 });
  });
});

describe('JSON Lines reading', () => {
  const head = '{"op":"domain","args":["g"],"paging":"hap","mem":"64M","vcpus":2}\n';

  it('accepts JSON numbers, text spellings and arrays for lists', () => {
    const j = head + '{"op":"vram","args":["lfb"],"dom":"g","gfn":12288,"pages":"0x10"}\n{"op":"expect","fb":"lfb","dirty":[0,"2..4",9]}\n{"op":"pte","vcpu":"g.1","va":"0x1000","set":["D","A"]}\n';
    const st = [...parseTrace(j, 'h.jsonl').statements];
    assert.equal(st[1]?.op === 'vram' && st[1].gfn, 12288);
    assert.equal(st[1]?.op === 'vram' && st[1].pages, 16);
    assert.deepEqual(st[2]?.op === 'expect-fb' && st[2].dirty, [0, 2, 3, 9]);
    assert.deepEqual(st[3]?.op === 'pte' && st[3].set, ['D', 'A']);
  });
  it('keeps integers beyond 2^53 exact (canonical upper-half VAs in decimal)', () => {
    const j = head + '{"op":"invlpg","vcpu":"g.0","va":18446603336221196288}\n';
    const st = [...parseTrace(j, 'h.jsonl').statements];
    assert.equal(st[1]?.op === 'invlpg' && st[1].va, 0x800000000000);
  });
  it('is recognised by content when the name does not say so', () => {
    const st = [...parseTrace('\n  ' + head, 'trace.txt').statements];
    assert.equal(st[0]?.op, 'domain');
    assert.equal(st[0]?.pos.line, 2);
  });
  it('points at the offending member value', () => {
    const line = '{"op":"vram","args":["lfb"],"dom":"g","gfn":"0xzz","pages":4}';
    assert.throws(() => parseTrace(head + line, 'h.jsonl'), (e: unknown) => e instanceof TraceError && e.line === 2 && e.col === line.indexOf('"0xzz"') + 1 && /bad number '0xzz'/.test(e.detail));
    const line2 = '{"op":"vram","args":["lfb"],"dom":"g","gfn":0,"pages":4,"colour":1}';
    assert.throws(() => parseTrace(head + line2, 'h.jsonl'), (e: unknown) => e instanceof TraceError && e.col === line2.indexOf(':1}') + 2 && /unknown key 'colour'/.test(e.detail));
    const line3 = '{"op":"domian"}';
    assert.throws(() => parseTrace(line3, 'h.jsonl'), (e: unknown) => e instanceof TraceError && e.col === 7 && /unknown keyword 'domian'/.test(e.detail));
  });
  it('puts an error about a missing member at column 1', () => {
    assert.throws(() => parseTrace(head + '{"op":"vram","args":["lfb"],"dom":"g","pages":4}', 'h.jsonl'),
      (e: unknown) => e instanceof TraceError && e.line === 2 && e.col === 1 && /missing required key 'gfn='/.test(e.detail));
    assert.throws(() => parseTrace(head + '{"op":"expect","cost":"cycles"}', 'h.jsonl'),
      (e: unknown) => e instanceof TraceError && e.col === 1 && /needs min= and\/or max=/.test(e.detail));
  });
  it('refuses malformed JSON at column 1 (no member holds the fault), and non-integer numbers at the value', () => {
    assert.throws(() => parseTrace(head + '{"op":"tick","args":["5ms"]', 'h.jsonl'), (e: unknown) => e instanceof TraceError && e.line === 2 && e.col === 1 && /expected '}'/.test(e.detail));
    assert.throws(() => parseTrace(head + '{"op":"flush","dom":"g"} x', 'h.jsonl'), (e: unknown) => e instanceof TraceError && e.col === 1 && /unexpected text after/.test(e.detail));
    assert.throws(() => parseTrace('{"op":"peek",}', 'h.jsonl'), (e: unknown) => e instanceof TraceError && e.line === 1 && e.col === 1 && /expected a member name/.test(e.detail));
    assert.throws(() => parseTrace(head + '{"op" "tick"}', 'h.jsonl'), (e: unknown) => e instanceof TraceError && e.col === 1 && /expected ':'/.test(e.detail));
    // A fault inside a member's value is at that value.
    assert.throws(() => parseTrace(head + '{"op":"note","args":["a\\q"]}', 'h.jsonl'), (e: unknown) => e instanceof TraceError && e.col === 21 && /bad escape/.test(e.detail));
    assert.throws(() => parseTrace(head + '{"op":"flush","dom":"g', 'h.jsonl'), (e: unknown) => e instanceof TraceError && e.col === 21 && /unterminated JSON string/.test(e.detail));
    assert.throws(() => parseTrace(head + '{"op":"flush","dom":{"a":1}}', 'h.jsonl'), (e: unknown) => e instanceof TraceError && e.col === 21 && /nested objects/.test(e.detail));
    assert.throws(() => parseTrace(head + '{"op":"dma","dom":"g","gfn":1.5}', 'h.jsonl'), (e: unknown) => e instanceof TraceError && e.col === 29 && /integers/.test(e.detail));
    assert.throws(() => parseTrace(head + '["tick"]', 'h.jsonl'), (e: unknown) => e instanceof TraceError && e.col === 1 && /must be an object/.test(e.detail));
    assert.throws(() => parseTrace(head + '{"args":["5ms"]}', 'h.jsonl'), (e: unknown) => e instanceof TraceError && /missing "op"/.test(e.detail));
  });
  it('puts a duplicate member at the duplicate\'s value', () => {
    const line = '{"op":"peek","fb":"lfb","fb":"x"}';
    assert.throws(() => parseTrace(head + line, 'h.jsonl'), (e: unknown) => e instanceof TraceError && e.line === 2 && e.col === 30 && e.col === line.indexOf('"x"') + 1 && /duplicate member "fb"/.test(e.detail));
    assert.throws(() => parseTrace('{"op":"tick","op":"flush"}', 'h.jsonl'), (e: unknown) => e instanceof TraceError && e.col === 19 && /duplicate member "op"/.test(e.detail));
  });
  it('reads an empty array as none where the text form takes none for the list', () => {
    const fb = '{"op":"vram","args":["lfb"],"dom":"g","gfn":"0x3000","pages":16}\n';
    const cases: [string, string][] = [
      ['{"op":"expect","fb":"lfb","dirty":[]}', 'expect fb=lfb dirty=none'],
      ['{"op":"expect","args":["screen"],"fb":"lfb","stale":[]}', 'expect screen fb=lfb stale=none'],
      ['{"op":"expect","args":["logdirty"],"dom":"g","dirty":[]}', 'expect logdirty dom=g dirty=none'],
      ['{"op":"expect","violation":[]}', 'expect violation=none'],
    ];
    for (const [json, text] of cases) {
      const fromJson = [...parseTrace(head + fb + json, 'h.jsonl').statements];
      const fromText = [...parseTrace('domain g paging=hap mem=64M vcpus=2\nvram lfb dom=g gfn=0x3000 pages=16\n' + text, 'h.xpt').statements];
      assert.deepEqual(shapes(fromJson), shapes(fromText), json);
      // Converted to text it is `none`, and back the same statements.
      assert.equal(jsonlToText(head + fb + json + '\n', 'h.xpt.jsonl').split('\n')[2], text);
    }
    // Where the text form has no `none`, an empty array is still an error, at its value.
    const bad: [string, number][] = [['{"op":"pte","vcpu":"g.0","va":"0x1000","set":[]}', 46], ['{"op":"write","vcpu":[],"va":"0x1000"}', 22], ['{"op":"expect","args":["ioreq"],"server":[]}', 42]];
    for (const [json, col] of bad) {
      assert.throws(() => parseTrace(head + json, 'h.jsonl'), (e: unknown) => e instanceof TraceError && e.line === 2 && e.col === col && /empty list for/.test(e.detail), json);
    }
  });
  it('keeps errors on one line even when JSON strings hold newlines', () => {
    assert.throws(() => parseTrace('{"op":"domain","args":["a\\nb"],"paging":"hap","mem":"1M","vcpus":1}', 'h.jsonl'),
      (e: unknown) => e instanceof TraceError && !e.message.includes('\n') && /bad domain name 'a\\nb'/.test(e.detail));
  });
  it('takes a comment line\'s text with or without its #', () => {
    assert.equal(parseTrace(head + '{"op":"#","text":"a comment"}\n{"op":"#","text":"# another"}', 'h.jsonl').statements.length, 1);
    assert.equal(jsonlToText('{"op":"#","text":"a comment"}\n{"op":"#","text":"# another"}\n', 'h.jsonl'), '#a comment\n# another\n');
  });
  it('refuses layout members that would change the statement when converted back', () => {
    const cases: [string, RegExp][] = [
      ['{"op":"#","text":"# a\\nflush dom=g"}', /"text" of a comment line/],
      ['{"op":"tick","args":["1ns"],"#indent":"x"}', /bad layout member "#indent"/],
      ['{"op":"tick","args":["1ns"],"#ws":["",""]}', /bad layout member "#ws"/],
      ['{"op":"flush","dom":"g","#order":["dom","dom"]}', /bad layout member "#order"/],
      ['{"op":"tick","args":["1ns"],"#comment":"a\\nb"}', /bad layout member "#comment"/],
      ['{"op":"tick","args":["1ns"],"#colour":1}', /bad layout member "#colour": unknown/],
    ];
    for (const [line, re] of cases) {
      assert.throws(() => parseTrace(head + line, 'h.jsonl'), (e: unknown) => e instanceof TraceError && e.line === 2 && re.test(e.detail), line);
    }
  });
  it('refuses a text trace given to jsonlToText and JSON Lines given to textToJsonl', () => {
    assert.throws(() => textToJsonl(head, 'h.xpt.jsonl'), TraceError);
    assert.throws(() => jsonlToText('tick 1ns\n', 'h.xpt'), TraceError);
  });
});

describe('parsing in slices (the extension host)', () => {
  const big = (bad: string | null): string => {
    const lines = ['domain g paging=hap mem=64M vcpus=1', 'vram lfb dom=g gfn=0x3000 pages=16', 'map vcpu=g.0 va=0xffff800000000000 fb=lfb', 'repeat 3'];
    for (let i = 0; i < 20000; i++) {
      lines.push(i === 12345 && bad !== null ? bad : `  write vcpu=g.0 va=0xffff80000000${(i % 4096).toString(16).padStart(4, '0')}`);
    }
    return [...lines, 'end', 'peek fb=lfb', ''].join('\n');
  };
  it('gives the program parseTrace gives, and lets the event loop run meanwhile', async () => {
    const text = big(null);
    let turns = 0;
    const tick = setInterval(() => turns++, 0);
    const sliced = await parseTraceSliced(text, 'big.xpt', 2);
    clearInterval(tick);
    const whole = parseTrace(text, 'big.xpt');
    assert.equal(sliced.statements.length, whole.statements.length);
    assert.deepEqual([...sliced.statements], [...whole.statements]);
    assert.ok(turns > 0, 'timers ran while the trace was being parsed');
  });
  it('rejects with the error parseTrace throws', async () => {
    const text = big('  write vcpu=g.9 va=0xffff800000000000');
    const want = (() => {
      try {
        parseTrace(text, 'big.xpt');
      } catch (e) {
        return e instanceof TraceError ? e.message : String(e);
      }
      return 'no error';
    })();
    await assert.rejects(parseTraceSliced(text, 'big.xpt'), (e: unknown) => e instanceof TraceError && e.message === want && /^big\.xpt:12350:/.test(e.message));
  });
});

describe('diagnostics for the editor', () => {
  it('checks a big trace in slices (for the editor) with the same errors as in one go', () => {
    const lines = ['domain g paging=shadow mem=64M vcpus=1', 'vram lfb dom=g gfn=0x3000 pages=16', 'map vcpu=g.0 va=0xffff800000000000 fb=lfb'];
    for (let i = 0; i < 20000; i++) {
      lines.push(i === 7000 ? 'write vcpu=g.7 va=0xffff800000000000' : i === 15000 ? 'peek fb=nope' : `write vcpu=g.0 va=0xffff80000000${(i % 4096).toString(16).padStart(4, '0')}`);
    }
    const text = lines.join('\n') + '\n';
    const steps = diagnoseInSteps(text, 'big.xpt');
    let yields = 0;
    let r = steps.next();
    while (!r.done) {
      yields++;
      r = steps.next();
    }
    assert.ok(yields >= 35, `a check of 20,003 lines should give the editor its turn often (${yields} yields)`);
    assert.deepEqual(r.value.map((e) => e.message), diagnoseTrace(text, 'big.xpt').map((e) => e.message));
    assert.deepEqual(r.value.map((e) => `${e.line}:${e.col}`), ['7004:14', '15004:9']);
  });
  it('finds independent errors on several lines and goes on', () => {
    const text = 'domain g paging=hap mem=64M vcpus=1\ntick 5\nflush dom=h\nwrite vcpu=0 va=0x0000800000000000\nflush dom=g\n';
    const errs = diagnoseTrace(text, 'd.xpt');
    assert.deepEqual(errs.map((e) => `${e.line}:${e.col}`), ['2:6', '3:11', '4:17']);
  });
  it('keeps a declaration whose domain is wrong, so its uses are not errors too', () => {
    const errs = diagnoseTrace('domain g paging=hap mem=64M vcpus=1\nvram lfb dom=h gfn=0 pages=4\npeek fb=lfb\nprocess p dom=x\ncr3 vcpu=0 process=p\n', 'd.xpt');
    assert.deepEqual(errs.map((e) => `${e.line}:${e.col}`), ['2:14', '4:15', '5:20']);
  });
  it('reports the step limit once and goes on with the lines after it', () => {
    const text = 'repeat 100000000\n  tick 1ns\n  tick 1ns\nend\ntick 1ns\ntick 5\n';
    const errs = diagnoseTrace(text, 'd.xpt');
    assert.deepEqual(errs.map((e) => `${e.line}:${e.col}`), ['1:1', '6:6']);
  });
  it('reports an unclosed repeat and keeps repeat/end balanced after a bad repeat', () => {
    const errs = diagnoseTrace('repeat x\n  tick 1ns\nend\nrepeat 2\n', 'd.xpt');
    assert.deepEqual(errs.map((e) => `${e.line}:${e.col}`), ['1:8', '4:1']);
  });
  it('returns nothing for a good trace and never throws on junk', () => {
    assert.deepEqual(diagnoseTrace('tick 1ns\n', 'd.xpt'), []);
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => {
      const errs = diagnoseTrace(s, 'fuzz.xpt');
      for (const e of errs) {
        assert.ok(e instanceof TraceError && e.line >= 1 && e.col >= 1);
      }
      try {
        parseTrace(s, 'fuzz.xpt');
      } catch (e) {
        assert.ok(e instanceof TraceError, String(e));
      }
    }), { numRuns: 500 });
  });
});

describe('string quoting', () => {
  it('reads a backslash that escapes nothing as itself, and writes it escaped: the same string either way', () => {
    assert.equal((ok('note "C:\\xen\\n"')[0] as { text: string }).text, 'C:\\xen\\n');
    assert.equal(quoteString('C:\\xen'), '"C:\\\\xen"');
    for (const v of ['C:\\xen', 'a\\\\b', '\\"', 'end\\', '"', '\\', 'x\\"y\\\\z\\']) {
      assert.equal((ok(`note ${quoteString(v)}`)[0] as { text: string }).text, v, quoteString(v));
    }
  });
});

/**
 * Every class of trace error the spec names, each at its exact LINE:COL (1-based, code points).
 */
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { assertError, errorOf, ok } from './util';
import { diagnoseTrace } from '../../src/trace/index';

const H = 'domain g paging=shadow mem=64M vcpus=2\n';
const FB = H + 'vram lfb dom=g gfn=0x3000 pages=16\nmap vcpu=g.0 va=0x10000000 fb=lfb\n';

describe('keywords and keys', () => {
  it('refuses an unknown keyword and suggests the near one', () => {
    assertError('domian g paging=hap mem=1M vcpus=1', '1:1', /unknown keyword 'domian' \(did you mean 'domain'\?\)/);
  });
  it('says keywords are lower case', () => {
    assertError('Domain g paging=hap mem=1M vcpus=1', '1:1', /keywords are lower case: 'domain'/);
  });
  it('refuses an unknown key at the key', () => {
    assertError(H + 'vram lfb dom=g gfn=0 pages=4 colour=1', '2:30', /unknown key 'colour' for 'vram'/);
  });
  it('says keys are lower case', () => {
    assertError('domain g paging=hap Mem=1M vcpus=1', '1:21', /keys are lower case: 'mem'/);
  });
  it('refuses a missing required key at the keyword', () => {
    assertError('domain g paging=hap vcpus=1', '1:1', /missing required key 'mem='/);
  });
  it('refuses a duplicate key at its second occurrence', () => {
    assertError('domain g paging=hap mem=1M mem=2M vcpus=1', '1:28', /duplicate key 'mem'/);
  });
  it('refuses a bad enum value with the choices', () => {
    assertError('domain g paging=ept mem=1M vcpus=1', '1:17', /bad value 'ept' for paging= \(expected shadow, hap\)/);
  });
  it('refuses a missing bare word', () => {
    assertError('domain paging=hap mem=1M vcpus=1', '1:1', /missing NAME for 'domain'/);
  });
  it('refuses an unknown flag', () => {
    assertError(FB + 'map vcpu=0 va=0x20000000 gfn=0 pages=1 rw', '4:40', /unknown word 'rw' for 'map' \(flags: ro, user, global\)/);
  });
  it('asks ioreq and expect for their form', () => {
    assertError(H + 'ioreq serve gpu dom=g', '2:7', /'ioreq' needs one of: server, map, unmap, access/);
    assertError(H + 'expect dirty=1', '2:1', /'expect' needs one of:/);
  });
  it('refuses a key=value where the keyword should be', () => {
    assertError('fb=lfb', '1:1', /a line must start with a keyword/);
  });
});

describe('numbers, sizes, durations, colours', () => {
  it('accepts decimal, 0x hex and _ separators', () => {
    const st = ok(H + 'vram lfb dom=g gfn=0x3_000 pages=1_6\ndma dom=g gfn=12_288 len=0x10');
    assert.equal(st[1]?.op === 'vram' && st[1].gfn, 0x3000);
    assert.equal(st[1]?.op === 'vram' && st[1].pages, 16);
    assert.deepEqual(st[2]?.op === 'dma' && [st[2].gfn, st[2].len], [12288, 16]);
  });
  it('refuses a bad number at the value', () => {
    assertError(H + 'vram lfb dom=g gfn=0x3g00 pages=4', '2:20', /bad number '0x3g00'/);
  });
  it('refuses misplaced separators', () => {
    assertError(H + 'vram lfb dom=g gfn=0x_300 pages=4', '2:20', /'_' may only separate digits/);
    assertError(H + 'vram lfb dom=g gfn=1__0 pages=4', '2:20', /'_' may only separate digits/);
    assertError(H + 'vram lfb dom=g gfn=10_ pages=4', '2:20', /'_' may only separate digits/);
  });
  it('refuses negative numbers and upper-case 0X', () => {
    assertError(H + 'vram lfb dom=g gfn=-1 pages=4', '2:20', /must not be negative/);
    assertError(H + 'vram lfb dom=g gfn=0X10 pages=4', '2:20', /lower-case 0x/);
  });
  it('reads sizes with binary suffixes', () => {
    const sizes: [string, number][] = [['4096', 4096], ['64K', 65536], ['64M', 64 * 2 ** 20], ['4G', 4 * 2 ** 30], ['1T', 2 ** 40], ['0x10M', 16 * 2 ** 20]];
    for (const [text, bytes] of sizes) {
      const st = ok(`domain g paging=hap mem=${text} vcpus=1`);
      assert.equal(st[0]?.op === 'domain' && st[0].mem, bytes, text);
    }
  });
  it('refuses decimal or lower-case size suffixes', () => {
    assertError('domain g paging=hap mem=64MB vcpus=1', '1:25', /the suffixes are K, M, G, T/);
    assertError('domain g paging=hap mem=64k vcpus=1', '1:25', /the suffixes are K, M, G, T/);
    assertError('domain g paging=hap mem=1000 vcpus=1', '1:25', /multiple of 4 KiB/);
  });
  it('reads durations in ns, us, ms and s', () => {
    const st = ok('tick 5ns\ntick 7us\ntick 1500ms\ntick 2s\ntick 1_000ms');
    assert.deepEqual(st.map((s) => s.op === 'tick' && s.ns), [5, 7000, 1_500_000_000, 2_000_000_000, 1_000_000_000]);
  });
  it('refuses a duration without a unit', () => {
    assertError('tick 5', '1:6', /bad duration '5'/);
    assertError('tick 5min', '1:6', /bad duration '5min'/);
  });
  it('reads colours as 0xRRGGBB only', () => {
    const st = ok(FB + 'draw vcpu=g.0 fb=lfb rect=0,0,8,8 color=0x00ff80');
    assert.equal(st[3]?.op === 'draw' && st[3].color, 0x00ff80);
    assertError(FB + 'draw vcpu=g.0 fb=lfb rect=0,0,8,8 color=0xfff', '4:41', /bad colour '0xfff' \(expected 0xRRGGBB\)/);
  });
  it('defaults draw to white', () => {
    const st = ok(FB + 'draw vcpu=g.0 fb=lfb rect=0,0,8,8');
    assert.equal(st[3]?.op === 'draw' && st[3].color, 0xffffff);
  });
  it('refuses a rectangle outside the framebuffer geometry', () => {
    // 16 pages of 1024-pixel 32-bpp lines = 1024x16
    assertError(FB + 'draw vcpu=g.0 fb=lfb rect=1000,0,30,1', '4:27', /outside framebuffer 'lfb' \(1024x16 pixels\)/);
    assertError(FB + 'blit vcpu=g.0 fb=lfb from=0,0,8,8 to=0,9', '4:38', /outside framebuffer 'lfb'/);
  });
});

describe('ranges and lists', () => {
  it('expands lists with end-exclusive ranges, sorted', () => {
    const st = ok(FB + 'expect fb=lfb dirty=9,0..4');
    assert.deepEqual(st[3]?.op === 'expect-fb' && st[3].dirty, [0, 1, 2, 3, 9]);
  });
  it('points at the empty item of a list', () => {
    assertError(FB + 'expect fb=lfb dirty=1,,2', '4:23', /empty item in list/);
  });
  it('refuses an empty or reversed range', () => {
    assertError(FB + 'expect fb=lfb dirty=4..4', '4:21', /empty range '4..4'/);
    assertError(H + 'ioreq server s dom=g\nioreq map s kind=port range=0x20..0x10', '3:29', /empty range/);
  });
  it('refuses pages past the framebuffer', () => {
    assertError(FB + 'expect fb=lfb dirty=0..17', '4:21', /page 16 is out of range \(at most 15\)/);
  });
  it('reads ioreq ranges of ports and PCI addresses', () => {
    const st = ok(H + 'ioreq server s dom=g\nioreq map s kind=port range=0x3c0..0x3e0\nioreq map s kind=pci range=0000:00:02.0..0000:00:03.0');
    assert.deepEqual(st[2]?.op === 'ioreq-map' && [st[2].start, st[2].end], [0x3c0, 0x3e0]);
    assert.deepEqual(st[3]?.op === 'ioreq-map' && [st[3].start, st[3].end], [0x10, 0x18]);
    assertError(H + 'ioreq server s dom=g\nioreq map s kind=port range=0x3c0', '3:29', /bad range '0x3c0' \(expected START..END/);
    assertError(H + 'ioreq server s dom=g\nioreq access dom=g kind=pci addr=0000:00:20.0', '3:34', /bad PCI address/);
  });
  it('reads PTE flag lists and invariant lists', () => {
    const st = ok(FB + 'pte vcpu=0 va=0x10000000 set=D,A clear=RW\nexpect violation=stale-tlb,lost-update');
    assert.deepEqual(st[3]?.op === 'pte' && [st[3].set, st[3].clear], [['D', 'A'], ['RW']]);
    assert.deepEqual(st[4]?.op === 'expect-violation' && st[4].ids, ['stale-tlb', 'lost-update']);
    assertError(FB + 'pte vcpu=0 va=0x10000000 set=D,W', '4:32', /unknown PTE flag 'W'/);
    assertError(H + 'expect violation=lost-update,stale', '2:30', /unknown invariant 'stale'/);
  });
});

describe('strings', () => {
  it('unescapes \\" and \\\\', () => {
    const st = ok('note "say \\"hi\\" to C:\\\\xen # not a comment"  # a comment');
    assert.equal(st[0]?.op === 'note' && st[0].text, 'say "hi" to C:\\xen # not a comment');
  });
  it('keeps a backslash that escapes nothing as itself (only \\" and \\\\ are escapes)', () => {
    assert.deepEqual(ok('note "C:\\xen\\n \\" \\\\"').map((st) => (st as { text?: string }).text), ['C:\\xen\\n " \\']);
  });
  it('refuses an unterminated string at its opening quote', () => {
    assertError('note "abc', '1:6', /unterminated string/);
  });
  it('needs quotes for note', () => {
    assertError('note hello', '1:6', /needs a quoted string/);
  });
  it('counts columns in code points', () => {
    // 'é' and '😀' are one column each
    assertError('note "é😀" extra', '1:11', /unexpected word 'extra'/);
  });
});

describe('names and references', () => {
  it('refuses a malformed name', () => {
    assertError('domain 9g paging=hap mem=1M vcpus=1', '1:8', /bad domain name '9g'/);
  });
  it('refuses a name declared twice of the same kind, and allows it across kinds', () => {
    assertError(H + 'domain g paging=hap mem=1M vcpus=1', '2:8', /domain 'g' is already declared \(line 1\)/);
    ok(H + 'vram g dom=g gfn=0x3000 pages=1\nprocess g dom=g\nioreq server g dom=g');
  });
  it('refuses names used before they are declared', () => {
    assertError(H + 'peek fb=lfb\nvram lfb dom=g gfn=0 pages=1', '2:9', /undeclared framebuffer 'lfb'/);
    assertError(H + 'flush dom=h', '2:11', /undeclared domain 'h'/);
    assertError(H + 'cr3 vcpu=0 process=p', '2:20', /undeclared process 'p'/);
    assertError(H + 'ioreq map gpu kind=port range=0..1', '2:11', /undeclared ioreq server 'gpu'/);
  });
  it('keeps kernel implicit and alive', () => {
    assertError(H + 'process kernel dom=g', '2:9', /declared implicitly/);
    assertError(H + 'exit process=kernel', '2:14', /kernel process cannot exit/);
    ok(H + 'cr3 vcpu=1 process=kernel');
  });
  it('resolves DOM.N and bare N while one domain exists', () => {
    const st = ok(H + 'vmexit vcpu=1\ndomain h paging=hap mem=1M vcpus=1\nvmexit vcpu=h.0');
    assert.deepEqual(st[1]?.op === 'vmexit' && st[1].vcpu, { dom: 'g', idx: 1 });
    assert.deepEqual(st[3]?.op === 'vmexit' && st[3].vcpu, { dom: 'h', idx: 0 });
    assertError(H + 'domain h paging=hap mem=1M vcpus=1\nvmexit vcpu=0', '3:13', /bare vCPU number '0' is ambiguous with 2 domains/);
    // A bare N that resolved while one domain existed is ambiguous once a second one is declared.
    assertError(H + 'vmexit vcpu=0\nvmexit vcpu=g.0\ndomain h paging=hap mem=1M vcpus=1\nvmexit vcpu=g.0\nvmexit vcpu=0', '6:13', /bare vCPU number '0' is ambiguous/);
    assertError('vmexit vcpu=0', '1:13', /declare a domain first/);
  });
  it('refuses a vCPU index past vcpus at the index', () => {
    assertError(H + 'write vcpu=g.2 va=0x1000', '2:14', /domain 'g' has 2 vCPUs \(0..1\); there is no vCPU 2/);
    assertError(H + 'write vcpu=x.0 va=0x1000', '2:12', /undeclared domain 'x'/);
  });
  it('keeps framebuffers and processes to their domain', () => {
    const two = FB + 'domain h paging=shadow mem=16M vcpus=1\nprocess p dom=h\n';
    assertError(two + 'map vcpu=h.0 va=0x1000 fb=lfb', '6:27', /belongs to domain 'g'/);
    assertError(two + 'cr3 vcpu=g.0 process=p', '6:22', /belongs to domain 'h'/);
  });
});

describe('addresses and guest memory', () => {
  it('stores canonical VAs as 48-bit numbers', () => {
    const st = ok(H + 'invlpg vcpu=0 va=0xffff800000001000\ninvlpg vcpu=0 va=0x00007ffffffff000');
    assert.equal(st[1]?.op === 'invlpg' && st[1].va, 0x800000001000);
    assert.equal(st[2]?.op === 'invlpg' && st[2].va, 0x7ffffffff000);
  });
  it('reads 13 to 16 hex digits exactly, at both edges of both canonical halves', () => {
    const st = ok(H + ['0xFFFF800000000000', '0xffffffffffffe000', '0x00007ffffffff000', '0x7ffffffff000', '0x0ffffffff000'].map((v) => `invlpg vcpu=0 va=${v}`).join('\n'));
    assert.deepEqual(st.slice(1).map((s) => (s.op === 'invlpg' ? s.va : -1)), [0x800000000000, 0xffffffffe000, 0x7ffffffff000, 0x7ffffffff000, 0xffffffff000]);
    assertError(H + 'write vcpu=0 va=0xffff7ffffffff000', '2:17', /non-canonical/);
    assertError(H + 'write vcpu=0 va=0x0fff800000000000', '2:17', /non-canonical/);
    assertError(H + 'write vcpu=0 va=0x800000000000', '2:17', /non-canonical/);
  });
  it('refuses non-canonical VAs at the value', () => {
    assertError(H + 'write vcpu=0 va=0x0000800000000000', '2:17', /non-canonical virtual address/);
    assertError(H + 'write vcpu=0 va=0xfff0800000000000', '2:17', /non-canonical/);
    assertError(H + 'write vcpu=0 va=0x1ffff800000000000', '2:17', /does not fit in 64 bits/);
  });
  it('refuses a store that runs off the canonical half', () => {
    assertError(H + 'write vcpu=0 va=0x7ffffffffffe len=4', '2:17', /past the end of the canonical lower half/);
  });
  it('refuses gfns outside RAM but accepts a framebuffer outside RAM', () => {
    // 64M = gfns 0..0x4000
    assertError(H + 'map vcpu=0 va=0x1000 gfn=0x4000 pages=1', '2:26', /gfns 0x4000..0x4001 lie outside domain 'g'/);
    assertError(H + 'dma dom=g gfn=0x3fff len=8192', '2:15', /outside domain 'g'/);
    assertError(H + 'p2m dom=g gfn=0x3ff0 pages=32 type=ioreq_server', '2:15', /outside domain 'g'/);
    // Emulated MMIO may sit anywhere, and then be mapped.
    ok(H + 'p2m dom=g gfn=0x8000 pages=2 type=mmio_dm\nmap vcpu=0 va=0x1000 gfn=0x8000 pages=2');
    assertError(H + 'p2m dom=g gfn=0x8000 pages=2 type=mmio_dm\nmap vcpu=0 va=0x1000 gfn=0x8000 pages=3', '3:26', /plus what p2m declares mmio_dm/);
    ok(H + 'vram lfb dom=g gfn=0x100000 pages=16\nmap vcpu=0 va=0x1000 gfn=0x100000 pages=16\ndma dom=g gfn=0x10000f');
  });
  it('refuses a framebuffer straddling the end of RAM', () => {
    assertError(H + 'vram lfb dom=g gfn=0x3ff8 pages=16', '2:20', /straddle the end of domain 'g''s RAM/);
  });
  it('needs page-aligned map and unmap addresses', () => {
    assertError(H + 'map vcpu=0 va=0x1004 gfn=0 pages=1', '2:15', /page-aligned/);
  });
  it('limits write len to 1..4096', () => {
    ok(FB + 'write vcpu=0 va=0x10000000 len=1\nwrite vcpu=0 va=0x10000000 len=4096');
    assertError(FB + 'write vcpu=0 va=0x10000000 len=0', '4:32', /write len 0 is too small \(at least 1\)/);
    assertError(FB + 'write vcpu=0 va=0x10000000 len=4097', '4:32', /write len 4097 is too large \(at most 4096\)/);
  });
  it('limits vram pages to 262144', () => {
    ok(H + 'vram big dom=g gfn=0x100000 pages=262144');
    assertError(H + 'vram big dom=g gfn=0x100000 pages=262145', '2:35', /at most 262144/);
    assertError(FB + 'resize fb=lfb pages=262145', '4:21', /at most 262144/);
  });
  it('defaults write len to 4 and dma len to a page', () => {
    const st = ok(FB + 'write vcpu=0 va=0x10000000\ndma dom=g gfn=0x3000');
    assert.equal(st[3]?.op === 'write' && st[3].len, 4);
    assert.equal(st[4]?.op === 'dma' && st[4].len, 4096);
  });
});

describe('paging and trackers', () => {
  const cases: [string, string, boolean][] = [
    ['shadow', 'sl1ma', true], ['shadow', 'dbit-2007', true], ['shadow', 'linear-2007', true],
    ['hap', 'sl1ma', false], ['hap', 'dbit-2007', false], ['hap', 'linear-2007', false],
    ['hap', 'p2m-type', true], ['hap', 'logdirty-2009', true],
    ['shadow', 'p2m-type', false], ['shadow', 'logdirty-2009', false],
    ['shadow', 'memcmp', true], ['hap', 'memcmp', true], ['shadow', 'multi-fb', true], ['hap', 'multi-fb', true],
  ];
  for (const [paging, tracker, fits] of cases) {
    it(`${fits ? 'accepts' : 'refuses'} tracker=${tracker} with paging=${paging}`, () => {
      const text = `domain g paging=${paging} mem=1M vcpus=1 tracker=${tracker}`;
      if (fits) {
        ok(text);
      } else {
        const col = 1 + `domain g paging=${paging} mem=1M vcpus=1 tracker=`.length;
        assertError(text, `1:${col}`, new RegExp(`tracker ${tracker} needs paging=${paging === 'hap' ? 'shadow' : 'hap'}`));
      }
    });
  }
  it('refuses pml=on under shadow', () => {
    // pml applies only to hap: under shadow it is accepted and has no effect.
    assert.equal((ok('domain g paging=shadow mem=1M vcpus=1 pml=on')[0] as { pml: boolean }).pml, false);
  });
});

describe('repeat structure', () => {
  it('links repeat and end both ways, nested', () => {
    const st = ok(H + 'repeat 2\n  repeat 3\n    flush dom=g\n  end\nend');
    assert.deepEqual(st.map((s) => s.op), ['domain', 'repeat', 'repeat', 'flush', 'end', 'end']);
    assert.equal(st[1]?.op === 'repeat' && st[1].end, 5);
    assert.equal(st[2]?.op === 'repeat' && st[2].end, 4);
    assert.equal(st[4]?.op === 'end' && st[4].start, 2);
    assert.equal(st[5]?.op === 'end' && st[5].start, 1);
  });
  it('refuses an end without repeat', () => {
    assertError(H + 'end', '2:1', /'end' without a matching 'repeat'/);
  });
  it('refuses a repeat never closed, at the repeat', () => {
    assertError(H + 'repeat 2\n  repeat 2\n  end\nflush dom=g', '2:1', /never closed/);
  });
  it('refuses a declaration inside a repeat body', () => {
    assertError(H + 'repeat 2\n  process p dom=g\nend', '3:3', /'process' declares a name and cannot be inside a 'repeat' body/);
    assertError(H + 'repeat 2\n  vram v dom=g gfn=0 pages=1\nend', '3:3', /cannot be inside a 'repeat' body/);
    assertError(H + 'repeat 2\n  ioreq server s dom=g\nend', '3:3', /cannot be inside a 'repeat' body/);
  });
  it('accepts a repeat count of 0 (the body is checked, its steps cost nothing)', () => {
    const st = ok(H + 'repeat 0\n  flush dom=g\nend');
    assert.equal(st[1]?.op === 'repeat' && st[1].count, 0);
    assert.equal(st[3]?.op === 'end' && st[3].start, 1);
    assertError(H + 'repeat 0\n  flush dom=x\nend', '3:13', /undeclared domain 'x'/);
    // A repeat 0 around a body that would cross the step limit costs nothing.
    ok('repeat 100000000\n  tick 1ns\nend\nrepeat 0\n  repeat 100000000\n    tick 1ns\n  end\nend');
    assertError('repeat -1\nend', '1:8', /must not be negative/);
  });
  it('accepts ioreq server limit=0 (Xen does: every map is then ENOMEM)', () => {
    const st = ok(H + 'ioreq server s dom=g limit=0');
    assert.equal(st[1]?.op === 'ioreq-server' && st[1].limit, 0);
    assertError(H + 'ioreq server s dom=g limit=1048577', '2:28', /limit 1048577 is too large/);
  });
});

describe('binary junk', () => {
  it('refuses NUL bytes and control characters at their column', () => {
    assertError('domain g\0 paging=hap', '1:9', /NUL byte/);
    // Inside a string anything but a newline goes (NUL still says "binary file").
    ok('# fine\nnote "a\u0001\u000c"');
    assertError('# fine\nnote "a\u0000"', '2:8', /NUL byte/);
    assertError('# comment \u0007 bell', '1:11', /control character U\+0007/);
  });
  it('never throws anything but TraceError on junk', () => {
    for (const junk of ['\u00ff\u00fe\u0000\u0001', '=', '"', '\\', 'repeat', 'expect', 'ioreq', '{', '{"op":1}', '\u{1F600}=x']) {
      const e = errorOf(junk);
      assert.match(e, /^\d+:\d+: /);
    }
  });
});

describe('diagnostics after a failed declaration', () => {
  it('a declaration with an error does not turn every later use of its name into another error', () => {
    const text = 'domain g paging=shadw mem=64M vcpus=1\nvram lfb dom=g gfn=0x3000 pages=16\nmap vcpu=g.0 va=0x1000 gfn=0x100 pages=1\nwrite vcpu=g.0 va=0x1000\npeek fb=lfb\nwrite vcpu=g.0 va=0x1000\n';
    const errors = diagnoseTrace(text, 'cascade.xpt');
    assert.deepEqual(errors.map((e) => e.line), [1], errors.map((e) => e.message).join('\n'));
    // A name that was never declared at all is still reported at each use.
    assert.equal(diagnoseTrace('domain g paging=shadow mem=64M vcpus=1\npeek fb=nope\npeek fb=nope\n', 'u.xpt').length, 2);
  });
});

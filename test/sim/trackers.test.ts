/**
 * Every design, every injectable bug: each bug produces the violation it is known for on every
 * design it applies to, and the same trace without it does not; on random workloads every correct
 * tracker reports every changed page, and memcmp reports exactly the changed set.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseTrace } from '../../src/trace/index';
import { createEngine } from '../../src/sim/engine';
import type { BugId, TrackerId } from '../../src/sim/program';
import type { Report } from '../../src/sim/report';
import { expectsHold } from './expects';

function run(text: string, inject: BugId[] = []): Report {
  const e = createEngine(parseTrace(text, 'bug.xpt'), { inject });
  e.run({});
  return e.report();
}
const PAGING: Record<TrackerId, 'shadow' | 'hap'> = {
  memcmp: 'shadow', 'dbit-2007': 'shadow', 'linear-2007': 'shadow', sl1ma: 'shadow', 'logdirty-2009': 'hap', 'p2m-type': 'hap', 'multi-fb': 'hap',
};
function head(tracker: TrackerId, paging = PAGING[tracker], extra = ''): string {
  return `domain g paging=${paging} mem=64M vcpus=1 tracker=${tracker}${extra}\nvram lfb dom=g gfn=0x3000 pages=16\nmap vcpu=g.0 va=0xffff800000000000 fb=lfb\n`;
}
const W5 = 'write vcpu=g.0 va=0xffff800000005000\n';

function ids(r: Report): Set<string> {
  return new Set(r.violations.map((v) => v.id));
}
function twin(name: string, text: string, bug: BugId, expected: string[]): void {
  test(`${name}: ${bug} shows ${expected.join(' + ')}, and nothing without it`, () => {
    const without = run(text);
    assert.deepEqual([...ids(without)], [], 'the correct design shows no violation');
    const withBug = ids(run(text, [bug]));
    for (const id of expected) {
      assert.ok(withBug.has(id), `${id} expected, got ${[...withBug].join(',') || 'none'}`);
    }
  });
}

const FLUSH_FLOW = `peek fb=lfb\n${W5}peek fb=lfb\n${W5}peek fb=lfb\n`;
for (const [t, paging] of [['sl1ma', 'shadow'], ['linear-2007', 'shadow'], ['multi-fb', 'shadow'], ['p2m-type', 'hap'], ['multi-fb', 'hap']] as const) {
  twin(`${t}/${paging}`, head(t, paging) + FLUSH_FLOW, 'skip-flush', ['stale-tlb', 'lost-update']);
}

const SCATTER_FLOW = 'peek fb=lfb\nwrite vcpu=g.0 va=0xffff800000002000\nwrite vcpu=g.0 va=0xffff800000009000\npeek fb=lfb\npeek fb=lfb\n';
for (const [t, paging] of [['sl1ma', 'shadow'], ['linear-2007', 'shadow'], ['multi-fb', 'shadow'], ['p2m-type', 'hap'], ['multi-fb', 'hap']] as const) {
  twin(`${t}/${paging} on scattered frames`, head(t, paging, ' mfns=scatter seed=7') + SCATTER_FLOW, 'contiguous-mfn', ['wrong-frame']);
}

for (const t of ['p2m-type', 'multi-fb'] as const) {
  twin(`${t} with PML`, head(t, 'hap', ' pml=on') + 'peek fb=lfb\nwrite vcpu=g.0 va=0xffff800000006000\npeek fb=lfb\n', 'no-pml-drain', ['lost-update']);
}

twin('multi-fb, two framebuffers in one leaf', `domain g paging=hap mem=64M vcpus=1 tracker=multi-fb
vram a dom=g gfn=0x1000 pages=256
vram b dom=g gfn=0x1100 pages=256
map vcpu=g.0 va=0xffff800000000000 fb=a
map vcpu=g.0 va=0xffff800001000000 fb=b
peek fb=a
peek fb=b
write vcpu=g.0 va=0xffff800000003000
write vcpu=g.0 va=0xffff800001007000
peek fb=a
peek fb=b
`, 'clear-whole-leaf', ['clear-scope', 'lost-update']);

twin('sl1ma, reclaimed L1 shadow', head('sl1ma') + `peek fb=lfb\nwrite vcpu=g.0 va=0xffff800000002000\nwrite vcpu=g.0 va=0xffff800000009000\nreclaim dom=g va=0xffff800000000000\npeek fb=lfb\n`, 'acc-typo', ['lost-update']);

const QEMU_FLOW = `refresh fb=lfb\n${W5}refresh fb=lfb\nwrite vcpu=g.0 va=0xffff800000002000\nrefresh fb=lfb phase=draw\nwrite vcpu=g.0 va=0xffff800000002000\npeek fb=lfb\nrefresh fb=lfb phase=finish\nrefresh fb=lfb\n`;
for (const t of ['memcmp', 'dbit-2007', 'linear-2007', 'sl1ma', 'logdirty-2009', 'p2m-type', 'multi-fb'] as const) {
  const paging = PAGING[t];
  // The RFC never flushes: on 2007's VMX a VM exit (a timer) before each store did it instead.
  const flow = t === 'dbit-2007' ? QEMU_FLOW.replace(/write /g, 'vmexit vcpu=g.0\nwrite ') : QEMU_FLOW;
  const text = head(t, paging, t === 'dbit-2007' ? ' tlb=flush-on-exit' : '') + flow;
  twin(`${t} under QEMU`, text, 'qemu-reset-after-read', ['lost-update']);
}

// shadow_track_dirty_vram since 2965f75ebd (2026): the first call leaves the tracker idle
// (last_dirty = -1); only a write fault on VRAM (_sh_propagate) or a dirty put restarts scanning.
test('sl1ma: after the first call the tracker is idle: a peek with no VRAM write scans nothing and answers clean', () => {
  const r = run(head('sl1ma') + 'peek fb=lfb\npeek fb=lfb\n');
  assert.deepEqual(r.answers.map((a) => a.kind), ['enodata', 'bitmap']);
  assert.deepEqual(r.answers[1].dirty, []);
  assert.equal(r.costs.pteScans, 0, 'last_dirty == -1: no scan');
});

test('sl1ma: while idle a read fault maps VRAM read-only, so the store after it faults again and restarts scanning', () => {
  const ad = 'pte vcpu=g.0 va=0xffff800000005000 set=A,D\n';
  const r = run(head('sl1ma') + ad + 'peek fb=lfb\nread vcpu=g.0 va=0xffff800000005000\n' + W5 + 'peek fb=lfb\n');
  assert.equal(r.costs.shadowFaults, 1 + 2, 'the map\'s PML4 store, the read fault, then the write fault on the read-only entry');
  assert.deepEqual(r.answers[1].dirty, [5]);
  assert.equal(r.costs.pteScans, 16, 'the write fault set last_dirty: the peek scans');
  // Reads alone, through two mappings of one page: both entries read-only (count 0), nothing to report.
  const two = run(head('sl1ma') + 'map vcpu=g.0 va=0xffff800000100000 gfn=0x3005 pages=1\n' + ad +
    'pte vcpu=g.0 va=0xffff800000100000 set=A,D\npeek fb=lfb\nread vcpu=g.0 va=0xffff800000005000\nread vcpu=g.0 va=0xffff800000100000\npeek fb=lfb\n');
  assert.deepEqual(two.answers[1].dirty, []);
  assert.equal(two.costs.pteScans, 0);
});

test('p2m-type: a one-page framebuffer is never invalidated by the range change (change_type_range since 2018), so the next answer reports it, written or not', () => {
  const one = 'domain g paging=hap mem=64M vcpus=1\nvram lfb dom=g gfn=0x3000 pages=1\nmap vcpu=g.0 va=0xffff800000000000 fb=lfb\n';
  const r = run(one + 'peek fb=lfb\npeek fb=lfb\nwrite vcpu=g.0 va=0xffff800000000000\npeek fb=lfb\n');
  assert.deepEqual(r.answers.map((a) => a.kind === 'bitmap' ? a.dirty : a.kind), ['all', [0], [0]]);
  assert.deepEqual(r.answers[1].extra, [0], 'reported though nothing wrote it: it was still ram_rw');
  assert.equal(r.costs.eptViolations, 1, 're-armed by the second peek, the write faults');
  assert.deepEqual(r.violations, []);
});

test('sl1ma: the 2-second rule\'s sh_remove_write_access runs from dom0, so it reads L1 shadows until it finds the mapping (hash_foreach)', () => {
  // Page 9's only writable mapping is in the second L1 shadow made (the first maps the VRAM's
  // other VA range): one whole shadow, then slots 0..9 of the next.
  const t = head('sl1ma') + 'map vcpu=g.0 va=0xffff800000200000 gfn=0x3009 pages=1\npeek fb=lfb\nread vcpu=g.0 va=0xffff800000000000\n' +
    'write vcpu=g.0 va=0xffff800000200000\npeek fb=lfb\ntick 3s\npeek fb=lfb\n';
  const r = run(t);
  assert.equal(r.costs.pteScans, 2 * 16 + 512 + 1, 'two scans, then the search: 512 entries of the first L1 shadow and slot 0 of the second');
  assert.deepEqual(r.violations, []);
});

test('linear-2007 keeps the VA the first write fault taught it: a store through a second, temporary mapping is reported, not lost', () => {
  const tmp = 'map vcpu=g.0 va=0xffff800000100000 gfn=0x3005 pages=1\nwrite vcpu=g.0 va=0xffff800000100000\nunmap vcpu=g.0 va=0xffff800000100000 pages=1\ninvlpg vcpu=g.0 va=0xffff800000100000\n';
  const r = run(head('linear-2007') + 'peek fb=lfb\nwrite vcpu=g.0 va=0xffff800000002000\npeek fb=lfb\n' + tmp + 'peek fb=lfb\nwrite vcpu=g.0 va=0xffff800000002000\npeek fb=lfb\n');
  assert.deepEqual(r.answers.map((a) => a.kind === 'bitmap' ? a.dirty : a.kind), ['all', [2], [5], [2]]);
  assert.deepEqual(r.violations, []);
});

test('linear-2007 flushes the D bits it cleared before backing off (the flush is owed either way)', () => {
  // Page 2's D is cleared, then page 5's two writable mappings make the walk back off.
  const t = head('linear-2007') + 'map vcpu=g.0 va=0xffff800000100000 gfn=0x3005 pages=1\npeek fb=lfb\nwrite vcpu=g.0 va=0xffff800000002000\npeek fb=lfb\n' +
    'write vcpu=g.0 va=0xffff800000002000\nwrite vcpu=g.0 va=0xffff800000100000\nwrite vcpu=g.0 va=0xffff800000005000\npeek fb=lfb\nwrite vcpu=g.0 va=0xffff800000002000\n';
  const r = run(t);
  assert.equal(r.answers[2].kind, 'all', 'backed off');
  assert.deepEqual(r.violations, [], 'no store went through a translation cached with D=1');
});

test('dbit-2007 answers all when a new L1 shadow takes an LFB entry, not when an entry is made in an existing one (the walk finds that)', () => {
  const fx = head('dbit-2007', 'shadow', ' tlb=flush-on-exit');
  const r = run(fx + 'peek fb=lfb\nwrite vcpu=g.0 va=0xffff800000002000\npeek fb=lfb\npeek fb=lfb\nvmexit vcpu=g.0\nwrite vcpu=g.0 va=0xffff800000003000\npeek fb=lfb\n');
  assert.deepEqual(r.answers.map((a) => a.kind === 'bitmap' ? a.dirty : a.kind), ['all', 'all', [], [3]]);
});

test('dbit-2007 assumes a contiguous LFB by construction: contiguous-mfn changes nothing, and each misread page is one wrong-frame', () => {
  const t = 'domain g paging=shadow mem=64M vcpus=1 tracker=dbit-2007 mfns=scatter seed=3\nvram lfb dom=g gfn=0x3000 pages=4\nmap vcpu=g.0 va=0xffff800000000000 fb=lfb\npeek fb=lfb\nwrite vcpu=g.0 va=0xffff800000001000\npeek fb=lfb\n';
  const a = run(t);
  const b = run(t, ['contiguous-mfn']);
  assert.deepEqual(b.answers, a.answers);
  assert.deepEqual(b.violations, a.violations);
  const first = a.violations.filter((v) => v.line === 4);
  assert.ok(first.length > 1 && first.every((v) => v.id === 'wrong-frame' && v.pages?.length === 1), JSON.stringify(first));
});

test('logdirty-2009 reads its bits without pausing the guest (paging_log_dirty_range did not)', () => {
  const r = run('domain g paging=hap mem=64M vcpus=4 tracker=logdirty-2009\nvram lfb dom=g gfn=0x3000 pages=16\nmap vcpu=g.0 va=0xffff800000000000 fb=lfb\npeek fb=lfb\npeek fb=lfb\npeek fb=lfb\n');
  assert.equal(r.costs.vmexits, 4, 'only the first call, which enables tracking, pauses the four vCPUs');
});

test('multi-fb with clear-whole-leaf while migrating: clearing the shared leaf wipes bits the migration had not read (clear-scope)', () => {
  const r = run('domain g paging=hap mem=64M vcpus=1 tracker=multi-fb\nvram a dom=g gfn=0x1000 pages=16\nmap vcpu=g.0 va=0xffff800000000000 fb=a\n' +
    'map vcpu=g.0 va=0xffff800001000000 gfn=0x100 pages=1\nlogdirty dom=g enable\npeek fb=a\nwrite vcpu=g.0 va=0xffff800001000000\nwrite vcpu=g.0 va=0xffff800000003000\npeek fb=a\nlogdirty dom=g peek\n', ['clear-whole-leaf']);
  assert.ok(r.violations.some((v) => v.id === 'clear-scope' && v.gfn !== undefined && /migration had not read/.test(v.message)), JSON.stringify(r.violations));
  assert.ok(!r.logdirty.at(-1)!.dirty.includes(0x100), 'gfn 0x100 is gone from the migration log');
});

for (const paging of ['hap', 'shadow'] as const) {
  test(`multi-fb under ${paging}: untrack (nr = 0) frees every range, so each framebuffer's next peek answers all (dirty_vram_free)`, () => {
    const r = run(`domain g paging=${paging} mem=64M vcpus=1 tracker=multi-fb\nvram a dom=g gfn=0x1000 pages=16\nvram b dom=g gfn=0x2000 pages=16\n` +
      'map vcpu=g.0 va=0xffff800000000000 fb=a\nmap vcpu=g.0 va=0xffff800001000000 fb=b\n' +
      'peek fb=a\npeek fb=b\nwrite vcpu=g.0 va=0xffff800000003000\npeek fb=b\nuntrack fb=a\npeek fb=b\npeek fb=a\npeek fb=b\n');
    assert.deepEqual(r.answers.map((x) => `${x.fb}:${x.kind}`), ['a:all', 'b:all', 'b:bitmap', 'b:all', 'a:all', 'b:bitmap']);
    assert.deepEqual(r.violations, []);
  });
}

test('multi-fb under HAP: untrack leaves the pages ram_logdirty, so the next write to one still takes an EPT violation', () => {
  const base = 'domain g paging=hap mem=64M vcpus=1 tracker=multi-fb\nvram a dom=g gfn=0x1000 pages=16\nmap vcpu=g.0 va=0xffff800000000000 fb=a\npeek fb=a\nuntrack fb=a\n';
  const before = run(base);
  const after = run(base + 'write vcpu=g.0 va=0xffff800000003000\nwrite vcpu=g.0 va=0xffff800000003008\n');
  assert.equal(after.costs.eptViolations - before.costs.eptViolations, 1, 'the violation turns the page back to ram_rw: the second write takes none');
});

test('p2m-type counts every p2m_change_type_range: a range change reverts the old range and arms the new one, untrack reverts', () => {
  expectsHold('domain h paging=hap mem=64M vcpus=1 tracker=p2m-type\nvram hfb dom=h gfn=0x3000 pages=16\nvram fb2 dom=h gfn=0x3100 pages=8\n' +
    'peek fb=hfb\nexpect cost=p2mTypeChanges min=1 max=1\npeek fb=fb2\nexpect cost=p2mTypeChanges min=3 max=3\nuntrack fb=fb2\nexpect cost=p2mTypeChanges min=4 max=4\n');
});

test('log-dirty disable counts its global type change, as enable and clean count theirs', () => {
  expectsHold('domain h paging=hap mem=64M vcpus=1 tracker=p2m-type\nvram hfb dom=h gfn=0x3000 pages=16\n' +
    'logdirty dom=h enable\nexpect cost=p2mTypeChanges min=1 max=1\nlogdirty dom=h clean\nexpect cost=p2mTypeChanges min=2 max=2\nlogdirty dom=h disable\nexpect cost=p2mTypeChanges min=3 max=3\n');
});

test('a peek drains every vCPU\'s PML buffer under one p2m lock: one INVEPT for all their type changes, then one after re-arming', () => {
  expectsHold('domain h paging=hap mem=64M vcpus=2 tracker=p2m-type pml=on\nvram hfb dom=h gfn=0x3000 pages=16\nmap vcpu=h.0 va=0xffff800000000000 fb=hfb\n' +
    'peek fb=hfb\nwrite vcpu=h.0 va=0xffff800000003000\nwrite vcpu=h.1 va=0xffff800000005000\nexpect cost=tlbFlushes min=2 max=2\n' +
    'peek fb=hfb\nexpect fb=hfb dirty=3,5\nexpect cost=tlbFlushes min=4 max=4\nexpect cost=pmlDrains min=2 max=2\n');
});

test('with PML already on, a range change and log-dirty enable write the EPTP again: one more INVEPT each (ept_enable_pml)', () => {
  expectsHold('domain h paging=hap mem=64M vcpus=1 tracker=p2m-type pml=on\nvram hfb dom=h gfn=0x3000 pages=16\nvram fb2 dom=h gfn=0x3100 pages=8\nmap vcpu=h.0 va=0xffff800000000000 fb=hfb\n' +
    'peek fb=hfb\nexpect cost=tlbFlushes min=2 max=2\nread vcpu=h.0 va=0xffff800000002000\npeek fb=fb2\nexpect cost=tlbFlushes min=5 max=5\n' +
    'logdirty dom=h enable\nexpect cost=tlbFlushes min=7 max=7\n');
});

// ---- multi-fb as committed in bae850f060 (dirty_vram.c) ----

const MF_SHADOW = 'domain g paging=shadow mem=64M vcpus=1 tracker=multi-fb\nvram lfb dom=g gfn=0x3000 pages=16\nmap vcpu=g.0 va=0xffff800000000000 fb=lfb\n';
const MF_HAP = MF_SHADOW.replace('paging=shadow', 'paging=hap');
const answersOf = (r: Report): string[] => r.answers.map((a) => `${a.kind === 'bitmap' ? a.dirty.join(',') || 'none' : a.kind}`);

test('multi-fb under shadow: the D bit of a shadow entry that goes away is lost (no accumulator), and the write is a lost update', () => {
  // Another mapping keeps the range alive while the kernel's L1 shadow is reclaimed.
  const r = run(MF_SHADOW + 'map vcpu=g.0 va=0x7f0000000000 fb=lfb user\nread vcpu=g.0 va=0x7f0000000000\npeek fb=lfb\n' +
    'write vcpu=g.0 va=0xffff800000004000\nreclaim dom=g va=0xffff800000004000\npeek fb=lfb\n');
  assert.deepEqual(answersOf(r), ['all', 'none']);
  assert.deepEqual([...ids(r)], ['lost-update']);
});

test('multi-fb under shadow: re-propagating an entry to the same frame overwrites its D bit (shadow_vram_fix_l1e returns early)', () => {
  const r = run(MF_SHADOW + 'peek fb=lfb\nwrite vcpu=g.0 va=0xffff800000003000\npte vcpu=g.0 va=0xffff800000003000 set=NX\ninvlpg vcpu=g.0 va=0xffff800000003000\npeek fb=lfb\n');
  assert.deepEqual(answersOf(r), ['all', 'none']);
  assert.deepEqual([...ids(r)], ['lost-update']);
});

test('multi-fb under shadow: a range whose last linked shadow goes frees itself, so the next peek is a new range (all)', () => {
  const r = run(MF_SHADOW + 'peek fb=lfb\nwrite vcpu=g.0 va=0xffff800000004000\nreclaim dom=g\npeek fb=lfb\n');
  assert.deepEqual(answersOf(r), ['all', 'all']);
});

test('multi-fb under shadow: a page with more than 64 linked mappings is stuck dirty, reported at every peek', () => {
  let t = 'domain g paging=shadow mem=64M vcpus=1 tracker=multi-fb\nvram lfb dom=g gfn=0x3000 pages=16\npeek fb=lfb\n';
  for (let i = 0; i < 66; i++) {
    t += `map vcpu=g.0 va=0x${(0x7f0000000000 + i * 0x1000).toString(16)} gfn=0x3003 pages=1\n`;
  }
  for (let i = 0; i < 66; i++) {
    t += `read vcpu=g.0 va=0x${(0x7f0000000000 + i * 0x1000).toString(16)}\n`;
  }
  const r65 = run(t.replace(/read vcpu=g\.0 va=0x7f0000041000\n/, '') + 'peek fb=lfb\n');
  assert.deepEqual(answersOf(r65), ['all', 'none'], '65 links: still scanned');
  const r = run(t + 'peek fb=lfb\npeek fb=lfb\n');
  assert.deepEqual(answersOf(r), ['all', '3', '3']);
});

test('multi-fb under HAP: a peek with nothing marked in the range since the last one skips the scan (range->dirty_count)', () => {
  const idle = run(MF_HAP + 'peek fb=lfb\npeek fb=lfb\npeek fb=lfb\n');
  assert.equal(idle.costs.pteScans, 0);
  const busy = run(MF_HAP + 'peek fb=lfb\nwrite vcpu=g.0 va=0xffff800000003000\npeek fb=lfb\npeek fb=lfb\n');
  assert.deepEqual(answersOf(busy), ['all', '3', 'none']);
  assert.equal(busy.costs.pteScans, 16, 'one scan: the peek after the write');
});

test('multi-fb under HAP: a page turned ram_rw by p2m (HVMOP_set_mem_type) is not counted, so the next peek skips it: a lost update', () => {
  const r = run(MF_HAP + 'peek fb=lfb\np2m dom=g gfn=0x3003 pages=1 type=ram_rw\nwrite vcpu=g.0 va=0xffff800000003000\npeek fb=lfb\n');
  assert.deepEqual(answersOf(r), ['all', 'none']);
  assert.deepEqual([...ids(r)], ['lost-update']);
});

test('multi-fb under HAP: only the range that turns log-dirty mode on pauses the domain', () => {
  const r = run('domain g paging=hap mem=64M vcpus=1 tracker=multi-fb\nvram a dom=g gfn=0x1000 pages=16\nvram b dom=g gfn=0x2000 pages=16\npeek fb=a\npeek fb=b\n');
  assert.equal(r.costs.vmexits, 1);
});

// ---- logdirty-2009 as Xen ran it before fd91a2a662 (hap.c and paging.c at a31ed4edbe) ----

const LD09 = 'domain g paging=hap mem=64M vcpus=2 tracker=logdirty-2009\nvram lfb dom=g gfn=0x3000 pages=16\nvram two dom=g gfn=0x3100 pages=16\nmap vcpu=g.0 va=0xffff800000000000 fb=lfb\n';
const costsAfter = (text: string): Report['costs'] => run(text).costs;
const delta = (a: Report['costs'], b: Report['costs'], k: 'vmexits' | 'p2mTypeChanges' | 'tlbFlushes' | 'pteScans'): number => b[k] - a[k];

test('logdirty-2009: the first call enables tracking (a pause, the range armed) and its read runs the clean hook first (armed again): two changes, two flushes, an empty answer', () => {
  const r = run(LD09 + 'peek fb=lfb\n');
  assert.deepEqual(answersOf(r), ['none']);
  assert.equal(r.costs.vmexits, 2);
  assert.equal(r.costs.p2mTypeChanges, 2);
  assert.equal(r.costs.tlbFlushes, 2);
});

test('logdirty-2009: a read with nothing marked since the last one is a zero bitmap without a walk of the trie (dirty_count is 0)', () => {
  const a = costsAfter(LD09 + 'peek fb=lfb\n');
  const b = costsAfter(LD09 + 'peek fb=lfb\npeek fb=lfb\n');
  assert.equal(delta(a, b, 'pteScans'), 0);
  const c = costsAfter(LD09 + 'peek fb=lfb\nwrite vcpu=g.0 va=0xffff800000004000\npeek fb=lfb\n');
  assert.equal(c.pteScans, 16, 'a mark since: the range is read');
});

test('logdirty-2009: a range change disables and enables log-dirty mode (two pauses) and reads after the clean hook: three range changes, three flushes', () => {
  const a = costsAfter(LD09 + 'peek fb=lfb\n');
  const b = costsAfter(LD09 + 'peek fb=lfb\npeek fb=two\n');
  assert.equal(delta(a, b, 'vmexits'), 4);
  assert.equal(delta(a, b, 'p2mTypeChanges'), 3);
  assert.equal(delta(a, b, 'tlbFlushes'), 3);
});

test('logdirty-2009: untrack (nr = 0) is paging_log_dirty_disable, which pauses the domain', () => {
  const a = costsAfter(LD09 + 'peek fb=lfb\n');
  const b = costsAfter(LD09 + 'peek fb=lfb\nuntrack fb=lfb\n');
  assert.equal(delta(a, b, 'vmexits'), 2);
  assert.equal(delta(a, b, 'tlbFlushes'), 1);
});

test('logdirty-2009: a log-dirty PEEK or CLEAN while only VRAM tracking is on reads its trie; CLEAN takes the bits away from the display (a lost update)', () => {
  const r = run(LD09 + 'peek fb=lfb\nwrite vcpu=g.0 va=0xffff800000004000\nlogdirty dom=g peek\nwrite vcpu=g.0 va=0xffff800000005000\nlogdirty dom=g clean\npeek fb=lfb\n' +
    'write vcpu=g.0 va=0xffff800000006000\npeek fb=lfb\n');
  assert.deepEqual(r.logdirty.map((x) => x.dirty), [[0x3004], [0x3004, 0x3005]]);
  assert.deepEqual(answersOf(r), ['none', 'none', '6']);
  assert.ok(ids(r).has('lost-update'));
  assert.ok(r.violations.some((v) => v.id === 'clear-scope' && v.fb === 'lfb' && v.line === 9), 'the CLEAN took the display\'s unread bits');
});

test('logdirty-2009: after untrack the clean hook is still VRAM tracking\'s, so a log-dirty CLEAN with log-dirty mode off re-arms nothing', () => {
  const r = run(LD09 + 'peek fb=lfb\nuntrack fb=lfb\nlogdirty dom=g clean\nwrite vcpu=g.0 va=0xffff800000001000\n');
  assert.equal(r.costs.eptViolations, 0, 'today\'s global re-arm would make this store fault');
});

test('logdirty-2009: migration taking over turns VRAM tracking off first (hap_logdirty_init: a pause, the range back, a flush), then enables log-dirty mode (a pause)', () => {
  const a = costsAfter(LD09 + 'peek fb=lfb\n');
  const b = costsAfter(LD09 + 'peek fb=lfb\nlogdirty dom=g enable\n');
  assert.equal(delta(a, b, 'vmexits'), 4);
});

test('no-idle-heuristic: the same answers, more scanning', () => {
  let t = head('sl1ma') + `peek fb=lfb\n${W5}peek fb=lfb\n`;
  for (let i = 0; i < 8; i++) {
    t += 'tick 500ms\npeek fb=lfb\n';
  }
  t += W5 + 'peek fb=lfb\n';
  const a = run(t);
  const b = run(t, ['no-idle-heuristic']);
  assert.deepEqual(b.answers.map((x) => x.dirty), a.answers.map((x) => x.dirty));
  assert.ok(b.costs.pteScans > a.costs.pteScans);
  assert.equal(b.violations.length + a.violations.length, 0);
});

// ---- property tests ----------------------------------------------------------------------------

type Act = { k: 'w'; page: number; off: number } | { k: 'peek' } | { k: 'tick' } | { k: 'reclaim' } | { k: 'vmexit' } | { k: 'flush' } | { k: 'read'; page: number };
const act: fc.Arbitrary<Act> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ k: fc.constant('w' as const), page: fc.integer({ min: 0, max: 15 }), off: fc.integer({ min: 0, max: 1023 }) }) },
  { weight: 3, arbitrary: fc.constant({ k: 'peek' as const }) },
  { weight: 2, arbitrary: fc.constant({ k: 'tick' as const }) },
  { weight: 1, arbitrary: fc.constant({ k: 'reclaim' as const }) },
  { weight: 1, arbitrary: fc.constant({ k: 'vmexit' as const }) },
  { weight: 1, arbitrary: fc.constant({ k: 'flush' as const }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('read' as const), page: fc.integer({ min: 0, max: 15 }) }) },
);
function workload(tracker: TrackerId, paging: 'shadow' | 'hap', acts: Act[], extra = ''): string {
  let t = head(tracker, paging, extra) + 'peek fb=lfb\n';
  for (const a of acts) {
    switch (a.k) {
      case 'w': t += `write vcpu=g.${a.page % 2} va=0x${(0xffff800000000000n + BigInt(a.page * 4096 + a.off * 4)).toString(16)}\n`; break;
      case 'read': t += `read vcpu=g.0 va=0x${(0xffff800000000000n + BigInt(a.page * 4096)).toString(16)}\n`; break;
      case 'peek': t += 'peek fb=lfb\n'; break;
      case 'tick': t += 'tick 700ms\n'; break;
      case 'reclaim': t += 'reclaim dom=g va=0xffff800000000000\n'; break;
      case 'vmexit': t += 'vmexit vcpu=g.1\n'; break;
      case 'flush': t += 'flush dom=g\n'; break;
    }
  }
  return t.replace('vcpus=1', 'vcpus=2') + 'peek fb=lfb\n';
}

for (const [t, paging, extra] of [
  ['sl1ma', 'shadow', ''], ['linear-2007', 'shadow', ''], ['multi-fb', 'shadow', ''], ['memcmp', 'shadow', ''],
  ['p2m-type', 'hap', ''], ['p2m-type', 'hap', ' pml=on'], ['multi-fb', 'hap', ' pml=on'], ['logdirty-2009', 'hap', ''], ['memcmp', 'hap', ''],
] as const) {
  test(`property: ${t}/${paging}${extra} reports every changed page on random workloads`, () => {
    fc.assert(fc.property(fc.array(act, { maxLength: 60 }), (acts) => {
      const r = run(workload(t, paging, acts, extra));
      const lost = r.violations.filter((v) => v.id === 'lost-update' || v.id === 'stale-tlb');
      assert.deepEqual(lost, []);
      if (t === 'memcmp') {
        for (const a of r.answers) {
          if (a.kind === 'bitmap') {
            assert.deepEqual(a.dirty, a.changed, `line ${a.line}: memcmp answers exactly the changed pages`);
          }
        }
      }
    }), { numRuns: 40, seed: 4242 });
  });
}

/** Each invariant of the spec fires on the situation it names, and only then. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTrace } from '../../src/trace/index';
import { createEngine } from '../../src/sim/engine';
import type { BugId } from '../../src/sim/program';

const SH = 'domain g paging=shadow mem=64M vcpus=1\nvram lfb dom=g gfn=0x3000 pages=16\nmap vcpu=g.0 va=0xffff800000000000 fb=lfb\n';
function ids(text: string, inject: BugId[] = []): string[] {
  const e = createEngine(parseTrace(text, 'inv.xpt'), { inject });
  e.run({});
  return [...new Set(e.report().violations.map((v) => v.id))].sort();
}

test('lost-update and stale-tlb: D cleared without a flush', () => {
  const t = SH + 'peek fb=lfb\nwrite vcpu=g.0 va=0xffff800000005000\npeek fb=lfb\nwrite vcpu=g.0 va=0xffff800000005000\npeek fb=lfb\n';
  assert.deepEqual(ids(t), []);
  assert.deepEqual(ids(t, ['skip-flush']), ['lost-update', 'stale-tlb']);
});

test('guest-no-flush: the guest removes RW and stores through its old translation', () => {
  const t = SH + 'write vcpu=g.0 va=0xffff800000001000\npte vcpu=g.0 va=0xffff800000001000 clear=RW\nwrite vcpu=g.0 va=0xffff800000001000\n';
  assert.deepEqual(ids(t), ['guest-no-flush']);
  assert.deepEqual(ids(t.replace(/(clear=RW\n)/, '$1invlpg vcpu=g.0 va=0xffff800000001000\n').replace(/write vcpu=g.0 va=0xffff800000001000\n$/, 'read vcpu=g.0 va=0xffff800000001000\n')), []);
});

test('wrong-frame: a contiguity assumption on scattered frames', () => {
  const t = SH.replace('vcpus=1', 'vcpus=1 mfns=scatter seed=3') + 'peek fb=lfb\nwrite vcpu=g.0 va=0xffff800000002000\npeek fb=lfb\n';
  assert.deepEqual(ids(t), []);
  assert.ok(ids(t, ['contiguous-mfn']).includes('wrong-frame'));
});

test('idle-writable: write access removed after 2 s, but the TLB keeps a writable entry', () => {
  let t = SH + 'peek fb=lfb\nwrite vcpu=g.0 va=0xffff800000005000\npeek fb=lfb\n';
  for (let i = 0; i < 5; i++) {
    t += 'tick 500ms\npeek fb=lfb\n';
  }
  assert.deepEqual(ids(t), []);
  assert.ok(ids(t, ['skip-flush']).includes('idle-writable'));
});

test('clear-scope: a migration CLEAN re-arms VRAM pages the display has not read', () => {
  const t = 'domain g paging=hap mem=64M vcpus=1\nvram lfb dom=g gfn=0x3000 pages=16\nmap vcpu=g.0 va=0xffff800000000000 fb=lfb\nwrite vcpu=g.0 va=0xffff800000004000\npeek fb=lfb\nlogdirty dom=g enable\nwrite vcpu=g.0 va=0xffff800000004000\n';
  assert.deepEqual(ids(t + 'peek fb=lfb\nlogdirty dom=g clean\n'), [], 'read by the display first: nothing lost');
  assert.deepEqual(ids(t + 'logdirty dom=g clean\npeek fb=lfb\n'), ['clear-scope', 'lost-update']);
});

test('sl1ma: the checker flags a remembered entry that no longer maps its page writable', () => {
  const e = createEngine(parseTrace(SH + 'peek fb=lfb\nwrite vcpu=g.0 va=0xffff800000005000\n', 'inv.xpt'), {});
  e.run({});
  assert.deepEqual(e.report().violations, []);
  const m = e.machine;
  const d = m.dom('g');
  const vram = d.shVram!;
  assert.notEqual(vram.sl1ma.get(5), -1, 'the store recorded sl1ma[5]');
  vram.sl1ma.set(5, vram.sl1ma.get(5) + 1); // the next slot: not present
  m.touchVram(d, 5);
  m.checkSl1ma();
  assert.deepEqual(m.sink.violations.map((v) => v.id), ['sl1ma']);
});

test('rangeset: the ioreq rangesets stay canonical through merges and splits', () => {
  const t = 'domain g paging=hap mem=64M vcpus=1\nioreq server s dom=g limit=3\nioreq map s kind=port range=0x10..0x20\nioreq map s kind=port range=0x20..0x30\nioreq map s kind=port range=0x40..0x50\nioreq unmap s kind=port range=0x14..0x18\nioreq unmap s kind=port range=0x44..0x48\n';
  const e = createEngine(parseTrace(t, 'inv.xpt'), {});
  e.run({});
  const r = e.report();
  assert.deepEqual(r.ioreq.map((x) => x.result), ['ok', 'ok', 'ok', 'ok', 'ENOMEM']);
  assert.deepEqual(r.violations, []);
  assert.equal(e.machine.ioreq.checkInvariant(), null);
});

test('each step reports only its own violations (outcomes never share arrays)', () => {
  const t = SH + 'peek fb=lfb\nwrite vcpu=g.0 va=0xffff800000005000\npeek fb=lfb\nwrite vcpu=g.0 va=0xffff800000005000\npeek fb=lfb\nread vcpu=g.0 va=0xffff800000005000\n';
  const e = createEngine(parseTrace(t, 'inv.xpt'), { inject: ['skip-flush'] });
  e.recordEvents = true;
  const r = e.run({ collect: true });
  const counts = r.outcomes.map((o) => o.violations.length);
  assert.deepEqual(counts, [0, 0, 0, 0, 0, 0, 1, 1, 0], 'the stale store (line 7) and the lost update (line 8) only');
  assert.ok(r.outcomes[0].events.length > 0 && r.outcomes[0].events !== r.outcomes[1].events);
});

test('stale-tlb still fires on an entry the guest already made guest-no-flush: the guest\'s slip does not hide Xen\'s missing flush', () => {
  const t = 'domain g paging=hap mem=64M vcpus=1 tracker=p2m-type\nvram lfb dom=g gfn=0x3000 pages=16\nmap vcpu=g.0 va=0xffff800000000000 fb=lfb\npeek fb=lfb\n' +
    'write vcpu=g.0 va=0xffff800000005000\npte vcpu=g.0 va=0xffff800000005000 clear=A\nwrite vcpu=g.0 va=0xffff800000005000\npeek fb=lfb\nwrite vcpu=g.0 va=0xffff800000005004\npeek fb=lfb\n';
  assert.deepEqual(ids(t), ['guest-no-flush']);
  assert.deepEqual(ids(t, ['skip-flush']), ['guest-no-flush', 'lost-update', 'stale-tlb']);
});

test('guest-no-flush only for PTE changes that call for an invalidation (SDM 4.10.4.3): setting D or R/W, or rewriting the same bytes, is not a guest bug', () => {
  const head = 'domain g paging=hap mem=64M vcpus=1\nmap vcpu=g.0 va=0x400000 gfn=0x100 pages=1\nmap vcpu=g.0 va=0x401000 gfn=0x101 pages=1 ro\n' +
    'read vcpu=g.0 va=0x400000\nread vcpu=g.0 va=0x401000\n';
  assert.deepEqual(ids(head + 'pte vcpu=g.0 va=0x400000 set=D\npte vcpu=g.0 va=0x401000 set=RW\nread vcpu=g.0 va=0x400000\nread vcpu=g.0 va=0x401000\n'), []);
  for (const edit of ['clear=RW', 'clear=A', 'set=NX', 'clear=P']) {
    const t = head + `pte vcpu=g.0 va=0x400000 ${edit}\n` + (edit === 'clear=P' ? '' : 'read vcpu=g.0 va=0x400000\n') + (edit === 'clear=P' ? 'read vcpu=g.0 va=0x400000\n' : '');
    assert.deepEqual(ids(t), ['guest-no-flush'], edit);
  }
  // The guest's store of the byte its PTE already holds (entry 0 of the L1 table, mapped at 0x800000).
  const same = 'domain g paging=hap mem=64M vcpus=1\nmap vcpu=g.0 va=0x400000 gfn=0x100 pages=1\nmap vcpu=g.0 va=0x800000 gfn=0x3ffc pages=1\n' +
    'read vcpu=g.0 va=0x400000\nwrite vcpu=g.0 va=0x800000 len=1 byte=0x23\nread vcpu=g.0 va=0x400000\n';
  assert.deepEqual(ids(same), []);
  assert.deepEqual(ids(same.replace('byte=0x23', 'byte=0x21')), ['guest-no-flush'], 'the same store clearing R/W is one');
});

test('lost-update across a resize: a page written before the framebuffer shrank and answered nowhere after it grew back', () => {
  // logdirty-2009 answers an empty bitmap after a range change (Xen 2009 re-enabled tracking):
  // the store to page 5 is lost, and the oracle, which keeps page 5's state while it is outside the
  // framebuffer, says so.
  const t = 'domain g paging=hap mem=64M vcpus=1 tracker=logdirty-2009\nvram lfb dom=g gfn=0x3000 pages=16\nmap vcpu=g.0 va=0xffff800000000000 fb=lfb\npeek fb=lfb\n' +
    'write vcpu=g.0 va=0xffff800000005000 byte=0x55\nresize fb=lfb pages=4\npeek fb=lfb\nresize fb=lfb pages=16\npeek fb=lfb\n';
  assert.deepEqual(ids(t), ['lost-update']);
  // Under p2m-type the range change answers all: nothing is lost.
  assert.deepEqual(ids(t.replace('logdirty-2009', 'p2m-type')), []);
});

test('clear-scope: a logdirty-2009 peek of another framebuffer frees the trie with the first one\'s unread bits', () => {
  const t = 'domain g paging=hap mem=64M vcpus=1 tracker=logdirty-2009\nvram lfb dom=g gfn=0x3000 pages=16\nvram lfb2 dom=g gfn=0x3010 pages=16\n' +
    'map vcpu=g.0 va=0xffff800000000000 gfn=0x3000 pages=32\npeek fb=lfb\nwrite vcpu=g.0 va=0xffff800000003000\npeek fb=lfb2\npeek fb=lfb\n';
  assert.deepEqual(ids(t), ['clear-scope', 'lost-update']);
});

test('the screen is stale only where pixels differ: bytes past the last scanline are never drawn', () => {
  const t = 'domain g paging=hap mem=64M vcpus=1\nvram lfb dom=g gfn=0x3000 pages=4 width=1000 height=4\nmap vcpu=g.0 va=0xffff800000000000 fb=lfb\nrefresh fb=lfb\n' +
    'write vcpu=g.0 va=0xffff800000003ee4 byte=0x55\nrefresh fb=lfb\nrefresh fb=lfb\nexpect screen fb=lfb stale=none\n';
  const e = createEngine(parseTrace(t, 'inv.xpt'), {});
  e.run({});
  assert.deepEqual(e.report().expects.failed, []);
});

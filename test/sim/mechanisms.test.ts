/** Unit tests of single mechanisms, each on a small trace written for it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTrace } from '../../src/trace/index';
import { createEngine, type Engine } from '../../src/sim/engine';
import { Machine } from '../../src/sim/machine';
import { expectsHold } from './expects';

const KVA = '0xffff800000000000';
function engine(text: string, inject: string[] = []): Engine {
  return createEngine(parseTrace(text, 'unit.xpt'), { inject: inject as never });
}
const SHADOW = `domain g paging=shadow mem=64M vcpus=2\nvram lfb dom=g gfn=0x3000 pages=16\nmap vcpu=g.0 va=${KVA} fb=lfb\n`;
const HAP = `domain g paging=hap mem=64M vcpus=1\nvram lfb dom=g gfn=0x3000 pages=16\nmap vcpu=g.0 va=${KVA} fb=lfb\n`;

test('TLB: a store fills the vCPU TLB with dirty=1; a second store hits without a refill', () => {
  const e = engine(SHADOW + `write vcpu=g.0 va=${KVA}\nwrite vcpu=g.0 va=${KVA}\n`);
  e.run({});
  const tlb = e.tlb('g.0');
  assert.equal(tlb.length, 1);
  assert.equal(tlb[0].writable, true);
  assert.equal(tlb[0].dirty, true);
  assert.equal(e.report().costs.tlbRefills, 1);
  assert.equal(e.tlb('g.1').length, 0, 'TLBs are per vCPU');
});

test('guest walk sets A on every level and D on the leaf (SDM A/D semantics)', () => {
  const e = engine(SHADOW + `read vcpu=g.0 va=${KVA}\n`);
  e.run({});
  let w = e.walk('g.0', 0x8000_0000_0000);
  assert.ok(w.guest.every((l) => l.flags.A));
  assert.equal(w.guest[3].flags.D, false, 'a load does not set D');
  const e2 = engine(SHADOW + `write vcpu=g.0 va=${KVA}\n`);
  e2.run({});
  w = e2.walk('g.0', 0x8000_0000_0000);
  assert.equal(w.guest[3].flags.D, true);
});

test('shadow: guest D is not copied; a read makes a read-only shadow entry, a write faults once more', () => {
  const e = engine(SHADOW + `read vcpu=g.0 va=${KVA}\n`);
  e.run({});
  let w = e.walk('g.0', 0x8000_0000_0000);
  assert.equal(w.shadow[3].flags.RW, false);
  assert.equal(w.shadow[3].flags.D, false);
  const e2 = engine(SHADOW + `read vcpu=g.0 va=${KVA}\nwrite vcpu=g.0 va=${KVA}\n`);
  e2.run({});
  w = e2.walk('g.0', 0x8000_0000_0000);
  assert.equal(w.shadow[3].flags.RW, true);
  assert.equal(w.shadow[3].flags.D, true, 'the retried store set shadow D');
  // The map's store to the PML4 (shadowed from the start, sh_update_cr3) is one more.
  assert.equal(e2.report().costs.shadowFaults, 1 + 2);
});

test('shadow: before the first access no shadow maps the VA, and the walk says the next access faults', () => {
  const e = engine(SHADOW);
  e.run({});
  let w = e.walk('g.0', 0x8000_0000_0000);
  assert.equal(w.gfn, 0x3000, 'the guest maps it');
  assert.equal(w.mfn, undefined);
  assert.match(w.stop ?? '', /shadow fault/);
  const e2 = engine(SHADOW + `read vcpu=g.0 va=${KVA}\n`);
  e2.run({});
  w = e2.walk('g.0', 0x8000_0000_0000);
  assert.notEqual(w.mfn, undefined);
  assert.equal(w.stop, undefined);
});

test('shadow: guest page-table frames are write-protected and PTE writes are emulated', () => {
  const e = engine(SHADOW + `write vcpu=g.0 va=${KVA}\nmap vcpu=g.0 va=0xffff800000100000 gfn=0x10 pages=1\n`);
  e.run({});
  const w = e.walk('g.0', 0x8000_0000_0000);
  assert.ok(w.guest.every((l) => l.writeProtected), 'every table on the path is shadowed');
  assert.ok(e.report().costs.ptEmulations >= 1, 'the PTE write on a shadowed L1 was emulated');
});

test('shadow_blow_tables keeps the top-level shadow a vCPU has loaded, emptied: its guest L4 stays write-protected', () => {
  const text = SHADOW + `write vcpu=g.0 va=${KVA}\npeek fb=lfb\nmap vcpu=g.0 va=0x0000100000000000 gfn=0x100 pages=1\n`;
  const e = engine(text);
  e.run({});
  const w = e.walk('g.0', 0x8000_0000_0000);
  assert.equal(w.shadow.length, 1, 'only the L4 shadow is left');
  assert.equal(w.shadow[0].flags.P, false, 'its entries were unhooked');
  assert.equal(w.guest[0].writeProtected, true);
  assert.equal(w.guest[3].writeProtected, false, 'the L1 shadow went');
  assert.equal(e.report().costs.ptEmulations, 2, 'both PML4 entries (the first map\'s, the new one after the blow) are emulated writes');
});

// sh_prefetch (SHOPT_PREFETCH): a fault also shadows the guest L1 entries after it that would not
// fault again for A or D, up to 32 slots.
/**
 * Run a trace with the walk caches (Machine.fastPaths) and without, require the same per-step
 * event kinds, costs and state hash, and return the run with them: `${line}: ${kinds}` per step,
 * then the costs and the hash.
 */
function sameWithoutCaches(text: string, file: string, what = file): string[] {
  const run = (): string[] => {
    const e = createEngine(parseTrace(text, file), {});
    e.recordEvents = true;
    const out: string[] = [];
    while (!e.done) {
      const o = e.step();
      out.push(`${o.line}: ${o.events.map((x) => x.kind).join(',')}`);
    }
    return [...out, JSON.stringify(e.report().costs), e.stateHash()];
  };
  const cached = run();
  Machine.fastPaths = false;
  try {
    assert.deepEqual(cached, run(), what);
  } finally {
    Machine.fastPaths = true;
  }
  return cached;
}

const DRAW4 = [0, 1, 2, 3].map((p) => `write vcpu=g.0 va=0xffff80000000${p}000\n`).join('');
test('shadow: a fault prefetches the following guest L1 entries the guest has already used', () => {
  // The guest drew pages 0..3 (their PTEs have A and D); the first sl1ma call blows the shadows.
  const e = engine(SHADOW + DRAW4 + 'peek fb=lfb\n' + DRAW4 + 'peek fb=lfb\n');
  e.run({});
  const r = e.report();
  assert.equal(r.costs.shadowFaults, 1 + 4 + 1, 'the map\'s PML4 store; after the blow, page 0 faults and its fault shadows 1..3 writable');
  assert.deepEqual(r.answers[1].dirty, [0, 1, 2, 3], 'shadow_vram_get_mfn recorded the prefetched entries');
  assert.deepEqual(r.violations, []);
});

test('shadow: prefetch stops at an entry that would fault again (A=0, or RW with D=0), and at a shadow already there', () => {
  // Fresh mappings (A=0): every first store faults on its own.
  let e = engine(SHADOW + DRAW4);
  e.run({});
  assert.equal(e.report().costs.shadowFaults, 1 + 4, 'the map\'s PML4 store, then the four pages');
  // Page 1 read only (A=1, D=0, RW): a fault on page 0 stops before it.
  e = engine(SHADOW + `write vcpu=g.0 va=${KVA}\nread vcpu=g.0 va=0xffff800000001000\nwrite vcpu=g.0 va=0xffff800000002000\nreclaim dom=g\nwrite vcpu=g.0 va=${KVA}\n`);
  e.run({});
  let w = e.walk('g.0', 0x8000_0000_1000);
  assert.equal(w.mfn, undefined, 'page 1 was not prefetched');
  w = e.walk('g.0', 0x8000_0000_2000);
  assert.equal(w.mfn, undefined, 'nor anything past it');
  // Read-only guest entries with A set are prefetched, read-only.
  e = engine(SHADOW + `pte vcpu=g.0 va=0xffff800000001000 set=A clear=RW\nwrite vcpu=g.0 va=${KVA}\n`);
  e.run({});
  w = e.walk('g.0', 0x8000_0000_1000);
  assert.notEqual(w.mfn, undefined);
  assert.equal(w.shadow[3].flags.RW, false);
});

test('shadow: while sl1ma is idle, prefetched VRAM entries are read-only (a prefetch is not a write fetch)', () => {
  // After the first call the tracker is idle; a read of page 0 prefetches 1..3 read-only, so the
  // store to page 2 faults and is the one that resumes scanning.
  const e = engine(SHADOW + DRAW4 + 'peek fb=lfb\n' + `read vcpu=g.0 va=${KVA}\nwrite vcpu=g.0 va=0xffff800000002000\npeek fb=lfb\n`);
  e.run({});
  const w = e.walk('g.0', 0x8000_0000_3000);
  assert.equal(w.shadow[3].flags.RW, false);
  const r = e.report();
  assert.equal(r.costs.shadowFaults, 1 + 4 + 2);
  assert.deepEqual(r.answers[1].dirty, [2]);
});

test('reclaim destroys the L1 shadow through the put path and flushes TLBs', () => {
  const e = engine(SHADOW + `peek fb=lfb\nwrite vcpu=g.0 va=0xffff800000002000\nreclaim dom=g va=${KVA}\npeek fb=lfb\n`);
  e.run({});
  const r = e.report();
  assert.deepEqual(r.answers[1].dirty, [2]);
  assert.equal(e.tlb('g.0').length, 0);
  assert.equal(e.walk('g.0', 0x8000_0000_2000).shadow.length < 4, true, 'the L1 shadow is gone');
});

test('reclaim dom=D va=VA flushes the guest\'s TLBs even when no L1 shadow maps VA', () => {
  // 0x40000000 is mapped by nothing: no L1 shadow (nor guest L1) exists for it.
  const e = engine(SHADOW + `write vcpu=g.0 va=${KVA}
read vcpu=g.1 va=${KVA}
reclaim dom=g va=0x40000000
`);
  const lines: number[] = [];
  let flushes = 0;
  e.recordEvents = true;
  while (!e.done) {
    const o = e.step();
    lines.push(o.line);
    if (o.line === 6) {
      flushes = o.events.filter((x) => x.kind === 'tlb-flush').length;
    }
  }
  assert.ok(flushes >= 1, 'the reclaim step flushes');
  assert.equal(e.tlb('g.0').length, 0);
  assert.equal(e.tlb('g.1').length, 0);
  const withTables = engine(SHADOW + `write vcpu=g.0 va=${KVA}
reclaim dom=g va=${KVA}
`);
  withTables.run({});
  const without = engine(SHADOW + `write vcpu=g.0 va=${KVA}
reclaim dom=g va=0x40000000
`);
  without.run({});
  assert.equal(without.report().costs.tlbFlushes, withTables.report().costs.tlbFlushes, 'one flush either way');
});

test('p2m: arming is lazy (recalc pending), the first access resolves it through a misconfig exit', () => {
  const e = engine(HAP + 'peek fb=lfb\n');
  e.run({});
  const before = e.p2m('g', 0x3005, 1)[0];
  assert.equal(before.recalc, true);
  assert.equal(before.type, 'ram_logdirty', 'lookups report the recalculated type');
  const e2 = engine(HAP + 'peek fb=lfb\nread vcpu=g.0 va=0xffff800000005000\n');
  e2.run({});
  const after = e2.p2m('g', 0x3005, 1)[0];
  assert.equal(after.recalc, false);
  assert.equal(after.type, 'ram_logdirty');
  assert.equal(after.w, false, 'logdirty without PML is read-only in EPT');
});

test('p2m: one misconfig exit recalculates the whole EPT leaf table (512 gfns), as resolve_misconfig does', () => {
  // Pages 0-15 (gfns 0x31f0-0x31ff) share one EPT leaf table; pages 16-31 (0x3200-) are in the next.
  const armed = `domain g paging=hap mem=64M vcpus=1\nvram lfb dom=g gfn=0x31f0 pages=32\nmap vcpu=g.0 va=${KVA} fb=lfb\npeek fb=lfb\n`;
  const e = engine(armed + `read vcpu=g.0 va=${KVA}\n`);
  e.run({});
  const p = e.p2m('g', 0x31f0, 32);
  assert.deepEqual(p.slice(0, 16).map((x) => x.recalc), new Array(16).fill(false), 'the whole table of the page read is recalculated');
  assert.deepEqual(p.slice(0, 16).map((x) => x.type), new Array(16).fill('ram_logdirty'));
  assert.deepEqual(p.slice(16).map((x) => x.recalc), new Array(16).fill(true), 'the next table is still pending');
  // A read of page 15 (same table) takes no exit; one of page 16 (next table) takes its misconfig.
  const e2 = engine(armed + `read vcpu=g.0 va=${KVA}\nread vcpu=g.0 va=0xffff80000000f000\n`);
  e2.run({});
  assert.equal(e2.report().costs.vmexits, e.report().costs.vmexits);
  const e3 = engine(armed + `read vcpu=g.0 va=${KVA}\nread vcpu=g.0 va=0xffff800000010000\n`);
  e3.run({});
  assert.equal(e3.report().costs.vmexits, e.report().costs.vmexits + 1);
});

test('p2m: setting an entry first carries out what is pending in its EPT table (ept_set_entry → resolve_misconfig)', () => {
  const armed = `domain g paging=hap mem=64M vcpus=1\nvram lfb dom=g gfn=0x31f0 pages=32\nmap vcpu=g.0 va=${KVA} fb=lfb\npeek fb=lfb\n`;
  const e = engine(armed + 'p2m dom=g gfn=0x3200 pages=1 type=ram_rw\n');
  e.run({});
  const p = e.p2m('g', 0x31f0, 32);
  assert.deepEqual(p.slice(16).map((x) => x.recalc), new Array(16).fill(false), 'the set entry\'s table is resolved');
  assert.deepEqual(p.slice(0, 16).map((x) => x.recalc), new Array(16).fill(true), 'the table before it is not');
  // So a read of page 17 (gfn 0x3201) then takes no misconfiguration exit.
  const e2 = engine(armed + 'p2m dom=g gfn=0x3200 pages=1 type=ram_rw\nread vcpu=g.0 va=0xffff800000011000\n');
  e2.run({});
  assert.equal(e2.report().costs.vmexits, e.report().costs.vmexits);
});

test('HAP: an EPT violation flips the page to ram_rw; the peek re-arms it', () => {
  const e = engine(HAP + 'peek fb=lfb\nwrite vcpu=g.0 va=0xffff800000005000\n');
  e.run({});
  assert.equal(e.p2m('g', 0x3005, 1)[0].type, 'ram_rw');
  assert.equal(e.report().costs.eptViolations, 1);
  const e2 = engine(HAP + 'peek fb=lfb\nwrite vcpu=g.0 va=0xffff800000005000\npeek fb=lfb\n');
  e2.run({});
  assert.equal(e2.p2m('g', 0x3005, 1)[0].type, 'ram_logdirty');
});

// Where Xen's EPT code flushes (INVEPT at the p2m unlock): ept_set_entry syncs whenever the old
// entry was present; a range or global change syncs only when it marked an entry not already pending.
test('HAP: the EPT violation\'s type change flushes every vCPU\'s TLB (ept_set_entry syncs on a present entry)', () => {
  const two = 'domain g paging=hap mem=64M vcpus=2\nvram lfb dom=g gfn=0x3000 pages=16\nmap vcpu=g.0 va=0xffff800000000000 fb=lfb\n';
  const e = engine(two + 'peek fb=lfb\nread vcpu=g.1 va=0xffff800000002000\nwrite vcpu=g.0 va=0xffff800000004000\nread vcpu=g.1 va=0xffff800000002000\npeek fb=lfb\n');
  e.run({});
  const r = e.report();
  assert.equal(r.costs.tlbFlushes, 3, 'arming, the violation, the re-arm');
  assert.equal(r.costs.tlbRefills, 3, 'vCPU 1 refills its translation after the violation on vCPU 0');
  assert.deepEqual(r.answers[1].dirty, [4]);
});

test('HAP: range changes flush only when they mark an entry that had nothing pending', () => {
  // Resized before any access: both the old range's reset and the new range's arming find their
  // entries still pending from the first arming.
  let e = engine(HAP + 'peek fb=lfb\nresize fb=lfb pages=8\npeek fb=lfb\n');
  e.run({});
  assert.equal(e.report().costs.tlbFlushes, 1);
  // After a write resolved the table, the old range's reset marks it (a flush); the new range's
  // arming right after finds those entries pending again and marks nothing.
  e = engine(HAP + 'peek fb=lfb\nwrite vcpu=g.0 va=0xffff800000005000\npeek fb=lfb\nresize fb=lfb pages=8\npeek fb=lfb\n');
  e.run({});
  assert.equal(e.report().costs.tlbFlushes, 3 + 1);
  // Log-dirty enabled, then disabled before any access: the disable's global change marks nothing new.
  e = engine('domain g paging=hap mem=64M vcpus=2\nlogdirty dom=g enable\nlogdirty dom=g disable\n');
  e.run({});
  assert.equal(e.report().costs.tlbFlushes, 1);
  assert.equal(e.report().costs.vmexits, 4, 'enable and disable each pause both vCPUs');
});

test('PML: enabling it flushes (the EPTP gains A/D), and a drain that changes types flushes at its unlock', () => {
  const e = engine('domain g paging=hap mem=64M vcpus=1 pml=on\nvram lfb dom=g gfn=0x3000 pages=16\nmap vcpu=g.0 va=0xffff800000000000 fb=lfb\npeek fb=lfb\nwrite vcpu=g.0 va=0xffff800000006000\npeek fb=lfb\n');
  e.run({});
  const r = e.report();
  assert.equal(r.costs.tlbFlushes, 4, 'PML on, arming, the drain, the re-arm');
  assert.equal(r.costs.eptViolations, 0);
  assert.deepEqual(r.answers[1].dirty, [6]);
});

test('logdirty: PEEK and CLEAN with log-dirty mode off still pause and drain; CLEAN re-arms every page (hap_clean_dirty_bitmap)', () => {
  const e = engine(HAP + 'peek fb=lfb\nwrite vcpu=g.0 va=0xffff800000004000\nlogdirty dom=g peek\nlogdirty dom=g clean\npeek fb=lfb\n');
  e.run({});
  const r = e.report();
  assert.deepEqual(r.logdirty.map((l) => l.dirty), [[], []]);
  assert.deepEqual(r.answers[1].missed, [4], 'the unread VRAM page was re-armed by the CLEAN');
  assert.deepEqual(r.violations.map((v) => v.id), ['clear-scope', 'lost-update']);
});

test('PML: disabling migration log-dirty turns PML off; VRAM entries already ram_logdirty keep w=1, so their writes are lost to the next peek', () => {
  const pml = 'domain g paging=hap mem=64M vcpus=1 pml=on\nvram lfb dom=g gfn=0x3000 pages=16\nmap vcpu=g.0 va=0xffff800000000000 fb=lfb\n';
  // The read resolves the EPT table with PML on: page 4 is stored ram_logdirty with w=1.
  const setup = pml + 'write vcpu=g.0 va=0xffff800000004000\npeek fb=lfb\nread vcpu=g.0 va=0xffff800000000000\nlogdirty dom=g enable\nlogdirty dom=g disable\n';
  let e = engine(setup + 'write vcpu=g.0 va=0xffff800000004000\npeek fb=lfb\n');
  e.run({});
  let r = e.report();
  assert.equal(r.costs.eptViolations, 0, 'the write went through the stale w=1');
  assert.deepEqual(r.answers[1].missed, [4]);
  assert.deepEqual(r.violations.map((v) => v.id), ['lost-update']);
  const view = e.p2m('g', 0x3004, 1)[0];
  assert.deepEqual([view.type, view.w], ['ram_logdirty', true]);
  // Page 5 was never resolved while PML was on: after the disable it resolves with w=0, and its
  // write is an EPT violation as without PML.
  e = engine(pml + 'peek fb=lfb\nlogdirty dom=g enable\nlogdirty dom=g disable\nwrite vcpu=g.0 va=0xffff800000005000\npeek fb=lfb\n');
  e.run({});
  r = e.report();
  assert.equal(r.costs.eptViolations, 1);
  assert.deepEqual(r.answers[1].dirty, [5]);
  assert.deepEqual(r.violations, []);
});

test('PML: with EPT A/D on, the CPU\'s reads of guest page tables count as writes: migration log-dirty sees the tables a walk read', () => {
  const t = (pml: string): string => `domain g paging=hap mem=64M vcpus=1 pml=${pml}\nmap vcpu=g.0 va=0xffff800001000000 gfn=0x100 pages=1\n` +
    'read vcpu=g.0 va=0xffff800001000000\nlogdirty dom=g enable\nread vcpu=g.0 va=0xffff800001000000\nlogdirty dom=g peek\n';
  let e = engine(t('on'));
  e.run({});
  const pts = e.walk('g.0', 0xffff800001000000).guest.map((l) => l.table).sort((a, b) => a - b);
  assert.deepEqual(e.report().logdirty[0].dirty, pts, 'the four tables of the walk, not the page it loaded');
  e = engine(t('off'));
  e.run({});
  assert.deepEqual(e.report().logdirty[0].dirty, [], 'without PML, EPT A/D are off: a read is a read');
});

test('HAP: each access to emulated MMIO is an EPT violation exit, handed to the device model', () => {
  const e = engine('domain g paging=hap mem=64M vcpus=1\np2m dom=g gfn=0x100 pages=1 type=mmio_dm\nmap vcpu=g.0 va=0x1000 gfn=0x100 pages=1\n' +
    'write vcpu=g.0 va=0x1000\nwrite vcpu=g.0 va=0x1000\nread vcpu=g.0 va=0x1000\n');
  e.run({});
  const c = e.report().costs;
  assert.deepEqual([c.vmexits, c.eptViolations], [3, 3]);
  assert.equal(e.tlb('g.0').length, 0, 'nothing cached for MMIO');
});

test('hypercalls: resize and untrack are calls to Xen, except for qemu-dm\'s memcmp, which makes none', () => {
  const t = (tracker: string): string => `domain g paging=hap mem=64M vcpus=1 tracker=${tracker}\nvram lfb dom=g gfn=0x3000 pages=16\npeek fb=lfb\nresize fb=lfb pages=8\nuntrack fb=lfb\n`;
  let e = engine(t('p2m-type'));
  e.run({});
  assert.equal(e.report().costs.hypercalls, 3);
  e = engine(t('memcmp'));
  e.run({});
  assert.equal(e.report().costs.hypercalls, 0);
});

test('PML: 512 logged stores fit, the 513th forces a PML-full exit and a drain', () => {
  let t = 'domain g paging=hap mem=64M vcpus=1 pml=on\nvram lfb dom=g gfn=0x1000 pages=1024\nmap vcpu=g.0 va=0xffff800000000000 fb=lfb\npeek fb=lfb\n';
  for (let i = 0; i < 513; i++) {
    t += `write vcpu=g.0 va=0x${(0xffff800000000000n + BigInt(i) * 4096n).toString(16)}\n`;
  }
  const e = engine(t);
  e.run({});
  const r = e.report();
  assert.equal(r.costs.pmlDrains, 1);
  assert.equal(r.costs.eptViolations, 0);
});

test('sl1ma: two writable mappings make the page dirty at every answer (count >= 2)', () => {
  const e = engine(SHADOW + `peek fb=lfb\nmap vcpu=g.0 va=0xffff800000100000 gfn=0x3005 pages=1\nwrite vcpu=g.0 va=0xffff800000005000\nwrite vcpu=g.0 va=0xffff800000100000\npeek fb=lfb\npeek fb=lfb\n`);
  e.run({});
  const r = e.report();
  assert.deepEqual(r.answers[1].dirty, [5]);
  assert.deepEqual(r.answers[2].dirty, [5], 'reported again though not written: over-approximation');
  assert.deepEqual(r.answers[2].extra, [5]);
  assert.equal(r.violations.length, 0);
});

test('memcmp answers exactly the pages whose bytes changed', () => {
  const e = engine(SHADOW.replace('vcpus=2', 'vcpus=1 tracker=memcmp').replace(/g\.1/g, 'g.0') + `peek fb=lfb\nwrite vcpu=g.0 va=0xffff800000003000\nwrite vcpu=g.0 va=0xffff800000007000 byte=0\npeek fb=lfb\n`);
  e.run({});
  const r = e.report();
  assert.equal(r.answers[0].kind, 'all');
  assert.deepEqual(r.answers[1].dirty, [3], 'a store of zeros over zeros changes nothing');
  assert.deepEqual(r.answers[1].written, [3, 7]);
  assert.equal(r.costs.hypercalls, 0);
});

test('memcmp charges what qemu-dm\'s vram_dirty touched: 16-byte blocks up to the first that differs, the copy from there', () => {
  // 16 pages. First call: every page against the zero-filled copy (page 2 was written before it,
  // at byte 0x810: block 0x81). Second call: page 3 differs at byte 0x404 (block 0x40); page 7's
  // zeros over zeros change nothing.
  const e = engine(SHADOW.replace('vcpus=2', 'vcpus=1 tracker=memcmp').replace(/g\.1/g, 'g.0') + `write vcpu=g.0 va=0xffff800000002810\npeek fb=lfb\nwrite vcpu=g.0 va=0xffff800000003404\nwrite vcpu=g.0 va=0xffff800000007000 byte=0\npeek fb=lfb\nresize fb=lfb pages=16\npeek fb=lfb\n`);
  e.run({});
  const r = e.report();
  assert.deepEqual(r.answers.map((a) => a.kind), ['all', 'bitmap', 'all']);
  assert.deepEqual(r.answers[1].dirty, [3]);
  const first = { compared: 15 * 4096 + (0x81 + 1) * 16, copied: 4096 - 0x81 * 16 };
  const second = { compared: 15 * 4096 + (0x40 + 1) * 16, copied: 4096 - 0x40 * 16 };
  // After the mode change the copy is kept (qemu-dm allocated it once): nothing differs from it.
  const third = { compared: 16 * 4096, copied: 0 };
  assert.equal(r.costs.bytesCompared, first.compared + second.compared + third.compared);
  assert.equal(r.costs.bytesCopied, first.copied + second.copied + third.copied);
});

test('stale-tlb and guest-no-flush are told apart', () => {
  const e = engine(SHADOW + `write vcpu=g.0 va=${KVA}\npte vcpu=g.0 va=${KVA} clear=RW\nread vcpu=g.0 va=${KVA}\n`);
  e.run({});
  const ids = e.report().violations.map((v) => v.id);
  assert.deepEqual(ids, ['guest-no-flush']);
});

test('a guest fault the model does not run is a trace error with the line and the argument column', () => {
  const e = engine(SHADOW + 'write vcpu=g.0 va=0x7000\n');
  assert.throws(() => e.run({}), /unit\.xpt:4:\d+: error: guest page fault/);
});

test('page tables never lie in a framebuffer: one at the top of RAM moves the still-empty kernel PML4 out of it', () => {
  for (const paging of ['shadow', 'hap']) {
    // 64 MiB: gfns 0..0x3fff; the kernel's PML4 was taken at the top (0x3fff) when the domain was made.
    const fb = `domain g paging=${paging} mem=64M vcpus=1\nvram lfb dom=g gfn=0x3ff0 pages=16\nmap vcpu=g.0 va=${KVA} fb=lfb\n`;
    // Stores over the last page's PML4 slot 256 (the kernel half's entry), then through every page.
    let stores = `write vcpu=g.0 va=0xffff80000000f800 len=8\n`;
    for (let i = 0; i < 16; i++) {
      stores += `write vcpu=g.0 va=0xffff80000000${i.toString(16)}800 len=8\n`;
    }
    const e = engine(fb + stores + 'peek fb=lfb\n' + stores);
    e.run({});
    const d = e.summary().domains[0];
    assert.ok(d.ptFrames.length >= 4);
    for (const g of d.ptFrames) {
      assert.ok(g < 0x3ff0, `${paging}: page-table frame ${g.toString(16)} is outside the framebuffer`);
    }
    assert.equal(d.processes[0].cr3Gfn, 0x3fef, `${paging}: the PML4 moved to the highest free gfn`);
    assert.equal(e.walk('g.0', 0x8000_0000_f800).gfn, 0x3fff);
    assert.deepEqual(e.report().violations, []);
  }
});

test('a framebuffer over page tables already in use is a trace error', () => {
  const text = `domain g paging=hap mem=64M vcpus=1\nmap vcpu=g.0 va=${KVA} gfn=0x100 pages=1\nvram lfb dom=g gfn=0x3ff0 pages=16\n`;
  assert.throws(() => engine(text).run({}), /unit\.xpt:3:\d+: error: framebuffer 'lfb' \(gfn 0x3ff0\.\.0x4000\) would cover the guest's L\d page table at gfn 0x3ff\w: declare framebuffers before/);
});

test('framebuffers of one domain may not overlap, inside RAM or outside it, declared or resized', () => {
  const dom = 'domain g paging=hap mem=64M vcpus=1 tracker=multi-fb\n';
  assert.throws(() => engine(dom + 'vram a dom=g gfn=0x1000 pages=16\nvram b dom=g gfn=0x1008 pages=16\n').run({}),
    /unit\.xpt:3:\d+: error: framebuffer 'b' \(gfn 0x1008\.\.0x1018\) overlaps framebuffer 'a' \(gfn 0x1000\.\.0x1010\)/);
  assert.throws(() => engine(dom + 'vram a dom=g gfn=0x10000 pages=16\nvram b dom=g gfn=0x1000f pages=4\n').run({}), /unit\.xpt:3:\d+: error: framebuffer 'b' .* overlaps framebuffer 'a'/);
  assert.throws(() => engine(dom + 'vram a dom=g gfn=0x1000 pages=16\nvram b dom=g gfn=0x1010 pages=16\nresize fb=a pages=17\n').run({}), /unit\.xpt:4:\d+: error: framebuffer 'a' \(gfn 0x1000\.\.0x1011\) overlaps framebuffer 'b'/);
  // Side by side is fine, and so is the same gfn range in another domain.
  engine(dom + 'vram a dom=g gfn=0x1000 pages=16\nvram b dom=g gfn=0x1010 pages=16\ndomain h paging=hap mem=64M vcpus=1\nvram c dom=h gfn=0x1000 pages=16\n').run({});
});

test('p2m: a page-table frame turned from ram_logdirty into MMIO stops later walks, with the walk caches as without them', () => {
  // Under migration log-dirty every RAM entry is ram_logdirty; a p2m change to mmio_dm takes reads
  // away (ept_set_entry then syncs the EPT), so the next walk through that table exits to the device
  // model. The walk caches once skipped the upper levels here and read the table as RAM.
  for (const gfn of ['0xfff', '0xffe', '0xffd', '0xffc']) {
    const text = [
      'domain g paging=hap mem=16M vcpus=1',
      'vram lfb dom=g gfn=0x800 pages=16',
      'map vcpu=g.0 va=0x10000000 fb=lfb',
      'write vcpu=g.0 va=0x10001000',
      'logdirty dom=g enable',
      'read vcpu=g.0 va=0x10002000',
      `p2m dom=g gfn=${gfn} pages=1 type=mmio_dm`,
      'read vcpu=g.0 va=0x10003000',
      'write vcpu=g.0 va=0x10004000',
    ].join('\n') + '\n';
    const cached = sameWithoutCaches(text, 'mmio-pt.xpt', `page-table frame ${gfn}`);
    assert.match(cached[7], /^8: tlb-miss,emulate$/, `the read after the change exits (frame ${gfn})`);
  }
});

test('PML: a page-table frame that loses write access stops cached walks too (with EPT A/D on, the walker writes page tables)', () => {
  // VRAM tracking turns PML (and EPT A/D) on; a page-table frame turned ioreq_server loses write,
  // and the walker's access to it is then a write that exits. Found by the fast/exact fuzz property
  // (with migration log-dirty, before Xen's set_mem_type rules were modelled): the walk cache kept
  // skipping that check.
  const text = [
    'domain g paging=hap mem=64M vcpus=1 pml=on',
    'ioreq server dm dom=g',
    'vram lfb dom=g gfn=0x3000 pages=16',
    'map vcpu=g.0 va=0xffff800000000000 fb=lfb',
    'peek fb=lfb',
    'write vcpu=g.0 va=0xffff800000000000 len=1',
    'p2m dom=g gfn=0x3ffc pages=1 type=ioreq_server',
    'write vcpu=g.0 va=0xffff800000000000 len=1',
  ].join('\n') + '\n';
  const cached = sameWithoutCaches(text, 'pml-pt.xpt');
  assert.match(cached[7], /ept-violation/, 'the second store\'s walk exits on the page table');
});

// ---- Rules read from Xen's source: p2m_ioreq_server, domain pauses, shadow log-dirty and page-table stores ----

const IOREQ_HAP = 'domain g paging=hap mem=64M vcpus=1\nioreq server gpu dom=g\n';

test('p2m_ioreq_server: recalculation keeps the type while a server claims it, so writes stay forwarded and unlogged', () => {
  // p2m_recalc_type_range returns ioreq_server unchanged while p2m->ioreq.server is set: arming the
  // framebuffer range must not turn a claimed page into RAM the guest writes directly.
  const e = expectsHold(IOREQ_HAP + 'vram lfb dom=g gfn=0x3000 pages=4\np2m dom=g gfn=0x3001 pages=1 type=ioreq_server\n' +
    `map vcpu=g.0 va=${KVA} fb=lfb\npeek fb=lfb\nwrite vcpu=g.0 va=0xffff800000001000\npeek fb=lfb\nexpect fb=lfb dirty=none\n` +
    'read vcpu=g.0 va=0xffff800000001000\nlogdirty dom=g enable\n');
  const r = e.report();
  assert.equal(r.answers[1].changed.length, 0, 'the forwarded store did not reach RAM');
  assert.equal(e.machine.dom('g').logdirty, false, 'hap_enable_log_dirty still refuses: the entry is still ioreq_server (-EBUSY)');
});

test('p2m_ioreq_server: only under HAP, only with an ioreq server, and only from (or back to) ram_rw, as XEN_DMOP_set_mem_type allows', () => {
  assert.throws(() => engine('domain g paging=shadow mem=64M vcpus=1\nioreq server gpu dom=g\np2m dom=g gfn=0x100 pages=1 type=ioreq_server\n').run({}),
    /unit\.xpt:3:\d+: error: domain 'g' uses shadow paging: .*-EOPNOTSUPP/);
  assert.throws(() => engine('domain g paging=hap mem=64M vcpus=1\np2m dom=g gfn=0x100 pages=1 type=ioreq_server\n').run({}),
    /unit\.xpt:2:\d+: error: domain 'g' has no ioreq server .*-EINVAL/);
  // Armed by log-dirty mode, the page is ram_logdirty: refused (the page stays tracked).
  assert.throws(() => engine(IOREQ_HAP + 'logdirty dom=g enable\np2m dom=g gfn=0x100 pages=1 type=ioreq_server\n').run({}),
    /unit\.xpt:4:\d+: error: gfn 0x100 of domain 'g' is ram_logdirty: .*-EINVAL/);
  assert.throws(() => engine(IOREQ_HAP + 'p2m dom=g gfn=0x100 pages=1 type=ioreq_server\np2m dom=g gfn=0x100 pages=1 type=mmio_dm\n').run({}),
    /unit\.xpt:4:\d+: error: gfn 0x100 of domain 'g' is ioreq_server: /);
  expectsHold(IOREQ_HAP + 'p2m dom=g gfn=0x100 pages=1 type=ioreq_server\np2m dom=g gfn=0x100 pages=1 type=ram_rw\nlogdirty dom=g enable\nexpect cost=hypercalls min=2\n');
});

test('domain_pause: creating (and enabling) an ioreq server pauses the domain twice; log-dirty enable and disable pause even when refused or off', () => {
  expectsHold('domain g paging=hap mem=64M vcpus=2 tlb=flush-on-exit\nmap vcpu=g.0 va=0xffff800001000000 gfn=0x100 pages=1\n' +
    'read vcpu=g.0 va=0xffff800001000000\nioreq server gpu dom=g\nexpect cost=vmexits min=4 max=4\nread vcpu=g.0 va=0xffff800001000000\nexpect cost=tlbRefills min=2 max=2\n');
  expectsHold(IOREQ_HAP + 'p2m dom=g gfn=0x100 pages=1 type=ioreq_server\nlogdirty dom=g enable\nexpect cost=vmexits min=3 max=3\n');
  expectsHold('domain g paging=shadow mem=64M vcpus=2\nlogdirty dom=g disable\nexpect cost=vmexits min=2 max=2\n');
});

test('shadow log-dirty: the guest\'s stores to page tables no shadow protects (a PTE edit after a blow, a new PML4) are logged', () => {
  // In log-dirty mode a shadow entry is writable only once a demand write marked the frame.
  expectsHold('domain g paging=shadow mem=64M vcpus=1\nmap vcpu=g.0 va=0x400000 gfn=0x100 pages=2\nread vcpu=g.0 va=0x400000\n' +
    'logdirty dom=g enable\nlogdirty dom=g clean\nunmap vcpu=g.0 va=0x401000 pages=1\nlogdirty dom=g peek\nexpect logdirty dom=g dirty=0x3ffc\n');
  for (const paging of ['shadow', 'hap']) {
    expectsHold(`domain g paging=${paging} mem=64M vcpus=1\nmap vcpu=g.0 va=${KVA} gfn=0x100 pages=1\nlogdirty dom=g enable\nlogdirty dom=g clean\n` +
      'process p dom=g\nlogdirty dom=g peek\nexpect logdirty dom=g dirty=0x3ffb\n');
  }
});

test('shadow: a store through a mapping of a shadowed page table is emulated — its bytes land, the shadows follow, the frame is logged', () => {
  const head = 'domain g paging=shadow mem=64M vcpus=1\nmap vcpu=g.0 va=0x400000 gfn=0x100 pages=1\nmap vcpu=g.0 va=0x401000 gfn=0x3ffc pages=1\nread vcpu=g.0 va=0x400000\n';
  // PTE 0 of L1 table 0x3ffc zeroed through the mapping: the next access is the guest's own #PF.
  assert.throws(() => engine(head + 'write vcpu=g.0 va=0x401000 len=8 byte=0\ninvlpg vcpu=g.0 va=0x400000\nread vcpu=g.0 va=0x400000\n').run({}),
    /unit\.xpt:7:\d+: error: guest page fault: 0x400000 is not mapped/);
  // The same store in a batch of stores (the bulk path), and under log-dirty mode.
  const e = expectsHold(head + 'logdirty dom=g enable\nwrite vcpu=g.0 va=0x401010 len=4 byte=0\nwrite vcpu=g.0 va=0x401000 len=4 byte=0x21\n' +
    'logdirty dom=g peek\nexpect logdirty dom=g dirty=0x3ffc\nexpect cost=ptEmulations min=2\n');
  assert.equal(e.machine.pages.read(e.machine.backingMfn(e.machine.dom('g'), 0x3ffc))[0], 0x21);
});

test('shadow: the guest\'s G bit is not propagated, and a CR3 load flushes the whole VPID (so skip-flush loses nothing across it)', () => {
  const text = 'inject skip-flush\ndomain g paging=shadow mem=64M vcpus=1\nvram lfb dom=g gfn=0x3000 pages=16\nprocess p dom=g\n' +
    `map vcpu=g.0 va=${KVA} fb=lfb global\npeek fb=lfb\nwrite vcpu=g.0 va=0xffff800000005000\npeek fb=lfb\n` +
    'cr3 vcpu=g.0 process=p\nwrite vcpu=g.0 va=0xffff800000005000\npeek fb=lfb\nexpect fb=lfb dirty=5\nexpect violations=none\n';
  const e = expectsHold(text);
  assert.ok(e.tlb('g.0').every((x) => !x.global), 'no global TLB entry under shadow');
});

test('shadow: turning log-dirty off keeps the shadows (sh_new_mode) and flushes the TLBs', () => {
  expectsHold('domain g paging=shadow mem=64M vcpus=1\nmap vcpu=g.0 va=0x400000 gfn=0x100 pages=1\nlogdirty dom=g enable\n' +
    'write vcpu=g.0 va=0x400000\nlogdirty dom=g disable\nwrite vcpu=g.0 va=0x400000\nexpect cost=shadowFaults min=2 max=2\nexpect cost=tlbRefills min=2 max=2\n');
});

test('costs: what Xen does inside the guest\'s faults is the guest\'s; dom0 pays for the device model\'s calls only', () => {
  // The spec: guestCycles is what the guest loses, dom0Cycles what the device model's hypercalls
  // spend. An EPT violation's logdirty → rw change and its INVEPT happen on the guest's exit.
  const e = engine(HAP + 'peek fb=lfb\n');
  e.run({});
  const before = e.report().costs;
  const e2 = engine(HAP + `peek fb=lfb\nwrite vcpu=g.0 va=${KVA}\n`);
  e2.run({});
  const after = e2.report().costs;
  assert.equal(after.dom0Cycles, before.dom0Cycles, 'the guest\'s store adds nothing to dom0');
  assert.equal(after.p2mTypeChanges - before.p2mTypeChanges, 2, 'resolve_misconfig, then the violation\'s logdirty → rw');
  assert.equal(after.guestCycles - before.guestCycles, 2 * 1200 + 1000 + 2 * 150 + 2000 + 100, 'two exits (misconfig, violation), the handler, two type changes, the INVEPT, the refill');
  // The peek's re-arming (type changes, its INVEPT) stays dom0's.
  const e3 = engine(HAP + `peek fb=lfb\nwrite vcpu=g.0 va=${KVA}\npeek fb=lfb\n`);
  e3.run({});
  assert.ok(e3.report().costs.dom0Cycles > after.dom0Cycles + 2000);
});

test('shadow: a loaded PML4 is shadowed from the start (sh_update_cr3), so the first map\'s store to it is emulated, and so is one after a cr3 to a new process', () => {
  const e = expectsHold('domain g paging=shadow mem=64M vcpus=1\nprocess p dom=g\nmap vcpu=g.0 va=0x1000 gfn=0x100 pages=1\n' +
    'expect cost=ptEmulations min=1 max=1\ncr3 vcpu=g.0 process=p\nmap vcpu=g.0 va=0x1000 gfn=0x101 pages=1\nexpect cost=ptEmulations min=2 max=2\n');
  assert.equal(e.walk('g.0', 0x1000).guest[0].writeProtected, true);
  // A framebuffer declared over the (empty) kernel PML4 pushes it away, shadow and all.
  expectsHold('domain g paging=shadow mem=64M vcpus=1\nvram lfb dom=g gfn=0x3ff0 pages=16\nmap vcpu=g.0 va=0x1000 gfn=0x100 pages=1\nexpect cost=ptEmulations min=1 max=1\n');
});

test('review fixes: an ioreq_server page table takes one EPT violation per guest store; a cleared guest entry leaves an empty shadow entry; a misaligned emulated store unshadows its frame', () => {
  // One violation, then the store goes to the server (before: 16 retries, then it landed anyway).
  expectsHold(IOREQ_HAP + 'p2m dom=g gfn=0x3ffe pages=1 type=ioreq_server\nprocess p dom=g\nexpect cost=eptViolations min=1 max=1\n');
  // sh_prefetch goes on past an entry the guest cleared (shadow_l1e_empty): page 2 is prefetched
  // by page 0's fault, so it takes no fault of its own. (Faults: the map's PML4 store, page 3, the
  // emulated unmap, page 0.)
  const base = 'domain g paging=shadow mem=64M vcpus=1\nmap vcpu=g.0 va=0x400000 gfn=0x100 pages=4\npte vcpu=g.0 va=0x400000 set=A,D\npte vcpu=g.0 va=0x402000 set=A,D\n' +
    'write vcpu=g.0 va=0x403000\nunmap vcpu=g.0 va=0x401000 pages=1\n';
  expectsHold(base + 'write vcpu=g.0 va=0x400000\nexpect cost=shadowFaults min=4 max=4\nwrite vcpu=g.0 va=0x402000\nexpect cost=shadowFaults min=4 max=4\n');
  // A misaligned 8-byte store into a mapped L1 table: the table's shadows go (and a flush), later
  // aligned stores to it are plain after one fault.
  expectsHold('domain g paging=shadow mem=64M vcpus=1\nmap vcpu=g.0 va=0x400000 gfn=0x100 pages=1\nmap vcpu=g.0 va=0x600000 gfn=0x3ffc pages=1\nread vcpu=g.0 va=0x400000\n' +
    'write vcpu=g.0 va=0x600804 len=8 byte=0\nwrite vcpu=g.0 va=0x600810 len=8 byte=0\nwrite vcpu=g.0 va=0x600818 len=8 byte=0\nexpect cost=ptEmulations max=3\n');
});

// ---- page-table entries above the leaf (SDM 4.10.2.2; shadow/set.c, multi.c:_sh_propagate) ----

/** Two vCPUs; va 0x400000 mapped at gfn 0x100; its L2 table (gfn 0x3ffd, entry 2 at byte 0x10) mapped at 0x800000. */
function l2Trace(paging: 'shadow' | 'hap'): string {
  return `domain g paging=${paging} mem=64M vcpus=2\nmap vcpu=g.0 va=0x400000 gfn=0x100 pages=1\nmap vcpu=g.0 va=0x800000 gfn=0x3ffd pages=1\n`;
}

test('shadow: the guest removing a present L2 entry flushes every vCPU (shadow_set_l2e asks for it), so the next access faults', () => {
  const t = l2Trace('shadow') + 'read vcpu=g.0 va=0x400000\nread vcpu=g.1 va=0x400000\nwrite vcpu=g.0 va=0x800010 len=8 byte=0\nread vcpu=g.1 va=0x400000\n';
  const e = engine(t);
  assert.throws(() => e.run({}), /unit\.xpt:7:\d+: error: guest page fault: 0x400000 is not mapped \(L2 entry not present/);
  assert.equal(e.tlb('g.0').length + e.tlb('g.1').length, 0);
});

test('HAP: the guest removing a present L2 entry without invlpg leaves the TLBs as they are, and using them is guest-no-flush', () => {
  const e = engine(l2Trace('hap') + 'read vcpu=g.0 va=0x400000\nread vcpu=g.1 va=0x400000\nwrite vcpu=g.0 va=0x800010 len=8 byte=0\nread vcpu=g.1 va=0x400000\nread vcpu=g.0 va=0x400000\n');
  e.run({});
  const r = e.report();
  assert.deepEqual(r.violations.map((v) => [v.line, v.id]), [[7, 'guest-no-flush'], [8, 'guest-no-flush']]);
  assert.equal(r.costs.tlbFlushes, 0);
});

for (const paging of ['shadow', 'hap'] as const) {
  test(`${paging}: an L2 entry without R/W makes a store below it fault, also after a read filled the TLB (a TLB entry's R/W is the AND over the levels)`, () => {
    // Entry 2 is P,RW,US,A (0x27) after the first write: store its low byte as 0x25 (R/W cleared).
    const t = l2Trace(paging) + 'write vcpu=g.0 va=0x400000\nwrite vcpu=g.0 va=0x800010 len=1 byte=0x25\ninvlpg vcpu=g.0 va=0x400000\nread vcpu=g.0 va=0x400000\nwrite vcpu=g.0 va=0x400000\n';
    const e = engine(t);
    assert.throws(() => e.run({}), /unit\.xpt:8:\d+: error: guest page fault: store to read-only mapping 0x400000/);
    assert.equal(e.tlb('g.0').find((x) => x.va === 0x400000)?.writable, false);
  });
}

test('shadow: the guest clearing A in an L2 entry unhooks the shadow entry (flushed); the next access faults and sets A again', () => {
  const e = engine(l2Trace('shadow') + 'read vcpu=g.0 va=0x400000\nwrite vcpu=g.0 va=0x800010 len=1 byte=0x07\ninvlpg vcpu=g.0 va=0x400000\nread vcpu=g.0 va=0x400000\n');
  e.run({});
  const w = e.walk('g.0', 0x400000);
  assert.equal(w.guest[2].flags.A, true, 'set_ad_bits set A again');
  assert.equal(w.shadow[2].flags.P, true);
  assert.equal(e.report().costs.tlbFlushes, 1);
});

test('p2m statement: its type changes and flushes count as Xen makes them (an INVEPT per present entry; under shadow a flush only when mappings went)', () => {
  const hap = engine('domain g paging=hap mem=64M vcpus=1\nmap vcpu=g.0 va=0x400000 gfn=0x100 pages=1\nread vcpu=g.0 va=0x400000\np2m dom=g gfn=0x100 pages=2 type=mmio_dm\n');
  hap.run({});
  assert.equal(hap.report().costs.p2mTypeChanges, 2);
  assert.equal(hap.report().costs.tlbFlushes, 2, 'set_mem_type changes one pfn at a time: an INVEPT each');
  // mmio_dm entries are not present (no permission bits): turning them back syncs nothing.
  const back = engine('domain g paging=hap mem=64M vcpus=1\np2m dom=g gfn=0x100 pages=2 type=mmio_dm\np2m dom=g gfn=0x100 pages=2 type=ram_rw\n');
  back.run({});
  assert.equal(back.report().costs.tlbFlushes, 2);
  assert.equal(hap.tlb('g.0').length, 0);
  const unmapped = engine('domain g paging=shadow mem=64M vcpus=1\np2m dom=g gfn=0x100 pages=2 type=mmio_dm\n');
  unmapped.run({});
  assert.equal(unmapped.report().costs.tlbFlushes, 0, 'no shadow mapped the frames: nothing to flush');
  // The same type written again changes no shadow (sh_unshadow_for_p2m_change compares the entries).
  const same = engine('domain g paging=shadow mem=64M vcpus=1\nmap vcpu=g.0 va=0x400000 gfn=0x100 pages=1\nread vcpu=g.0 va=0x400000\np2m dom=g gfn=0x100 pages=1 type=ram_rw\nread vcpu=g.0 va=0x400000\n');
  same.run({});
  assert.equal(same.report().costs.tlbFlushes, 0);
  assert.equal(same.tlb('g.0').length, 1, 'the cached translation stays');
  // A page-table frame changed in the p2m loses its shadows (sh_remove_all_shadows_and_parents), with a flush.
  const pt = engine('domain g paging=shadow mem=64M vcpus=1\nmap vcpu=g.0 va=0x400000 gfn=0x100 pages=1\nwrite vcpu=g.0 va=0x400000\np2m dom=g gfn=0x3ffc pages=1 type=mmio_dm\n');
  pt.run({});
  assert.ok(pt.report().costs.tlbFlushes >= 1);
  assert.equal(pt.tlb('g.0').length, 0);
  const mapped = engine('domain g paging=shadow mem=64M vcpus=1\nmap vcpu=g.0 va=0x400000 gfn=0x100 pages=1\nread vcpu=g.0 va=0x400000\np2m dom=g gfn=0x100 pages=1 type=mmio_dm\n');
  mapped.run({});
  assert.equal(mapped.report().costs.tlbFlushes, 1);
  assert.equal(mapped.tlb('g.0').length, 0);
});

// ---- live-migration log-dirty: what Xen's enable, disable and modified_memory do (audit of c447b73) ----

test('HAP log-dirty disable with PML: the drains and the EPTP update are one INVEPT (ept_disable_hardware_log_dirty holds the p2m lock)', () => {
  expectsHold('domain g paging=hap mem=64M vcpus=2 pml=on\nmap vcpu=g.0 va=0xffff800001000000 gfn=0x100 pages=2\nwrite vcpu=g.0 va=0xffff800001000000\nwrite vcpu=g.1 va=0xffff800001001000\n' +
    'logdirty dom=g enable\nwrite vcpu=g.0 va=0xffff800001000000\nwrite vcpu=g.1 va=0xffff800001001000\nexpect cost=tlbFlushes min=2 max=2\nlogdirty dom=g disable\nexpect cost=tlbFlushes min=4 max=4\n');
});

test('shadow log-dirty enable reloads every vCPU\'s CR3 after blowing the tables (sh_new_mode), as disable does: two flushes', () => {
  expectsHold('domain g paging=shadow mem=64M vcpus=2\nmap vcpu=g.0 va=0xffff800001000000 gfn=0x100 pages=2\nwrite vcpu=g.0 va=0xffff800001000000\nexpect cost=tlbFlushes max=0\n' +
    'logdirty dom=g enable\nexpect cost=tlbFlushes min=2 max=2\nlogdirty dom=g disable\nexpect cost=tlbFlushes min=3 max=3\n');
});

test('HAP: a VRAM range change after a global log-dirty change marks the leaves (the global change marked only the root), so it flushes', () => {
  expectsHold('domain g paging=hap mem=64M vcpus=1 tracker=p2m-type\nvram lfb dom=g gfn=0x3000 pages=16\nmap vcpu=g.0 va=0xffff800000000000 fb=lfb\nwrite vcpu=g.0 va=0xffff800000004000\n' +
    'logdirty dom=g enable\nexpect cost=tlbFlushes min=1 max=1\npeek fb=lfb\nexpect cost=tlbFlushes min=2 max=2\n');
});

test('while migrating, QEMU\'s DMA into a shadowed page table unshadows it (modified_memory → sh_remove_shadows) and flushes; the next access re-walks the guest table', () => {
  const t = 'domain g paging=shadow mem=64M vcpus=1\nmap vcpu=g.0 va=0xffff800001000000 gfn=0x100 pages=2\nwrite vcpu=g.0 va=0xffff800001000000\nlogdirty dom=g enable\n' +
    'write vcpu=g.0 va=0xffff800001000000\ndma dom=g gfn=0x3ffc len=8 byte=0\ninvlpg vcpu=g.0 va=0xffff800001000000\nread vcpu=g.0 va=0xffff800001000000\n';
  assert.throws(() => engine(t).run({}), /unit\.xpt:8:\d+: error: guest page fault: 0xffff800001000000 is not mapped \(L1 entry not present/);
  // Without migration QEMU tells Xen nothing: the stale shadow still maps the page.
  const quiet = engine(t.replace('logdirty dom=g enable\n', ''));
  quiet.run({});
  assert.equal(quiet.report().costs.shadowFaults, 2, 'the read went through the stale shadow: no fault');
});

test('while migrating, one DMA of three pages is one XEN_DMOP_modified_memory that marks all three', () => {
  expectsHold('domain g paging=hap mem=64M vcpus=1\nlogdirty dom=g enable\ndma dom=g gfn=0x200 len=12288\nexpect cost=hypercalls min=2 max=2\nlogdirty dom=g peek\nexpect logdirty dom=g dirty=0x200..0x203\n');
});

test('shadow: XD set in an upper guest entry passes into the shadow entry and flushes (perms_strictly_increased), so no stale use follows', () => {
  expectsHold('domain g paging=shadow mem=64M vcpus=1\nvram lfb dom=g gfn=0x3000 pages=16\nmap vcpu=g.0 va=0xffff800000000000 fb=lfb\nmap vcpu=g.0 va=0xffff880000000000 gfn=0x3ffd pages=1\n' +
    'write vcpu=g.0 va=0xffff800000002000\nwrite vcpu=g.0 va=0xffff880000000007 len=1 byte=0x80\nread vcpu=g.0 va=0xffff800000002000\nexpect violations=none\nexpect cost=tlbFlushes min=1\n');
});

test('a change to one address space\'s PML4 entry for the shared kernel half does not make the other address spaces\' translations stale', () => {
  expectsHold('domain g paging=hap mem=64M vcpus=2\nvram lfb dom=g gfn=0x3000 pages=16\nmap vcpu=g.0 va=0xffff800000000000 fb=lfb\nprocess x dom=g\ncr3 vcpu=g.1 process=x\n' +
    'map vcpu=g.0 va=0xffff880000000000 gfn=0x3ffb pages=1\nwrite vcpu=g.0 va=0xffff800000002000\nwrite vcpu=g.0 va=0xffff880000000800 len=8 byte=0\nread vcpu=g.0 va=0xffff800000002000\nexpect violations=none\n');
});

test('draw picks a mapping writable at every level (an L2 entry without R/W does not count)', () => {
  const e = engine('domain g paging=hap mem=64M vcpus=1\nvram lfb dom=g gfn=0x3000 pages=16\nmap vcpu=g.0 va=0xffff800000000000 fb=lfb\nmap vcpu=g.0 va=0xffff800040000000 fb=lfb\n' +
    'map vcpu=g.0 va=0xffff880000000000 gfn=0x3ffd pages=1\nread vcpu=g.0 va=0xffff800000000000\nwrite vcpu=g.0 va=0xffff880000000000 len=1 byte=0x21\ninvlpg vcpu=g.0 va=0xffff800000000000\n' +
    'write vcpu=g.0 va=0xffff800040000000\ndraw vcpu=g.0 fb=lfb rect=0,0,8,1\n');
  e.run({});
  assert.equal(e.report().violations.length, 0);
});

test('repeat 0: the body runs no time, stepping goes past it, steps and time travel count no step for it', () => {
  const text = HAP + 'repeat 0\n  note "never"\n  write vcpu=g.0 va=0xffff800000000000\nend\nrepeat 2\n  repeat 0\n    tick 1s\n  end\n  note "twice"\nend\nrepeat 0\nend\n';
  const e = engine(text);
  const lines: number[] = [];
  while (!e.done) {
    lines.push(e.step().line);
  }
  assert.deepEqual(lines, [1, 2, 3, 12, 12]);
  const r = e.report();
  assert.equal(r.steps, 5);
  assert.deepEqual(r.notes?.map((n) => n.text), ['twice', 'twice']);
  assert.equal(e.summary().time, 0);
  e.seek(3);
  assert.equal(e.nextIndex !== null && e.program.statements.lineAt(e.nextIndex), 12);
  // A trace of nothing but a repeat 0 is done before its first step.
  const empty = engine('repeat 0\n  note "x"\nend\n');
  assert.equal(empty.done, true);
  assert.equal(empty.report().steps, 0);
});

test('report notes: the first 10,000 executed notes and 1 MiB of their text are kept, the rest counted; time travel agrees', () => {
  const many = engine('repeat 10005\n  note "n"\nend\nnote "last"\n');
  many.run({});
  let r = many.report();
  assert.equal(r.notes?.length, 10000);
  assert.ok(r.notes?.every((n) => n.text === 'n' && n.line === 2));
  assert.equal(r.notesOmitted, 6, 'the notes after the first one that does not fit are counted, not kept');
  // Bytes, not characters: 300,000 'é' are 600,000 bytes, so a second one does not fit in 1 MiB.
  const big = engine(`repeat 3\n  note "${'é'.repeat(300_000)}"\nend\nnote "x"\n`);
  big.run({});
  r = big.report();
  assert.equal(r.notes?.length, 1);
  assert.equal(r.notesOmitted, 3);
  // 1 MiB exactly fits.
  const exact = engine(`repeat 2\n  note "${'a'.repeat(512 * 1024)}"\nend\n`);
  exact.run({});
  assert.deepEqual([exact.report().notes?.length, exact.report().notesOmitted], [2, 0]);
  // Back in time and forward again: the same report.
  const before = JSON.stringify(many.report());
  many.seek(9000);
  assert.deepEqual([many.report().notes?.length, many.report().notesOmitted], [9000, 0]);
  many.seek(10006);
  assert.equal(JSON.stringify(many.report()), before);
});

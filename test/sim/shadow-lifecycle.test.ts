/**
 * Shadows live by reference counts, as in Xen (shadow/private.h sh_get_ref/sh_put_ref, multi.c
 * sh_destroy_l*_shadow): a parent entry, a vCPU's loaded CR3 or a pin holds a shadow; the last put
 * destroys it and puts its children. Only top-level shadows are pinned; shadow_blow_tables unpins
 * them, and sh_set_toplevel_shadow pins the one a CR3 load installs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTrace } from '../../src/trace/index';
import { createEngine, type Engine } from '../../src/sim/engine';

function run(text: string): Engine {
  const e = createEngine(parseTrace(text, 'unit.xpt'), {});
  e.run({});
  for (const d of e.machine.domains.values()) {
    assert.equal(e.machine.checkShadowRefs(d), null);
  }
  return e;
}
/** The trace's own expect lines, stating what Xen's source implies, all hold. */
function expectsHold(e: Engine): void {
  const r = e.report();
  assert.deepEqual(r.expects.failed.map((f) => `line ${f.line}: ${f.message}`), []);
  assert.ok(r.expects.passed > 0);
}
const answers = (e: Engine): string[] => e.report().answers.map((a) => (a.kind === 'bitmap' ? `{${a.dirty.join(',')}}` : a.kind));

const XSERVER = `domain g paging=shadow mem=64M vcpus=1 tracker=sl1ma
vram lfb dom=g gfn=0x3000 pages=16
map vcpu=g.0 va=0xffff800000000000 fb=lfb
process x dom=g
cr3 vcpu=g.0 process=x
map vcpu=g.0 va=0x7f0000000000 fb=lfb user
`;

test('sl1ma: after the first call\'s blow, leaving an address space drops its unpinned top level and the whole tree under it', () => {
  // The first call blows the tables: x's L4 shadow, loaded, is emptied and unpinned. Both mappings
  // of page 3 are made again: two writable mappings, dirty at every answer. When the vCPU loads the
  // kernel's CR3, x's top level loses its last reference: it and every shadow below it that the
  // kernel does not share go, and the put of x's L1 entry leaves one writable mapping of page 3.
  const e = run(`${XSERVER}peek fb=lfb
write vcpu=g.0 va=0x7f0000003000
write vcpu=g.0 va=0xffff800000003000
peek fb=lfb
expect fb=lfb dirty=3
cr3 vcpu=g.0 process=kernel
exit process=x
peek fb=lfb
expect fb=lfb dirty=3
peek fb=lfb
expect fb=lfb dirty=none
tick 3s
peek fb=lfb
expect fb=lfb dirty=none
`);
  expectsHold(e);
  assert.deepEqual(answers(e), ['enodata', '{3}', '{3}', '{}', '{}']);
  const d = e.machine.domains.get('g')!;
  const x = e.machine.processes.get('x')!;
  assert.equal(d.shHash.get(x.cr3 * 8 + 4), undefined, 'x\'s top-level shadow is gone');
  assert.equal(d.shVram!.lastDirty, -1, 'with one mapping left and nothing written, the 2-second heuristic reached the idle state');
});

test('a CR3 load pins its top level again: after it, leaving the address space keeps its shadows', () => {
  // The same, but the vCPU reloads x's CR3 after the blow (sh_set_toplevel_shadow pins it): x's
  // shadows outlive the switch, and page 3 keeps two writable mappings.
  const e = run(`${XSERVER}peek fb=lfb
cr3 vcpu=g.0 process=x
write vcpu=g.0 va=0x7f0000003000
write vcpu=g.0 va=0xffff800000003000
cr3 vcpu=g.0 process=kernel
peek fb=lfb
peek fb=lfb
`);
  assert.deepEqual(answers(e), ['enodata', '{3}', '{3}']);
  assert.deepEqual(e.report().answers[2].extra, [3], 'two writable mappings: dirty at every answer, written or not');
});

test('before any blow, top levels are pinned: an abandoned address space keeps its shadows', () => {
  const e = run(`${XSERVER}write vcpu=g.0 va=0x7f0000003000
cr3 vcpu=g.0 process=kernel
exit process=x
`);
  const d = e.machine.domains.get('g')!;
  const top = d.shTables.get(d.shHash.get(e.machine.processes.get('x')!.cr3 * 8 + 4)!)!;
  assert.equal(top.pinned, true);
  assert.equal(top.refs, 1, 'only its pin holds it');
});

const PD_MAPPED = `domain g paging=shadow mem=64M vcpus=1 tracker=sl1ma
vram lfb dom=g gfn=0x3000 pages=16
map vcpu=g.0 va=0xffff800000000000 fb=lfb
map vcpu=g.0 va=0xffff800000200000 gfn=0x3ffd pages=1
`;

test('sl1ma: the guest clearing the PDE above the framebuffer destroys its L1 shadow, whose puts end the remembered mapping', () => {
  // gfn 0x3ffd is the L2 table (page directory) of the kernel half; its entry 0 points to the L1
  // that maps the framebuffer. Clearing it: validate_gl2e → shadow_set_l2e puts the L1 shadow,
  // which had no other parent: destroyed, page 5's writable entry put (D set: into the accumulator).
  const e = run(`${PD_MAPPED}peek fb=lfb
write vcpu=g.0 va=0xffff800000005000
write vcpu=g.0 va=0xffff800000200000 len=8 byte=0
peek fb=lfb
expect fb=lfb dirty=5
map vcpu=g.0 va=0xffff800040000000 gfn=0x3005 pages=1
write vcpu=g.0 va=0xffff800040000000
peek fb=lfb
expect fb=lfb dirty=5
peek fb=lfb
expect fb=lfb dirty=none
`);
  expectsHold(e);
  assert.equal(e.machine.domains.get('g')!.wcount.get(e.machine.backingMfn(e.machine.domains.get('g')!, 0x3005)), 1, 'one writable mapping left: the new one');
});

test('a misaligned store to a page directory unshadows it, and the L1 shadows only it held go too', () => {
  const e = run(`${PD_MAPPED}peek fb=lfb
write vcpu=g.0 va=0xffff800000005000
write vcpu=g.0 va=0xffff800000200ffa len=4 byte=0
peek fb=lfb
expect fb=lfb dirty=5
`);
  expectsHold(e);
  const d = e.machine.domains.get('g')!;
  for (const t of d.shTables.values()) {
    assert.notEqual(t.level, 1, `L1 shadow of gfn 0x${t.gfn.toString(16)} outlived its only parent`);
  }
});

test('dbit-2007: an L1 shadow holding LFB entries destroyed with its parent makes the next answer all', () => {
  const e = run(`domain g paging=shadow mem=64M vcpus=1 tracker=dbit-2007
vram lfb dom=g gfn=0x3000 pages=16
map vcpu=g.0 va=0xffff800000000000 fb=lfb
map vcpu=g.0 va=0xffff800000200000 gfn=0x3ffd pages=1
write vcpu=g.0 va=0xffff800000005000
read vcpu=g.0 va=0xffff800000200000
peek fb=lfb
peek fb=lfb
write vcpu=g.0 va=0xffff800000200ffa len=4 byte=0
peek fb=lfb
`);
  assert.deepEqual(answers(e), ['all', '{}', 'all']);
});

test('time travel restores reference counts and pins', () => {
  const e = run(`${XSERVER}peek fb=lfb
write vcpu=g.0 va=0x7f0000003000
cr3 vcpu=g.0 process=kernel
write vcpu=g.0 va=0xffff800000003000
peek fb=lfb
`);
  const end = e.stateHash();
  const n = e.stepCount;
  e.seek(7);
  const d = e.machine.domains.get('g')!;
  assert.equal(e.machine.checkShadowRefs(d), null);
  e.seek(n);
  assert.equal(e.stateHash(), end);
});

test('a misaligned store into a loaded top-level table unpins it (sh_remove_shadows): leaving it then destroys its tree', () => {
  const e = run(`domain g paging=shadow mem=64M vcpus=1 tracker=sl1ma
vram lfb dom=g gfn=0x3000 pages=16
process x dom=g
cr3 vcpu=g.0 process=x
map vcpu=g.0 va=0x7f0000000000 fb=lfb user
map vcpu=g.0 va=0x7f1000000000 fb=lfb user
map vcpu=g.0 va=0xffff800040000000 gfn=0x3ffe pages=1
peek fb=lfb
cr3 vcpu=g.0 process=x
write vcpu=g.0 va=0x7f0000003000
write vcpu=g.0 va=0x7f1000003000
write vcpu=g.0 va=0xffff800040000ffa len=4 byte=0
cr3 vcpu=g.0 process=kernel
peek fb=lfb
peek fb=lfb
`);
  // gfn 0x3ffe is x's PML4 (the kernel's is 0x3fff). The reload re-pinned it; the misaligned store
  // unpins it though the vCPU has it loaded, so the switch to the kernel drops it with both mappings.
  assert.deepEqual(answers(e), ['enodata', '{3}', '{}']);
});

test('log-dirty off reloads each CR3 after detaching the old top level: an unpinned one goes with its tree', () => {
  const e = run(`${XSERVER}logdirty dom=g enable
peek fb=lfb
write vcpu=g.0 va=0x7f0000003000
write vcpu=g.0 va=0xffff800000003000
logdirty dom=g disable
peek fb=lfb
peek fb=lfb
`);
  // The first sl1ma call blew the tables (x's top level unpinned); sh_new_mode's
  // sh_detach_old_tables puts it before update_cr3 makes it anew: both mappings of page 3 went.
  assert.deepEqual(answers(e), ['enodata', '{3}', '{}']);
});

test('moving an empty PML4 out of a new framebuffer reloads only the CR3 that moved', () => {
  const base = `domain g paging=shadow mem=64M vcpus=1 tracker=sl1ma
vram lfb dom=g gfn=0x3000 pages=16
process x dom=g
cr3 vcpu=g.0 process=x
map vcpu=g.0 va=0x7f0000000000 fb=lfb user
map vcpu=g.0 va=0x7f1000000000 fb=lfb user
peek fb=lfb
write vcpu=g.0 va=0x7f0000003000
write vcpu=g.0 va=0x7f1000003000
`;
  const tail = 'cr3 vcpu=g.0 process=kernel\npeek fb=lfb\npeek fb=lfb\n';
  // The kernel's PML4 (gfn 0x3fff, empty) moves; x's top level, unpinned by the blow, stays unpinned.
  assert.deepEqual(answers(run(base + 'vram fb2 dom=g gfn=0x3fff pages=1\n' + tail)), answers(run(base + tail)));
  assert.deepEqual(answers(run(base + tail)), ['enodata', '{3}', '{}']);
});

test('a store crossing from one page-table frame into the next is not a page-table write: both lose their shadows', () => {
  const e = run(`${PD_MAPPED}map vcpu=g.0 va=0xffff800000201000 gfn=0x3ffe pages=1
peek fb=lfb
write vcpu=g.0 va=0xffff800000200ffc len=8 byte=0
`);
  const d = e.machine.domains.get('g')!;
  assert.equal(e.machine.isShadowed(d, 0x3ffd), false);
});

test('a p2m change that would take the shadow of a loaded top-level table is an error (Xen crashes the domain)', () => {
  assert.throws(() => run(`${PD_MAPPED}p2m dom=g gfn=0x3fff pages=1 type=mmio_dm\n`), /loaded as its top level.*domain_crash/);
});

test('a page-table entry the guest filled with garbage makes the next walk through it a guest page fault, not a model error', () => {
  assert.throws(() => run(`${PD_MAPPED}write vcpu=g.0 va=0xffff80000020000${'0'} len=8 byte=0x27
pte vcpu=g.0 va=0xffff800000005000 clear=A
`), /guest page fault: the L2 entry .* outside the guest's memory/);
});

test('QEMU\'s modified_memory unhooks a shadow only through its up-pointer: a kernel table another address space still points to keeps its shadow', () => {
  // While migrating, QEMU's DMA into gfn 0x3ffe (the kernel half's L3, shared by x's PML4) is
  // reported with XEN_DMOP_modified_memory: sh_remove_shadows in its fast form clears only the
  // entry the L3 shadow's up-pointer records (the kernel's PML4 shadow, which linked it first).
  // x's entry still holds it, so page 3 keeps both writable mappings.
  const e = run(`domain g paging=shadow mem=64M vcpus=1 tracker=sl1ma
vram lfb dom=g gfn=0x3000 pages=16
map vcpu=g.0 va=0xffff800040000000 fb=lfb
process x dom=g
peek fb=lfb
logdirty dom=g enable
write vcpu=g.0 va=0xffff800040003000
cr3 vcpu=g.0 process=x
map vcpu=g.0 va=0x7f0000000000 fb=lfb user
write vcpu=g.0 va=0x7f0000003000
write vcpu=g.0 va=0xffff800040003000
dma dom=g gfn=0x3ffe len=8 byte=0
peek fb=lfb
peek fb=lfb
`);
  assert.deepEqual(answers(e), ['enodata', '{3}', '{3}']);
  const d = e.machine.domains.get('g')!;
  assert.notEqual(d.shHash.get(0x3ffe * 8 + 3), undefined, 'the shared L3 keeps its shadow');
});

test('a guest store of an upper entry links the shadow its new target already has (validate_gl4e), with no fault later', () => {
  // The kernel copies its PML4 entry 256 into entry 257 (an alias of the same PDPT): the emulated
  // store's validation points the new shadow entry at the PDPT's existing shadow at once.
  const e = run(`domain g paging=shadow mem=64M vcpus=1 tracker=sl1ma
vram lfb dom=g gfn=0x3000 pages=16
map vcpu=g.0 va=0xffff800000000000 fb=lfb
map vcpu=g.0 va=0xffff800040000000 gfn=0x3fff pages=1
write vcpu=g.0 va=0xffff800000005000
read vcpu=g.0 va=0xffff800040000000
`);
  const m = e.machine;
  const d = m.domains.get('g')!;
  const v = d.vcpus[0];
  const pml4 = m.guestTable(d, 0x3fff);
  const entry = pml4.slice(256 * 8, 257 * 8);
  // (The model's VAs are 48-bit: the kernel half starts at 2^47.)
  m.store(v, 0x800040000000 + 257 * 8, 8, () => entry, d);
  assert.equal(m.checkShadowRefs(d), null);
  const before = e.report().costs.shadowFaults;
  m.store(v, 0x808000005000, 4, 7, d);
  assert.equal(e.report().costs.shadowFaults, before, 'the alias walks through shadows already linked: no fault');
});

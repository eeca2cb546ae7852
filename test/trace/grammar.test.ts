/**
 * Every statement form of the keyword table parses to its Program variant, with positions and
 * argument columns as docs/trace-format.md settles them.
 */
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { STATEMENTS } from '../../src/trace/keywords';
import { ok } from './util';

const SETUP = [
  'domain g paging=shadow mem=64M vcpus=2 tlb=flush-on-exit mfns=scatter seed=7',
  'domain h paging=hap mem=1G vcpus=1 tracker=p2m-type pml=on',
  'vram lfb dom=g gfn=0x3000 pages=16 width=512 height=32',
  'vram hfb dom=h gfn=0x100000 pages=8',
  'process p dom=g',
  'ioreq server gpu dom=h limit=8',
].join('\n') + '\n';

/** One example line per form id, and the op it must produce. */
const EXAMPLES: Record<string, [string, string]> = {
  'domain': ['domain k paging=hap mem=4K vcpus=1', 'domain'],
  'vram': ['vram v2 dom=g gfn=0 pages=1', 'vram'],
  'p2m': ['p2m dom=h gfn=0x10 pages=2 type=mmio_dm', 'p2m'],
  'process': ['process q dom=h', 'process'],
  'inject': ['inject skip-flush', 'inject'],
  'costs': ['costs vmexits=1500 tlbRefills=40', 'costs'],
  'map': ['map vcpu=g.0 va=0xffff800000000000 fb=lfb global', 'map'],
  'unmap': ['unmap vcpu=g.0 va=0xffff800000000000 pages=16', 'unmap'],
  'pte': ['pte vcpu=g.1 va=0xffff800000000000 clear=D', 'pte'],
  'write': ['write vcpu=g.1 va=0xffff800000000000 len=8 byte=0xaa', 'write'],
  'read': ['read vcpu=g.1 va=0xffff800000000000', 'read'],
  'draw': ['draw vcpu=g.0 fb=lfb rect=0,0,512,32 color=0x102030', 'draw'],
  'blit': ['blit vcpu=g.0 fb=lfb from=0,0,10,10 to=100,20', 'blit'],
  'invlpg': ['invlpg vcpu=g.0 va=0xffff800000000000', 'invlpg'],
  'cr3': ['cr3 vcpu=g.0 process=p', 'cr3'],
  'exit': ['exit process=p', 'exit'],
  'vmexit': ['vmexit vcpu=h.0 reason=timer', 'vmexit'],
  'dma': ['dma dom=g gfn=0x3001 len=100 byte=7', 'dma'],
  'peek': ['peek fb=lfb', 'peek'],
  'refresh': ['refresh fb=lfb phase=draw', 'refresh'],
  'untrack': ['untrack fb=lfb', 'untrack'],
  'resize': ['resize fb=lfb pages=8', 'resize'],
  'reclaim': ['reclaim dom=g va=0xffff800000000000', 'reclaim'],
  'logdirty': ['logdirty dom=h clean', 'logdirty'],
  'flush': ['flush dom=h', 'flush'],
  'tick': ['tick 16ms', 'tick'],
  'ioreq server': ['ioreq server net dom=h', 'ioreq-server'],
  'ioreq map': ['ioreq map gpu kind=mmio range=0xfe000000..0xfe001000', 'ioreq-map'],
  'ioreq unmap': ['ioreq unmap gpu kind=mmio range=0xfe000000..0xfe000800', 'ioreq-unmap'],
  'ioreq access': ['ioreq access dom=h kind=mmio addr=0xfe000010 size=4', 'ioreq-access'],
  'rangeset': ['rangeset impl=tree', 'rangeset'],
  'repeat': ['repeat 2', 'repeat'],
  'end': ['end', 'end'],
  'note': ['note "the guest draws"', 'note'],
  'expect fb': ['expect fb=lfb dirty=none', 'expect-fb'],
  'expect violation': ['expect violation=stale-tlb', 'expect-violation'],
  'expect violations': ['expect violations=none', 'expect-violation'],
  'expect screen': ['expect screen fb=lfb stale=0,3', 'expect-screen'],
  'expect logdirty': ['expect logdirty dom=h dirty=256,12292', 'expect-logdirty'],
  'expect ioreq': ['expect ioreq server=gpu', 'expect-ioreq'],
  'expect cost': ['expect cost=hypercalls min=1 max=3', 'expect-cost'],
};

describe('every statement form', () => {
  it('has an example here for each form in the keyword table', () => {
    assert.deepEqual(Object.keys(EXAMPLES).sort(), STATEMENTS.map((s) => s.id).sort());
  });
  for (const spec of STATEMENTS) {
    it(`${spec.id} parses to ${EXAMPLES[spec.id]?.[1]}`, () => {
      const [line, op] = EXAMPLES[spec.id] ?? ['', ''];
      const text = SETUP + (spec.id === 'end' ? 'repeat 1\nend' : spec.id === 'repeat' ? 'repeat 2\nend' : line);
      const st = ok(text);
      const target = spec.id === 'repeat' ? st[st.length - 2] : st[st.length - 1];
      assert.equal(target?.op, op);
    });
  }
});

describe('values in the Program', () => {
  const st = ok(SETUP + [
    'map vcpu=g.0 va=0xffff800000000000 fb=lfb global',
    'write vcpu=g.1 va=0xffff800000000ffe len=8 byte=0xaa',
    'ioreq access dom=h kind=pci addr=0001:02:03.4',
    'expect cost=cycles max=1_000_000',
  ].join('\n'));
  it('fills domain defaults and keeps an absent tracker unset', () => {
    assert.deepEqual(st[0], {
      op: 'domain', name: 'g', paging: 'shadow', mem: 64 * 2 ** 20, vcpus: 2, tlb: 'flush-on-exit', pml: false, mfns: 'scatter', seed: 7,
      pos: { line: 1, col: 1, args: { '#1': 8, name: 8, paging: 10, mem: 24, vcpus: 32, tlb: 40, mfns: 58, seed: 71 } },
    });
    assert.equal(st[1]?.op === 'domain' && st[1].tracker, 'p2m-type');
    assert.equal(st[1]?.op === 'domain' && st[1].pml, true);
  });
  it('keeps the written vram geometry', () => {
    assert.deepEqual(st[2]?.op === 'vram' && [st[2].width, st[2].height, st[2].bpp], [512, 32, 32]);
    assert.deepEqual(st[3]?.op === 'vram' && [st[3].width, st[3].height], [undefined, undefined]);
  });
  it('maps a framebuffer by name with its flags', () => {
    const m = st[6];
    assert.ok(m?.op === 'map');
    assert.deepEqual([m.fb, m.gfn, m.ro, m.user, m.global, m.va], ['lfb', undefined, false, false, true, 0x800000000000]);
    assert.equal(m.pos.args?.['global'], 43);
  });
  it('encodes PCI addresses as SBDF', () => {
    assert.equal(st[8]?.op === 'ioreq-access' && st[8].addr, (1 << 16) | (2 << 8) | (3 << 3) | 4);
  });
  it('numbers bare words #1.. including sub-command words', () => {
    const s = ok(SETUP + 'ioreq map gpu kind=port range=0x60..0x65')[6];
    assert.deepEqual(s?.pos.args, { '#1': 7, '#2': 11, server: 11, kind: 15, range: 25 });
  });
});

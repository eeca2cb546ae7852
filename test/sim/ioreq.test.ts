/**
 * ioreq servers: map/unmap results as `ioreq_server_map_io_range` / `_unmap_io_range` return them,
 * and `ioreq_server_select` (xen/common/ioreq.c), on both rangeset implementations.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  IoreqState, MAX_NR_IO_RANGES, MAX_NR_IOREQ_SERVERS, formatIoRange, formatSbdf, parseSbdf, pciSbdf,
} from '../../src/sim/ioreq';
import { RANGESET_IMPLS, type RangesetImpl } from '../../src/sim/rangeset/index';
import type { IoreqKind } from '../../src/sim/program';
import { parseTrace } from '../../src/trace/index';
import { deepClone } from '../../src/sim/util';
import { createEngine } from '../../src/sim/engine';

function state(impl: RangesetImpl): IoreqState {
  const st = new IoreqState();
  st.setImpl(impl);
  return st;
}

function ranges(st: IoreqState, name: string, kind: IoreqKind): [number, number][] {
  const srv = st.server(name);
  assert.ok(srv);
  return srv.rangeset(kind).ranges().map((r) => [r.s, r.e]);
}

for (const impl of RANGESET_IMPLS) {
  test(`${impl}: map merges adjacent ranges; a map overlapping an existing range is EEXIST`, () => {
    const st = state(impl);
    st.createServer('vga', 'g');
    assert.equal(st.map('vga', 'port', 0x3c0, 0x3cf).result, 'ok');
    assert.equal(st.map('vga', 'port', 0x3d0, 0x3df).result, 'ok');
    assert.deepEqual(ranges(st, 'vga', 'port'), [[0x3c0, 0x3df]]);
    assert.equal(st.map('vga', 'port', 0x3df, 0x3e0).result, 'EEXIST');
    assert.equal(st.map('vga', 'port', 0x3c4, 0x3c4).result, 'EEXIST', 'even a range already wholly mapped');
    assert.deepEqual(ranges(st, 'vga', 'port'), [[0x3c0, 0x3df]]);
  });

  test(`${impl}: unmap must be contained in one range (ENOENT), and may split one`, () => {
    const st = state(impl);
    st.createServer('dev', 'g');
    st.map('dev', 'mmio', 0xfe000000, 0xfe00ffff);
    st.map('dev', 'mmio', 0xfe020000, 0xfe02ffff);
    assert.equal(st.unmap('dev', 'mmio', 0xfe00f000, 0xfe020fff).result, 'ENOENT', 'spans a hole');
    assert.equal(st.unmap('dev', 'mmio', 0xfd000000, 0xfd000fff).result, 'ENOENT', 'nothing there');
    assert.equal(st.unmap('dev', 'mmio', 0xfe001000, 0xfe001fff).result, 'ok');
    assert.deepEqual(ranges(st, 'dev', 'mmio'), [[0xfe000000, 0xfe000fff], [0xfe002000, 0xfe00ffff], [0xfe020000, 0xfe02ffff]]);
  });

  test(`${impl}: MAX_NR_IO_RANGES: the 257th separate range is ENOMEM, a merging one is not`, () => {
    const st = state(impl);
    st.createServer('gpu', 'g');
    for (let i = 0; i < MAX_NR_IO_RANGES; i++) {
      assert.equal(st.map('gpu', 'mmio', i * 0x2000, i * 0x2000 + 0xfff).result, 'ok');
    }
    assert.equal(st.map('gpu', 'mmio', 0x1000000, 0x1000fff).result, 'ENOMEM');
    assert.equal(st.map('gpu', 'mmio', 0x1000, 0x1fff).result, 'ok', 'fills the gap after range 0: two merge, one freed');
    assert.equal(st.server('gpu')?.rangeset('mmio').allowance, 1);
    assert.equal(st.map('gpu', 'mmio', 0x1000000, 0x1000fff).result, 'ok');
    assert.equal(st.checkInvariant(), null);
  });

  test(`${impl}: at the limit, splitting a range by unmap is ENOMEM and changes nothing`, () => {
    const st = state(impl);
    st.createServer('gpu', 'g', 1);
    assert.equal(st.map('gpu', 'mmio', 0x10000, 0x1ffff).result, 'ok');
    assert.equal(st.unmap('gpu', 'mmio', 0x14000, 0x14fff).result, 'ENOMEM');
    assert.deepEqual(ranges(st, 'gpu', 'mmio'), [[0x10000, 0x1ffff]]);
    assert.equal(st.unmap('gpu', 'mmio', 0x10000, 0x10fff).result, 'ok', 'trimming an end needs no new range');
    assert.equal(st.map('gpu', 'mmio', 0x30000, 0x30fff).result, 'ENOMEM');
    assert.equal(st.map('gpu', 'mmio', 0x0f000, 0x0ffff).result, 'ENOMEM', 'right-adjacent: Xen allocates before merging');
    assert.equal(st.map('gpu', 'mmio', 0x20000, 0x20fff).result, 'ok', 'left-adjacent extends in place');
  });

  test(`${impl}: select: a port access must fall entirely inside one range`, () => {
    const st = state(impl);
    st.createServer('vga', 'g');
    st.map('vga', 'port', 0x3c0, 0x3df);
    assert.equal(st.select('g', 'port', 0x3de, 2).server, 'vga');
    assert.equal(st.select('g', 'port', 0x3df, 2).server, null, 'crosses the end');
    assert.equal(st.select('g', 'port', 0x3bf, 1).server, null);
    st.map('vga', 'port', 0x3e0, 0x3ef);
    assert.equal(st.select('g', 'port', 0x3df, 2).server, 'vga', 'adjacent maps merged into one range');
    st.map('vga', 'port', 0x3f1, 0x3ff);
    assert.equal(st.select('g', 'port', 0x3ef, 4).server, null, 'spans a one-port hole');
  });

  test(`${impl}: select: mmio first..last byte; pci the device alone, whatever the register size`, () => {
    const st = state(impl);
    st.createServer('nic', 'g');
    st.map('nic', 'mmio', 0xf0000000, 0xf0000fff);
    assert.equal(st.select('g', 'mmio', 0xf0000ffc, 4).server, 'nic');
    assert.equal(st.select('g', 'mmio', 0xf0000ffd, 4).server, null);
    const dev = parseSbdf('0000:00:03.0');
    assert.ok(dev !== undefined);
    st.map('nic', 'pci', dev, dev);
    assert.equal(st.select('g', 'pci', dev, 4).server, 'nic');
    assert.equal(st.select('g', 'pci', dev + 1, 1).server, null, 'function 1 is another device');
    assert.equal(st.select('g', 'port', 0xf0000000, 1).server, null, 'kinds are separate rangesets');
  });

  test(`${impl}: select prefers the most recently created enabled server of the access's domain`, () => {
    const st = state(impl);
    assert.deepEqual(st.createServer('qemu', 'g'), { result: 'ok', id: 0 });
    assert.deepEqual(st.createServer('xengt', 'g'), { result: 'ok', id: 1 });
    st.createServer('other', 'h');
    for (const s of ['qemu', 'xengt', 'other']) {
      st.map(s, 'mmio', 0xa0000, 0xbffff);
    }
    let sel = st.select('g', 'mmio', 0xa0000, 4);
    assert.equal(sel.server, 'xengt');
    assert.deepEqual(sel.searched, ['xengt']);
    st.setEnabled('xengt', false);
    sel = st.select('g', 'mmio', 0xa0000, 4);
    assert.equal(sel.server, 'qemu');
    assert.deepEqual(sel.searched, ['qemu'], 'disabled servers are skipped without a search');
    st.setEnabled('qemu', false);
    assert.equal(st.select('g', 'mmio', 0xa0000, 4).server, null, 'other domains\' servers never claim it');
    assert.equal(st.select('h', 'mmio', 0xa0000, 4).server, 'other');
  });

  test(`${impl}: server ids are slots: a destroyed server's slot is reused and ranks by slot, not age`, () => {
    const st = state(impl);
    st.createServer('a', 'g');
    st.createServer('b', 'g');
    st.destroyServer('a');
    assert.deepEqual(st.createServer('c', 'g'), { result: 'ok', id: 0 });
    st.map('b', 'port', 0x60, 0x64);
    st.map('c', 'port', 0x60, 0x64);
    assert.equal(st.select('g', 'port', 0x60, 1).server, 'b', 'slot 1 is searched before slot 0');
  });

  test(`${impl}: MAX_NR_IOREQ_SERVERS per domain, then ENOSPC`, () => {
    const st = state(impl);
    for (let i = 0; i < MAX_NR_IOREQ_SERVERS; i++) {
      assert.equal(st.createServer(`s${i}`, 'g').result, 'ok');
    }
    assert.deepEqual(st.createServer('ninth', 'g'), { result: 'ENOSPC', id: null });
    assert.equal(st.server('ninth'), undefined);
    assert.equal(st.createServer('elsewhere', 'h').result, 'ok');
  });

  test(`${impl}: a deep-cloned state (checkpoint) is independent`, () => {
    const st = state(impl);
    st.createServer('gpu', 'g', 4);
    st.map('gpu', 'mmio', 0x1000, 0x1fff);
    const copy = deepClone(st);
    st.unmap('gpu', 'mmio', 0x1000, 0x1fff);
    st.setEnabled('gpu', false);
    assert.equal(copy.select('g', 'mmio', 0x1800, 8).server, 'gpu');
    assert.equal(st.select('g', 'mmio', 0x1800, 8).server, null);
    assert.equal(copy.map('gpu', 'mmio', 0x3000, 0x3fff).result, 'ok');
    assert.equal(copy.checkInvariant(), null);
  });
}

test('nodes visited: a select sums every server searched; the list scans, the tree descends', () => {
  const visits: Record<RangesetImpl, number> = { list: 0, tree: 0 };
  for (const impl of RANGESET_IMPLS) {
    const st = state(impl);
    st.createServer('old', 'g');
    st.createServer('new', 'g');
    st.map('old', 'mmio', 0x100000, 0x1fffff);
    for (let i = 0; i < 100; i++) {
      st.map('new', 'mmio', i * 0x2000, i * 0x2000 + 0xfff);
    }
    const before = st.nodesVisited;
    const sel = st.select('g', 'mmio', 0x100000, 8);
    assert.equal(sel.server, 'old');
    assert.deepEqual(sel.searched, ['new', 'old']);
    assert.equal(st.nodesVisited - before, sel.nodesVisited);
    visits[impl] = sel.nodesVisited;
  }
  // list: find_range walks all 100 ranges of 'new' (none starts above), then the 1 range of 'old'.
  assert.equal(visits.list, 101);
  assert.ok(visits.tree <= 2 * Math.log2(101) + 1, `tree visited ${visits.tree}`);
});

test('map and unmap report the nodes they visited (EEXIST after one overlap search)', () => {
  const st = new IoreqState();
  st.createServer('s', 'g');
  for (let i = 0; i < 10; i++) {
    st.map('s', 'port', i * 4, i * 4 + 1);
  }
  // overlaps_range(36, 36) = find_range(36): all 10 ranges start at or below 36.
  assert.deepEqual(st.map('s', 'port', 36, 36), { result: 'EEXIST', nodesVisited: 10 });
  // contains_range(1, 5) = find_range(1): range [0,1], then [4,5] starts above 1; [0,1] ends before 5.
  assert.deepEqual(st.unmap('s', 'port', 1, 5), { result: 'ENOENT', nodesVisited: 2 });
});

test('switching implementation keeps every server\'s ranges, allowance and answers', () => {
  const st = new IoreqState();
  st.createServer('gpu', 'g', 8);
  for (let i = 0; i < 5; i++) {
    st.map('gpu', 'mmio', i * 0x10000, i * 0x10000 + 0xfff);
  }
  const view = st.view();
  st.setImpl('tree');
  assert.equal(st.impl, 'tree');
  assert.equal(st.server('gpu')?.rangeset('mmio').impl, 'tree');
  assert.deepEqual(st.view().servers, view.servers);
  assert.equal(st.select('g', 'mmio', 0x40800, 4).server, 'gpu');
  assert.equal(st.checkInvariant(), null);
  st.createServer('late', 'g');
  assert.equal(st.server('late')?.rangeset('port').impl, 'tree', 'servers created later use the new implementation');
});

test('checkInvariant names the server and the rangeset', () => {
  const st = new IoreqState();
  st.createServer('gpu', 'g');
  st.map('gpu', 'pci', 8, 8);
  st.map('gpu', 'pci', 16, 16);
  const pci = st.server('gpu')?.rangeset('pci');
  assert.ok(pci);
  (pci as unknown as { ne: number[] }).ne[1] = 15;
  assert.match(st.checkInvariant() ?? '', /^ioreq server gpu, pci rangeset: ioreq_server 0 pci: adjacent ranges/);
});

test('describe prints each rangeset like the q debug key', () => {
  const st = new IoreqState();
  st.createServer('vga', 'g');
  st.map('vga', 'port', 0x3c0, 0x3df);
  st.map('vga', 'port', 0x3e2, 0x3e2);
  assert.deepEqual(st.describe(), [
    'vga (ioreq_server 0 port) { [0x3c0-0x3df], [0x3e2] }',
    'vga (ioreq_server 0 memory) {}',
    'vga (ioreq_server 0 pci) {}',
  ]);
});

test('PCI addresses: SSSS:BB:DD.F is XEN_DMOP_PCI_SBDF, and formats back', () => {
  assert.equal(parseSbdf('0000:00:02.0'), 0x10);
  assert.equal(parseSbdf('0001:02:1f.7'), pciSbdf(1, 2, 0x1f, 7));
  assert.equal(pciSbdf(1, 2, 0x1f, 7), 0x000102ff);
  assert.equal(formatSbdf(0xffffffff), 'ffff:ff:1f.7');
  for (const bad of ['0000:00:20.0', '0000:00:02.8', '0:0:2.0', '0000:00:02', '0000:000:02.0']) {
    assert.equal(parseSbdf(bad), undefined, bad);
  }
  assert.equal(formatIoRange('pci', 0x10, 0x10), '0000:00:02.0..0000:00:02.1');
  assert.equal(formatIoRange('port', 0x3c0, 0x3df), '0x3c0..0x3e0');
  fc.assert(fc.property(
    fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xff }), fc.integer({ min: 0, max: 0x1f }), fc.integer({ min: 0, max: 7 }),
    (s, b, d, f) => {
      const n = pciSbdf(s, b, d, f);
      assert.equal(parseSbdf(formatSbdf(n)), n);
    },
  ));
});

test('PCI addresses: the trace parser encodes SBDFs the same way', () => {
  const p = parseTrace('domain g paging=hap mem=64M vcpus=1\nioreq server gpu dom=g\nioreq map gpu kind=pci range=0001:02:1f.7..0001:03:00.0\n', 'pci.xpt');
  const st = [...p.statements].find((s) => s.op === 'ioreq-map');
  assert.ok(st && st.op === 'ioreq-map');
  assert.equal(st.start, parseSbdf('0001:02:1f.7'));
  assert.equal(st.end, parseSbdf('0001:03:00.0'));
});

// ---------------------------------------------------------------- property

type IoOp =
  | { op: 'map' | 'unmap'; srv: number; kind: IoreqKind; s: number; len: number }
  | { op: 'select'; dom: number; kind: IoreqKind; addr: number; size: number }
  | { op: 'enable'; srv: number; on: boolean };

const kindArb = fc.constantFrom<IoreqKind>('port', 'mmio', 'pci');
const ioOpArb: fc.Arbitrary<IoOp> = fc.oneof(
  fc.record({ op: fc.constantFrom('map' as const, 'unmap' as const), srv: fc.integer({ min: 0, max: 2 }), kind: kindArb, s: fc.integer({ min: 0, max: 120 }), len: fc.integer({ min: 0, max: 15 }) }),
  fc.record({ op: fc.constant('select' as const), dom: fc.integer({ min: 0, max: 1 }), kind: kindArb, addr: fc.integer({ min: 0, max: 130 }), size: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ op: fc.constant('enable' as const), srv: fc.integer({ min: 0, max: 2 }), on: fc.boolean() }),
);

test('property: list- and tree-backed ioreq servers give identical results and states', () => {
  fc.assert(fc.property(fc.array(ioOpArb, { maxLength: 80 }), fc.integer({ min: 1, max: 6 }), (ops, limit) => {
    const both = RANGESET_IMPLS.map((impl) => {
      const st = state(impl);
      st.createServer('s0', 'd0', limit);
      st.createServer('s1', 'd0', limit);
      st.createServer('s2', 'd1', limit);
      return st;
    });
    for (const o of ops) {
      const [a, b] = both.map((st) => {
        switch (o.op) {
          case 'map': return st.map(`s${o.srv}`, o.kind, o.s, o.s + o.len).result;
          case 'unmap': return st.unmap(`s${o.srv}`, o.kind, o.s, o.s + o.len).result;
          case 'select': return st.select(`d${o.dom}`, o.kind, o.addr, o.size).server;
          case 'enable': st.setEnabled(`s${o.srv}`, o.on); return null;
        }
      });
      assert.equal(a, b, JSON.stringify(o));
      assert.deepEqual(both[0].view().servers, both[1].view().servers);
      assert.equal(both[0].checkInvariant(), null);
      assert.equal(both[1].checkInvariant(), null);
    }
  }), { numRuns: 200 });
});

test('ioreq server limit=0 (Xen accepts it): every map and unmap-split fails with ENOMEM, selects nothing, no violation', () => {
  for (const impl of RANGESET_IMPLS) {
    const e = createEngine(parseTrace(`domain g paging=hap mem=64M vcpus=1\nrangeset impl=${impl}\nioreq server s dom=g limit=0\nioreq map s kind=port range=0x10..0x20\nioreq map s kind=mmio range=0x1000..0x2000\nioreq access dom=g kind=port addr=0x10\nexpect ioreq server=none\n`, 'limit0.xpt'), {});
    e.run({});
    const r = e.report();
    assert.deepEqual(r.ioreq.map((x) => [x.op, x.server, x.result ?? null]), [['map', 's', 'ENOMEM'], ['map', 's', 'ENOMEM'], ['access', null, null]]);
    assert.deepEqual(r.violations, []);
    assert.equal(r.expects.passed, 1);
  }
});

/**
 * Bulk runs execute runs of consecutive stores as batches (Executor.storeBatch): translations in
 * order, the writes after them. Each test runs one trace three ways — batched, one statement at a
 * time (Engine.batchStores off), and stepped through `step()` — and wants the same violations (with
 * their lines), the same error, and byte-identical states.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTrace } from '../../src/trace/index';
import { createEngine, Engine } from '../../src/sim/engine';
import { stmtFocus } from '../../src/sim/program';

const KVA = '0xffff800000000000';
const va = (page: number, off = 0): string => '0x' + (0xffff800000000000n + BigInt(page * 4096 + off)).toString(16);

interface Outcome { violations: string; error: string; steps: number; hash: string }

function runWays(text: string): Outcome[] {
  const program = parseTrace(text, 'batch.xpt');
  const outcome = (drive: (e: Engine) => void): Outcome => {
    const e = createEngine(program, { checkpointInterval: 8 });
    let error = '';
    try {
      drive(e);
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    const r = e.report();
    return { violations: r.violations.map((v) => `${v.line}:${v.id}`).join(' '), error, steps: e.stepCount, hash: e.stateHash() };
  };
  const batched = outcome((e) => e.run({}));
  Engine.batchStores = false;
  let single: Outcome;
  try {
    single = outcome((e) => e.run({}));
  } finally {
    Engine.batchStores = true;
  }
  const stepped = outcome((e) => {
    while (!e.done) {
      e.step();
    }
  });
  return [batched, single, stepped];
}

function assertSame(text: string): Outcome {
  const [batched, single, stepped] = runWays(text);
  assert.deepEqual(batched, single, 'batched = one at a time');
  assert.deepEqual(batched, stepped, 'batched = stepped');
  return batched;
}

test('a violation raised by a store inside a run of stores is recorded at that store\'s line', () => {
  // skip-flush: the peek clears D in the shadows without the flush, so the next stores through the
  // TLB's cached D=1 entries are lost updates in the making (stale-tlb), each on its own line.
  const stores = Array.from({ length: 12 }, (_, i) => `write vcpu=g.0 va=${va(i % 4, i * 8)}`);
  const text = [
    'inject skip-flush',
    'domain g paging=shadow mem=64M vcpus=1 tracker=sl1ma',
    'vram lfb dom=g gfn=0x3000 pages=8',
    `map vcpu=g.0 va=${KVA} fb=lfb`,
    'peek fb=lfb',
    ...stores,
    'peek fb=lfb',
    ...stores,
    'peek fb=lfb',
  ].join('\n') + '\n';
  const out = assertSame(text);
  assert.match(out.violations, /stale-tlb/);
  assert.equal(out.error, '');
});

test('a store that faults in the middle of a run of stores stops the run at its line, after the stores before it', () => {
  const text = [
    'domain g paging=hap mem=64M vcpus=1 tracker=p2m-type',
    'vram lfb dom=g gfn=0x3000 pages=8',
    `map vcpu=g.0 va=${KVA} fb=lfb`,
    'peek fb=lfb',
    ...Array.from({ length: 5 }, (_, i) => `write vcpu=g.0 va=${va(i)}`),
    `write vcpu=g.0 va=${va(64)}`,
    `write vcpu=g.0 va=${va(1)}`,
  ].join('\n') + '\n';
  const out = assertSame(text);
  assert.match(out.error, /^batch\.xpt:10:\d+: error: guest page fault/);
  assert.equal(out.steps, 9, 'the nine statements before the faulting store ran');
});

for (const paging of ['shadow', 'hap']) {
  test(`${paging}: stores to the guest's own page tables inside a run of stores keep their order with the translations`, () => {
    // The top of RAM holds the guest's page tables: map it and store into it between stores to the
    // framebuffer (under shadow each such store is an emulated PTE write; under HAP a plain write
    // after which the next translation must see the new PTE).
    const lines = [
      `domain g paging=${paging} mem=64M vcpus=1`,
      'vram lfb dom=g gfn=0x3000 pages=8',
      `map vcpu=g.0 va=${KVA} fb=lfb`,
      `map vcpu=g.0 va=${va(16)} gfn=0x3ff0 pages=16`,
      'peek fb=lfb',
    ];
    for (let i = 0; i < 40; i++) {
      lines.push(`write vcpu=g.0 va=${va(i % 8, (i * 40) % 4096)}`);
      if (i % 7 === 3) {
        lines.push(`write vcpu=g.0 va=${va(16 + (i % 16), 8 * (i % 512))} byte=0`);
      }
    }
    lines.push('peek fb=lfb');
    assertSame(lines.join('\n') + '\n');
  });
}

test('a checkpoint copies each vCPU\'s TLB once: the walk caches that point into the state are not copied with it', async () => {
  const { Tlb } = await import('../../src/sim/tlb');
  // HAP stores after arming: each takes an EPT violation, so the walk-reuse cache points at the
  // domain and vCPU when the checkpoint is taken.
  const lines = ['domain g paging=hap mem=64M vcpus=2', 'vram lfb dom=g gfn=0x3000 pages=16', `map vcpu=g.0 va=${KVA} fb=lfb`, 'peek fb=lfb'];
  for (let i = 0; i < 16; i++) {
    lines.push(`write vcpu=g.0 va=${va(i)}`);
  }
  const e = createEngine(parseTrace(lines.join('\n') + '\n', 'ckpt.xpt'), { tracker: 'p2m-type', checkpointInterval: 0 });
  e.run({});
  const clone = Tlb.prototype.cloneShared;
  let copies = 0;
  Tlb.prototype.cloneShared = function (this: InstanceType<typeof Tlb>) {
    copies++;
    return clone.call(this);
  };
  try {
    e.machine.cloneShared();
  } finally {
    Tlb.prototype.cloneShared = clone;
  }
  assert.equal(copies, 2, 'one TLB copy per vCPU');
});

test('the engine knows the last statement run that names a vCPU and a VA, after batches, repeats, seeks and step back', () => {
  const text = [
    'domain g paging=hap mem=16M vcpus=1',
    'vram lfb dom=g gfn=0x800 pages=16',
    'map vcpu=g.0 va=0x10000000 fb=lfb',
    'repeat 3',
    '  write vcpu=g.0 va=0x10001000',
    '  write vcpu=g.0 va=0x10002000',
    '  peek fb=lfb',
    'end',
    'write vcpu=g.0 va=0x10003000',
    'write vcpu=g.0 va=0x10004000',
  ].join('\n') + '\n';
  const program = parseTrace(text, 'last.xpt');
  const stepwise = createEngine(program, { checkpointInterval: 4 });
  assert.equal(stepwise.focusIndex, null);
  // After each step: the last statement so far with a vCPU and a VA (peeks and domain set-up have none).
  const focus: (number | null)[] = [null];
  while (!stepwise.done) {
    const i = stepwise.step().index;
    focus.push(stmtFocus(program.statements.at(i)!) !== null ? i : focus[focus.length - 1]);
    assert.equal(stepwise.focusIndex, focus[focus.length - 1]);
  }
  assert.equal(program.statements.at(focus[focus.length - 1]!)?.op, 'write');
  // A bulk run (store batches) ends knowing the same statement.
  const bulk = createEngine(program, { checkpointInterval: 4 });
  bulk.run({});
  assert.equal(bulk.focusIndex, focus[focus.length - 1]);
  // Time travel restores it with the rest of the state; a peek keeps the store before it.
  for (const k of [7, 0, 12, 3, focus.length - 1, 1, 5]) {
    bulk.seek(k);
    assert.equal(bulk.focusIndex, focus[k], `after seeking to step ${k}`);
  }
});

/**
 * Random workloads built from the whole language, parsed and run on the model: every one must end
 * in a report or a positioned trace error — never an exception, never an "internal error" (a model
 * bug), never a hang. XPL_FUZZ_RUNS sets the number of cases (the default is CI's short run).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseTrace } from '../../src/trace/index';
import { createEngine, Engine } from '../../src/sim/engine';
import { Machine } from '../../src/sim/machine';
import { StatementTable, TraceError, TRACKERS, BUGS, type Program } from '../../src/sim/program';

const RUNS = Number(process.env.XPL_FUZZ_RUNS ?? 300);
const KVA = 0xffff800000000000n;
const va = (page: number, off = 0): string => '0x' + (KVA + BigInt(page * 4096 + off)).toString(16);

const page = fc.integer({ min: 0, max: 23 });
const stmt = fc.oneof(
  { weight: 10, arbitrary: fc.tuple(fc.integer({ min: 0, max: 1 }), page, fc.integer({ min: 0, max: 4095 }), fc.integer({ min: 1, max: 64 })).map(([v, p, o, l]) => `write vcpu=g.${v} va=${va(p, Math.min(o, 4096 - l))} len=${l}`) },
  { weight: 3, arbitrary: fc.tuple(fc.integer({ min: 0, max: 1 }), page).map(([v, p]) => `read vcpu=g.${v} va=${va(p)}`) },
  { weight: 5, arbitrary: fc.constantFrom('peek fb=lfb', 'refresh fb=lfb', 'refresh fb=lfb phase=draw\nrefresh fb=lfb phase=finish', 'peek fb=fb2') },
  { weight: 2, arbitrary: fc.constantFrom('tick 700ms', 'tick 3s', 'vmexit vcpu=g.0', 'vmexit vcpu=g.1 reason=timer', 'flush dom=g') },
  { weight: 2, arbitrary: fc.oneof(fc.constant('reclaim dom=g'), page.map((p) => `reclaim dom=g va=${va(p)}`)) },
  { weight: 2, arbitrary: fc.tuple(fc.integer({ min: 0, max: 1 }), page).map(([v, p]) => `invlpg vcpu=g.${v} va=${va(p)}`) },
  { weight: 2, arbitrary: fc.tuple(page, fc.constantFrom('set=D', 'clear=D', 'clear=A', 'set=A', 'clear=RW', 'set=RW', 'set=G')).map(([p, f]) => `pte vcpu=g.0 va=${va(p)} ${f}`) },
  { weight: 1, arbitrary: page.map((p) => `unmap vcpu=g.0 va=${va(p)} pages=1`) },
  { weight: 1, arbitrary: page.map((p) => `map vcpu=g.1 va=${va(p + 64)} gfn=${0x3000 + p} pages=1`) },
  { weight: 1, arbitrary: fc.constantFrom('cr3 vcpu=g.1 process=p', 'cr3 vcpu=g.1 process=kernel', 'cr3 vcpu=g.0 process=p', 'cr3 vcpu=g.0 process=kernel', 'exit process=p') },
  // The guest's own page-table frames (the top of RAM) mapped and stored to, aligned or not: upper
  // entries cleared or rewritten, shadows unshadowed, and what only they kept alive destroyed.
  { weight: 1, arbitrary: fc.constant(`map vcpu=g.0 va=${va(40)} gfn=0x3ffc pages=4`) },
  { weight: 1, arbitrary: fc.constantFrom('dma dom=g gfn=0x3ffc len=8 byte=0', 'dma dom=g gfn=0x3ffe len=8') },
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 0, max: 3 }), fc.constantFrom(0, 8, 0x800, 0xffa, 4)).map(([k, o]) => `write vcpu=g.0 va=${va(40 + k, o)} len=${o === 0xffa ? 4 : 8} byte=${o === 4 ? 0x27 : 0}`) },
  { weight: 1, arbitrary: page.map((p) => `dma dom=g gfn=${0x3000 + p} len=100`) },
  { weight: 1, arbitrary: fc.constantFrom('logdirty dom=g enable', 'logdirty dom=g peek', 'logdirty dom=g clean', 'logdirty dom=g disable') },
  { weight: 1, arbitrary: fc.constantFrom('resize fb=lfb pages=8', 'resize fb=lfb pages=16', 'untrack fb=lfb') },
  { weight: 1, arbitrary: fc.constantFrom(...BUGS, 'none').map((b) => `inject ${b}`) },
  { weight: 1, arbitrary: fc.constantFrom('draw vcpu=g.0 fb=lfb rect=0,0,64,8 color=0x123456', 'blit vcpu=g.0 fb=lfb from=0,0,32,4 to=8,2') },
  { weight: 1, arbitrary: fc.constantFrom('ioreq map s kind=mmio range=0x1000..0x2000', 'ioreq unmap s kind=mmio range=0x1100..0x1200', 'ioreq access dom=g kind=mmio addr=0x1100 size=4', 'rangeset impl=tree') },
  { weight: 1, arbitrary: fc.constantFrom('p2m dom=g gfn=0x3005 pages=1 type=mmio_dm', 'p2m dom=g gfn=0x3006 pages=1 type=ioreq_server', 'p2m dom=g gfn=0x3006 pages=1 type=ram_rw') },
  // The guest's page-table frames (taken from the top of RAM) turned into MMIO and back: walks through
  // them must stop the same with and without the walk caches.
  { weight: 1, arbitrary: fc.constantFrom('p2m dom=g gfn=0x3ffe pages=2 type=mmio_dm', 'p2m dom=g gfn=0x3ffc pages=1 type=ioreq_server', 'p2m dom=g gfn=0x3ffc pages=4 type=ram_rw') },
);
/**
 * Xen gives a page p2m type ioreq_server only under HAP and only from ram_rw (set_mem_type;
 * refusals are trace errors, which would end most runs early): under HAP the change is preceded by
 * one to ram_rw, under shadow it becomes mmio_dm.
 */
function ioreqTypeAsXenAllows(paging: string, line: string): string {
  const m = /^(p2m dom=g gfn=\S+ pages=\d+) type=ioreq_server$/.exec(line);
  if (m === null) {
    return line;
  }
  return paging === 'shadow' ? `${m[1]} type=mmio_dm` : `${m[1]} type=ram_rw\n${line}`;
}
const trace = fc.record({
  paging: fc.constantFrom('shadow', 'hap'),
  tracker: fc.integer({ min: 0, max: 99 }),
  tlb: fc.constantFrom('tagged', 'flush-on-exit'),
  pml: fc.boolean(),
  scatter: fc.boolean(),
  body: fc.array(stmt, { maxLength: 40 }),
  loop: fc.integer({ min: 1, max: 3 }),
}).map((o) => {
  const fits = TRACKERS.filter((t) => !(o.paging === 'shadow' ? ['logdirty-2009', 'p2m-type'] : ['dbit-2007', 'linear-2007', 'sl1ma']).includes(t));
  const tracker = fits[o.tracker % fits.length];
  const pml = o.paging === 'hap' && o.pml ? ' pml=on' : '';
  const head = [
    `domain g paging=${o.paging} mem=64M vcpus=2 tracker=${tracker} tlb=${o.tlb}${pml}${o.scatter ? ' mfns=scatter seed=5' : ''}`,
    'vram lfb dom=g gfn=0x3000 pages=16 width=256 height=64',
    'vram fb2 dom=g gfn=0x3010 pages=8',
    'process p dom=g',
    'ioreq server s dom=g limit=2',
    `map vcpu=g.0 va=${va(0)} gfn=0x3000 pages=24`,
  ];
  return [...head, `repeat ${o.loop}`, ...o.body.map((l) => ioreqTypeAsXenAllows(o.paging, l)), 'end', ''].join('\n');
});

test(`fuzz: ${RUNS} random workloads end in a report or a positioned trace error, never a model error`, () => {
  let reports = 0;
  let errors = 0;
  const kinds = new Map<string, number>();
  fc.assert(fc.property(trace, (text) => {
    let program;
    try {
      program = parseTrace(text, 'fuzz.xpt');
    } catch (e) {
      assert.ok(e instanceof TraceError, String(e));
      errors++;
      return;
    }
    const e = createEngine(program, { checkpointInterval: 16 });
    try {
      e.run({ maxSteps: 5000 });
      const r = e.report();
      assert.equal(typeof r.steps, 'number');
      // Every shadow is held by what refers to it (parent entries, loaded CR3s, its pin), no more.
      for (const d of e.machine.domains.values()) {
        assert.equal(e.machine.checkShadowRefs(d), null, text);
      }
      // Time travel over whatever happened: back to the middle and forward again, identically.
      const end = e.stateHash();
      const n = e.stepCount;
      e.seek(Math.floor(n / 2));
      e.seek(n);
      assert.equal(e.stateHash(), end, 'seek back and forward is exact');
      reports++;
    } catch (err) {
      assert.ok(err instanceof TraceError, err instanceof Error ? err.stack : String(err));
      assert.doesNotMatch(err.message, /internal error|livelock|keeps faulting/, text);
      const kind = err.detail.replace(/0x[0-9a-f]+|\d+/g, 'N').slice(0, 60);
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      assert.doesNotMatch(err.message, /\n/);
      errors++;
    }
  }), { numRuns: RUNS, seed: Number(process.env.XPL_FUZZ_SEED ?? 20261123) });
  assert.ok(reports > RUNS / 4, `most cases should run to a report (${reports} reports, ${errors} trace errors)`);
  if (process.env.XPL_FUZZ_RUNS) {
    console.log(`fuzz: ${RUNS} cases, ${reports} reports, ${errors} trace errors`);
    for (const [k, n] of [...kinds].sort((a, b) => b[1] - a[1])) {
      console.log(`  ${n} × ${k}`);
    }
  }
});

/** The program, or null for a trace the parser refuses (those are the first test's business). */
function parsedOrNull(text: string, file: string): Program | null {
  try {
    return parseTrace(text, file);
  } catch {
    return null;
  }
}

/** Run a program to its end (or error), travel back and forth: the report, the hashes, or the error. */
function runAll(program: Program): string {
  const e = createEngine(program, { checkpointInterval: 16 });
  try {
    e.run({ maxSteps: 5000 });
  } catch (err) {
    // The state a failed run leaves behind counts too (the statements before the error ran).
    return `error: ${err instanceof Error ? err.message : String(err)} ${e.stepCount} ${e.stateHash()}`;
  }
  const n = e.stepCount;
  e.seek(Math.floor(n / 3));
  const mid = e.stateHash();
  e.seek(n);
  return JSON.stringify(e.report()) + e.stateHash() + mid;
}

/** The program run from its columns (in store batches, and one by one) and from statement objects: the same. */
function assertColumnsAsObjects(program: Program, text: string): void {
  const objects: Program = { file: program.file, statements: StatementTable.from(program.statements, false) };
  for (let i = 0; i < program.statements.length; i++) {
    assert.equal(program.statements.isStore(i), program.statements.opAt(i) === 'write', 'the parser keeps every store as a row');
    assert.equal(objects.statements.isStore(i), false, 'the copy keeps every statement as an object');
  }
  const batched = runAll(program);
  assert.equal(runAll(objects), batched, text);
  Engine.batchStores = false;
  try {
    assert.equal(runAll(program), batched, text);
  } finally {
    Engine.batchStores = true;
  }
}

test('fuzz: stores run from the parser\'s columns (in batches and one by one) exactly as from statement objects', () => {
  let n = 0;
  fc.assert(fc.property(trace, (text) => {
    const program = parsedOrNull(text, 'fuzz.xpt');
    if (program === null) {
      return;
    }
    assertColumnsAsObjects(program, text);
    n++;
  }), { numRuns: Math.max(100, Math.floor(RUNS / 2)), seed: Number(process.env.XPL_FUZZ_SEED ?? 20261123) + 2 });
  assert.ok(n > 0);
});

test('long store runs (batched by the engine) give the same states from columns, one by one, and from objects', () => {
  const storeRun = fc.record({
    paging: fc.constantFrom('shadow', 'hap'),
    stores: fc.array(fc.tuple(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 1023 })), { minLength: 200, maxLength: 600 }),
    every: fc.integer({ min: 20, max: 120 }),
    twist: fc.constantFrom('', 'pte vcpu=g.0 va=' + va(3) + ' clear=D', 'invlpg vcpu=g.0 va=' + va(5), 'unmap vcpu=g.0 va=' + va(7) + ' pages=1', 'reclaim dom=g'),
  }).map((o) => {
    const lines = [
      `domain g paging=${o.paging} mem=64M vcpus=1 tracker=${o.paging === 'shadow' ? 'sl1ma' : 'p2m-type'}`,
      'vram lfb dom=g gfn=0x3000 pages=24',
      `map vcpu=g.0 va=${va(0)} gfn=0x3000 pages=24`,
      'peek fb=lfb',
    ];
    o.stores.forEach(([p, w], i) => {
      lines.push(`write vcpu=g.0 va=${va(p, w * 4)}`);
      if ((i + 1) % o.every === 0) {
        lines.push('peek fb=lfb');
      }
      if (o.twist && i % 97 === 50) {
        lines.push(o.twist);
      }
    });
    return lines.join('\n') + '\n';
  });
  fc.assert(fc.property(storeRun, (text) => {
    const program = parsedOrNull(text, 'stores.xpt');
    if (program === null) {
      return;
    }
    assertColumnsAsObjects(program, text);
  }), { numRuns: 40, seed: Number(process.env.XPL_FUZZ_SEED ?? 20261123) + 3 });
});

/** The trace run with the exact shortcuts and without (Machine.fastPaths): the same report and states. */
function assertShortcutsExact(text: string, file: string): void {
  const program = parsedOrNull(text, file);
  if (program === null) {
    return;
  }
  const fast = runAll(program);
  Machine.fastPaths = false;
  try {
    assert.equal(runAll(program), fast, text);
  } finally {
    Machine.fastPaths = true;
  }
}

test('fuzz: the exact shortcuts (version epochs, paging-structure caches, plain-RAM scans) change no report and no state', () => {
  fc.assert(fc.property(trace, (text) => assertShortcutsExact(text, 'fuzz.xpt')),
    { numRuns: Math.max(100, Math.floor(RUNS / 2)), seed: Number(process.env.XPL_FUZZ_SEED ?? 20261123) + 1 });
});

/**
 * Workloads about page tables rather than framebuffers: stores and loads through several 2 MiB
 * regions and both halves of the address space, PTE edits, remaps, invlpg, address-space switches,
 * migration log-dirty, and p2m type changes of the guest's page-table frames themselves — what the
 * walk caches must see through (a page-table frame turned from ram_logdirty into MMIO once slipped
 * past them).
 */
const ptVa = fc.constantFrom('0x10000000', '0x10003000', '0x10200000', '0x10201000', '0x7f0000000000', '0xffff880000001000', '0x40000000');
const ptStmt = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(fc.constantFrom('write', 'read'), fc.integer({ min: 0, max: 1 }), ptVa).map(([op, v, a]) => `${op} vcpu=g.${v} va=${a}`) },
  { weight: 1, arbitrary: fc.tuple(ptVa, fc.constantFrom('clear=D', 'clear=A', 'set=D', 'set=G')).map(([a, f]) => `pte vcpu=g.0 va=${a} ${f}`) },
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 0, max: 1 }), ptVa).map(([v, a]) => `invlpg vcpu=g.${v} va=${a}`) },
  { weight: 1, arbitrary: fc.tuple(ptVa, fc.constantFrom('0x802', '0x300', '0x101')).map(([a, g]) => `unmap vcpu=g.0 va=${a} pages=1\nmap vcpu=g.0 va=${a} gfn=${g} pages=1`) },
  { weight: 1, arbitrary: fc.constantFrom('cr3 vcpu=g.1 process=p', 'cr3 vcpu=g.1 process=kernel', 'peek fb=lfb', 'flush dom=g', 'vmexit vcpu=g.0', 'reclaim dom=g', 'tick 3s') },
  { weight: 1, arbitrary: fc.constantFrom('enable', 'clean', 'peek', 'disable').map((o) => `logdirty dom=g ${o}`) },
  { weight: 3, arbitrary: fc.tuple(fc.constantFrom('0xfff', '0xffe', '0xffd', '0xffc', '0xffb', '0xffa', '0x801', '0x100'), fc.constantFrom('mmio_dm', 'ioreq_server', 'ram_rw')).map(([g, t]) => `p2m dom=g gfn=${g} pages=1 type=${t}`) },
);
const ptTrace = fc.record({
  paging: fc.constantFrom('shadow', 'hap'), pml: fc.boolean(), tlb: fc.constantFrom('tagged', 'flush-on-exit'),
  maps: fc.array(fc.constantFrom('0x800', '0x805', '0x100', '0x101', '0x200'), { minLength: 7, maxLength: 7 }),
  // Migration log-dirty from the start in half the cases: every RAM entry, page tables included, is then ram_logdirty.
  logdirty: fc.boolean(),
  body: fc.array(ptStmt, { maxLength: 40 }),
}).map((o) => [
  `domain g paging=${o.paging} mem=16M vcpus=2 tlb=${o.tlb}${o.paging === 'hap' && o.pml ? ' pml=on' : ''}`,
  'vram lfb dom=g gfn=0x800 pages=16',
  'process p dom=g',
  ...['0x10000000', '0x10003000', '0x10200000', '0x10201000', '0x7f0000000000', '0xffff880000001000', '0x40000000'].map((a, i) => `map vcpu=g.0 va=${a} gfn=${o.maps[i]} pages=2`),
  'ioreq server s dom=g',
  ...(o.logdirty ? ['logdirty dom=g enable'] : []),
  ...o.body.map((l) => ioreqTypeAsXenAllows(o.paging, l)), '',
].join('\n'));

test('fuzz: page-table workloads (remaps, PTE edits, p2m types of page-table frames) give the same states with the walk caches as without', () => {
  fc.assert(fc.property(ptTrace, (text) => assertShortcutsExact(text, 'pt-fuzz.xpt')),
    { numRuns: Math.max(100, Math.floor(RUNS / 2)), seed: Number(process.env.XPL_FUZZ_SEED ?? 20261123) + 4 });
});

#!/usr/bin/env node
// One run of the 1M random-store workload:
//   node bench/throughput.js shadow|hap [CHECKOUT] [--no-batch] [--allocations] [--parts] [--faults]
//                            [--pages=N] [--peek-every=N] [--checkpoint-every=N]
// CHECKOUT is a checkout whose `out/` is built (default: this one). Prints statements per second;
// `--no-batch` runs stores one at a time (Engine.batchStores off); `--allocations` also
// prints the bytes allocated per statement during the run (V8's sampling heap profiler, counting
// objects already collected too; the run is slower under it); `--faults` also prints the minor page
// faults taken during the run (fresh memory handed out page by page, ~2 µs each on these machines).
// `--pages`, `--peek-every` and `--checkpoint-every` vary the workload (defaults 16384, 10000,
// 10000; 0: no peeks after the first, no checkpoints), to tell the stores' cost from the peeks' and
// checkpoints'. The machine's speed drifts by up to 2× over minutes, so compare two builds or
// options by alternating runs in the same window and taking medians (BENCHMARKS.md).
'use strict';
const path = require('path');
const inspector = require('inspector');
const { performance } = require('perf_hooks');
const { bigWorkload } = require('./workload');

const args = process.argv.slice(2);
const flags = new Set(args.filter((a) => a.startsWith('--')));
const option = (name, dflt) => {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a === undefined ? dflt : Number(a.slice(name.length + 3));
};
const [pagingArg, rootArg] = args.filter((a) => !a.startsWith('--'));
const paging = pagingArg === 'hap' ? 'hap' : 'shadow';
const root = path.resolve(rootArg ?? path.join(__dirname, '..'));
const { createEngine, Engine } = require(path.join(root, 'out', 'src', 'sim', 'engine.js'));
if (flags.has('--no-batch')) {
  Engine.batchStores = false;
}
/**
 * `--parts`: time every call of the parts a peek and a checkpoint are made of (the tracker's
 * answer, the oracle's record of it, QEMU's import of it, the checkpoint and its TLB copy), by
 * wrapping them; printed per call after the run. The wrappers add a little to every call.
 */
const parts = new Map();
function timed(label, obj, name) {
  const f = obj[name];
  const p = { ms: 0, calls: 0 };
  parts.set(label, p);
  obj[name] = function (...a) {
    const t0 = performance.now();
    try {
      return f.apply(this, a);
    } finally {
      p.ms += performance.now() - t0;
      p.calls++;
    }
  };
}
if (flags.has('--parts')) {
  const sim = (m) => require(path.join(root, 'out', 'src', 'sim', m));
  timed('tracker peek (sl1ma)', sim('trackers/sl1ma.js'), 'shadowTrackDirtyVram');
  timed('tracker peek (p2m-type)', sim('trackers/p2mType.js'), 'hapTrackDirtyVram');
  timed('oracle: record the answer', sim('oracle.js'), 'recordAnswer');
  timed('QEMU: import the answer', sim('qemu/vga.js'), 'importAnswer');
  timed('checkpoint', Engine.prototype, 'takeCheckpoint');
  timed('checkpoint: TLB copy', sim('tlb.js').Tlb.prototype, 'cloneShared');
}
const program = bigWorkload(paging, 1_000_000, 42, root, { pages: option('pages', 16384), peekEvery: option('peek-every', 10_000) });
const engine = createEngine(program, { tracker: paging === 'shadow' ? 'sl1ma' : 'p2m-type', checkpointInterval: option('checkpoint-every', 10_000) });

const session = new inspector.Session();
const post = (method, params = {}) => new Promise((resolve, reject) => session.post(method, params, (e, r) => (e ? reject(e) : resolve(r))));

async function main() {
  const sampling = flags.has('--allocations');
  if (sampling) {
    session.connect();
    await post('HeapProfiler.enable');
    await post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMinorGC: true, includeObjectsCollectedByMajorGC: true });
  }
  // Minor faults so far: field 10 of /proc/self/stat (Linux).
  const faults = () => Number(require('fs').readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')[7]);
  const f0 = flags.has('--faults') ? faults() : 0;
  const t0 = performance.now();
  engine.run({});
  const rate = engine.stepCount / ((performance.now() - t0) / 1000);
  let extra = flags.has('--faults') ? `, ${faults() - f0} minor page faults` : '';
  if (sampling) {
    const { profile } = await post('HeapProfiler.stopSampling');
    let bytes = 0;
    const walk = (n) => {
      bytes += n.selfSize;
      n.children.forEach(walk);
    };
    walk(profile.head);
    extra = `, ${(bytes / engine.stepCount).toFixed(0)} bytes allocated per statement`;
  }
  console.log(`${paging}: ${(rate / 1e6).toFixed(3)} M statements/s${extra} (${root}${flags.size ? ' ' + [...flags].join(' ') : ''})`);
  for (const [label, p] of parts) {
    if (p.calls > 0) {
      console.log(`  ${label.padEnd(28)} ${(p.ms / p.calls).toFixed(3)} ms per call, ${p.calls} calls`);
    }
  }
}
main();

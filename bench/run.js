#!/usr/bin/env node
// `npm run bench`: every benchmark of the project, each figure printed beside its budget, written to
// bench/results.json. Timing is the median of several runs after a warm-up. XPL_BENCH_SHORT=1 runs a
// short form (CI: to catch breakage, not to judge speed).
'use strict';
const path = require('path');
const fs = require('fs');
const { performance } = require('perf_hooks');

const short = !!process.env.XPL_BENCH_SHORT;
const { createEngine } = require(path.join(__dirname, '..', 'out', 'src', 'sim', 'engine.js'));

const results = [];
function report(name, value, unit, budget, better) {
  const ok = budget === null ? null : better === 'higher' ? value >= budget : value <= budget;
  results.push({ name, value: Number(value.toFixed(3)), unit, budget, ok });
  const b = budget === null ? '' : `budget ${better === 'higher' ? '≥' : '≤'} ${budget} ${unit}`;
  console.log(`${name.padEnd(58)} ${value.toFixed(2).padStart(12)} ${unit.padEnd(8)} ${b}${ok === null ? '' : ok ? '  ok' : '  MISSED'}`);
}
function median(a) {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
}

/** The workload: a 4 GiB guest, a 64 MiB framebuffer, N stores spread over it, a peek every 10,000. */
function bigWorkload(paging, stores, seed) {
  const pos = (line) => ({ line, col: 1 });
  const fbPages = 16384;
  const st = [];
  let line = 1;
  st.push({ op: 'domain', name: 'g', paging, mem: 4 * 2 ** 30, vcpus: 1, tlb: 'tagged', pml: false, mfns: 'contiguous', seed: 1, pos: pos(line++) });
  st.push({ op: 'vram', name: 'lfb', dom: 'g', gfn: 0x100000 - fbPages, pages: fbPages, bpp: 32, pos: pos(line++) });
  const va = 0xffff_8000_0000_0000 - 2 ** 64 + 2 ** 48; // 0xffff800000000000 as a 48-bit number
  st.push({ op: 'map', vcpu: { dom: 'g', idx: 0 }, va, fb: 'lfb', ro: false, user: false, global: false, pos: pos(line++) });
  st.push({ op: 'peek', fb: 'lfb', pos: pos(line++) });
  let x = seed >>> 0;
  for (let i = 0; i < stores; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    const off = (x % (fbPages * 1024)) * 4;
    st.push({ op: 'write', vcpu: { dom: 'g', idx: 0 }, va: va + off, len: 4, pos: pos(line++) });
    if ((i + 1) % 10000 === 0) {
      st.push({ op: 'peek', fb: 'lfb', pos: pos(line++) });
    }
  }
  return { file: `bench-${paging}.xpt`, statements: st };
}

function benchThroughput(paging, tracker) {
  const stores = short ? 50_000 : 1_000_000;
  const prog = bigWorkload(paging, stores, 42);
  const runs = short ? 1 : 3;
  const rates = [];
  let engine;
  for (let r = 0; r < runs; r++) {
    engine = createEngine(prog, { tracker, checkpointInterval: 10_000 });
    const t0 = performance.now();
    engine.run({});
    const dt = (performance.now() - t0) / 1000;
    rates.push(engine.stepCount / dt);
  }
  report(`model: ${paging}/${tracker} statements per second (1M stores)`, median(rates) / 1e6, 'M/s', 2, 'higher');
  return engine;
}

function benchTimeTravel(engine, label) {
  const total = engine.stepCount;
  const times = [];
  const back = [];
  let x = 7;
  for (let i = 0; i < (short ? 3 : 15); i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const target = x % total;
    let t0 = performance.now();
    engine.seek(target);
    times.push(performance.now() - t0);
    t0 = performance.now();
    engine.seek(Math.max(0, target - 1));
    back.push(performance.now() - t0);
  }
  report(`${label}: seek to a random step`, median(times), 'ms', 100, 'lower');
  report(`${label}: step back`, median(back), 'ms', 100, 'lower');
  // Checkpoint and restore costs in isolation.
  const ck = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    engine.takeCheckpointForBench();
    ck.push(performance.now() - t0);
  }
  report(`${label}: checkpoint`, median(ck), 'ms', 20, 'lower');
  const rs = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    engine.restoreLatestForBench();
    rs.push(performance.now() - t0);
  }
  report(`${label}: restore`, median(rs), 'ms', 20, 'lower');
}

console.log(`Xen Paging Lens benchmarks (${short ? 'short form' : 'full'}), node ${process.version}, ${require('os').cpus()[0].model}`);
for (const [paging, tracker] of [['shadow', 'sl1ma'], ['hap', 'p2m-type']]) {
  const e = benchThroughput(paging, tracker);
  benchTimeTravel(e, `${paging}/${tracker}`);
  report(`${paging}/${tracker}: resident memory after the run`, process.memoryUsage().rss / 2 ** 20, 'MiB', 2048, 'lower');
}
fs.writeFileSync(path.join(__dirname, 'results.json'), JSON.stringify(results, null, 2) + '\n');
console.log(`wrote bench/results.json (${results.length} figures)`);

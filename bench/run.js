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

const { bigWorkload, bigWorkloadText } = require('./workload');
const { parseTrace } = require(path.join(__dirname, '..', 'out', 'src', 'trace', 'index.js'));

/**
 * How fast this machine is right now at what bounds the store workload: one random load over 64 MiB
 * whose address depends on the previous load (so no two overlap). Printed beside the throughput
 * figures because the machine's speed drifts (BENCHMARKS.md, "Measuring"): read a throughput
 * figure with this one.
 */
function benchMachine() {
  const bytes = 64 * 2 ** 20;
  // Filled, so that every page is backed by its own memory (untouched pages all read one zero page).
  const buf = new Uint8Array(bytes).fill(1);
  const n = short ? 200_000 : 2_000_000;
  const idx = new Int32Array(n);
  let x = 12345;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    idx[i] = (x >>> 4) & (bytes - 1);
  }
  const times = [];
  for (let r = 0; r < 3; r++) {
    let p = 0;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      // buf is all ones: p is idx[i], but only once the previous load has arrived.
      p = (idx[i] + buf[p] - 1) & (bytes - 1);
    }
    times.push(((performance.now() - t0) * 1e6) / n + (p < 0 ? 1 : 0));
  }
  report('machine: one dependent random load over 64 MiB (reference)', median(times), 'ns', null);
}

/**
 * The HAP workload's unavoidable part as a bare loop (bench/floor.js): what this machine manages
 * right now with nothing but the workload's memory accesses. The model's figures and their budget
 * read against it. In a child process, so that its buffers stay out of the memory figures.
 */
function benchFloor() {
  benchChild('', process.execPath, [path.join(__dirname, 'floor.js'), '--json']);
}

function benchThroughput(paging, tracker) {
  const stores = short ? 50_000 : 1_000_000;
  const prog = bigWorkload(paging, stores, 42);
  if (paging === 'shadow') {
    // The same trace's text through the parser, as `xpl run` and the debugger read it.
    const text = bigWorkloadText(paging, stores, 42);
    const lines = prog.statements.length;
    const times = [];
    for (let r = 0; r < (short ? 1 : 3); r++) {
      const t0 = performance.now();
      parseTrace(text, 'bench-parse.xpt');
      times.push(performance.now() - t0);
    }
    report(`trace: parse the ${stores / 1e6}M-store trace, per line (median of ${times.length})`, (median(times) * 1000) / lines, 'µs', null, 'lower');
  }
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
  report(`model: ${paging}/${tracker} statements per second (${stores / 1e6}M stores)`, median(rates) / 1e6, 'M/s', 2, 'higher');
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
  report(`${label}: checkpoint`, medianMs(5, () => engine.takeCheckpointForBench()), 'ms', 20, 'lower');
  report(`${label}: restore`, medianMs(5, () => engine.restoreLatestForBench()), 'ms', 20, 'lower');
}

/** The median time of n calls of f, in ms. */
function medianMs(n, f) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    f();
    times.push(performance.now() - t0);
  }
  return median(times);
}

/**
 * The 2010 QEMU table (seeds/002): the dirty-page check over a 512 MiB guest (131072 pages) for the
 * MIGRATION client — find every dirty page — with byte-per-page flags (pre-2010 phys_ram_dirty)
 * against word bitmaps with find-next-bit. What is timed: one full scan with collection of the
 * dirty page numbers (what the migration loop does per pass), median of runs. The four dirty
 * patterns follow the post's conditions; for Cond3/4 (reading/writing a 1 GB file), the pages
 * dirtied between two passes are a 32 MiB contiguous window of the page cache (about 100 MB/s of
 * I/O and a pass every 0.3 s) — the post does not say, this is our assumption.
 */
function benchQemu2010() {
  const { ByteFlags, WordBitmaps, DIRTY_MEMORY_MIGRATION } = require(path.join(__dirname, '..', 'out', 'src', 'sim', 'qemu', 'dirty.js'));
  const pages = 131072;
  const conds = {
    'Cond1 256 MiB contiguous dirty': (p) => p < 65536,
    'Cond2 dirty and clean pages in turn': (p) => p % 2 === 0,
    'Cond3 reading a 1 GB file': (p) => p >= 40000 && p < 40000 + 8192,
    'Cond4 writing a 1 GB file': (p) => p >= 90000 && p < 90000 + 8192,
  };
  for (const [name, dirty] of Object.entries(conds)) {
    const times = {};
    for (const [label, Impl] of [['bytes', ByteFlags], ['words', WordBitmaps]]) {
      const dm = new Impl(pages);
      for (let p = 0; p < pages; p++) {
        if (dirty(p)) {
          dm.setRange(p, 1, 1 << DIRTY_MEMORY_MIGRATION);
        }
      }
      const runs = [];
      const out = new Int32Array(pages);
      let found = 0;
      for (let r = 0; r < (short ? 5 : 21); r++) {
        const t0 = performance.now();
        found = dm.collect(0, pages, DIRTY_MEMORY_MIGRATION, out);
        runs.push(performance.now() - t0);
      }
      times[label] = median(runs.slice(1));
      times[label + 'Found'] = found;
    }
    const mostlyClean = !name.startsWith('Cond2') && !name.startsWith('Cond1');
    if (times.bytesFound !== times.wordsFound) {
      throw new Error(`${name}: the two implementations found ${times.bytesFound} and ${times.wordsFound} pages`);
    }
    report(`qemu 2010 ${name}: bytes ${times.bytes.toFixed(3)} ms, words ${times.words.toFixed(3)} ms`, times.bytes / times.words, '×', mostlyClean ? 5 : null, 'higher');
  }
}

/** The 2007 argument: real time the model spends per refresh, per design, framebuffer size and write density. */
function bench2007() {
  for (const mib of short ? [8] : [8, 16, 32]) {
    const pagesN = mib * 256;
    for (const density of [1, 64]) {
      for (const tracker of ['memcmp', 'dbit-2007', 'sl1ma', 'p2m-type']) {
        const paging = tracker === 'p2m-type' ? 'hap' : 'shadow';
        const lines = [`domain g paging=${paging} mem=256M vcpus=1 tracker=${tracker}`, `vram lfb dom=g gfn=0xf0000 pages=${pagesN}`, 'map vcpu=g.0 va=0xffff800010000000 fb=lfb', 'refresh fb=lfb', `repeat ${short ? 10 : 40}`];
        for (let i = 0; i < density; i++) {
          lines.push(`write vcpu=g.0 va=0x${(0xffff800010000000n + BigInt(((i * 7919) % pagesN) * 4096)).toString(16)}`);
        }
        lines.push('refresh fb=lfb', 'end');
        const e = createEngine(parseTrace(lines.join('\n') + '\n', 'bench2007.xpt'), {});
        const times = [];
        while (!e.done) {
          const idx = e.nextIndex;
          const isRefresh = e.program.statements.at(idx).op === 'refresh';
          const t0 = performance.now();
          e.step();
          if (isRefresh && e.stepCount > 4) {
            times.push(performance.now() - t0);
          }
        }
        // The median: one refresh that a collection or a JIT tier-up lands in would move a mean.
        report(`2007: ${tracker} refresh, ${mib} MiB framebuffer, ${density} page(s) written (median of ${times.length})`, median(times) * 1000, 'µs', null);
      }
    }
  }
}

/** A 10-million-step trace (a repeat of 1000 stores and a peek), streamed through the engine. */
function benchBigTrace() {
  const iterations = short ? 200 : 10_000;
  const body = [];
  for (let i = 0; i < 999; i++) {
    body.push(`write vcpu=g.0 va=0x${(0xffff800000000000n + BigInt(((i * 37) % 4096) * 4096 + (i % 1024) * 4)).toString(16)}`);
  }
  const text = ['domain g paging=shadow mem=1G vcpus=1', 'vram lfb dom=g gfn=0x20000 pages=4096', 'map vcpu=g.0 va=0xffff800000000000 fb=lfb', `repeat ${iterations}`, ...body, 'peek fb=lfb', 'end', ''].join('\n');
  // The median of three runs (a fresh engine each); the resident memory is the largest seen after a
  // run, with its engine (checkpoints, write log, report) still alive.
  const program = parseTrace(text, 'ten-million.xpt');
  const rates = [];
  let rss = 0;
  let e;
  for (let r = 0; r < (short ? 1 : 3); r++) {
    e = null;
    e = createEngine(program, { checkpointInterval: 10_000 });
    const t0 = performance.now();
    e.run({});
    rates.push(e.stepCount / ((performance.now() - t0) / 1000));
    rss = Math.max(rss, process.memoryUsage().rss);
  }
  report(`big trace: ${(e.stepCount / 1e6).toFixed(1)}M steps, statements per second (median of ${rates.length})`, median(rates) / 1e6, 'M/s', 2, 'higher');
  report('big trace: resident memory', rss / 2 ** 20, 'MiB', 1536, 'lower');
  const seeks = [];
  let x = 99;
  for (let i = 0; i < 9; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const t1 = performance.now();
    e.seek(x % e.stepCount);
    seeks.push(performance.now() - t1);
  }
  report('big trace: seek to a random step', median(seeks), 'ms', 100, 'lower');
}

function benchChild(label, cmd, args, env = {}) {
  const { spawnSync } = require('child_process');
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 600_000, env: { ...process.env, XPL_BENCH_SHORT: short ? '1' : '', ...env } });
  const last = (r.stdout || '').trim().split('\n').pop() || '';
  try {
    const parsed = JSON.parse(last);
    const figures = Array.isArray(parsed)
      ? parsed
      : Object.entries(parsed)
        .filter(([, v]) => v && typeof v.median === 'number')
        .map(([k, v]) => ({ name: `${k} (median of ${v.n}, p95 ${v.p95.toFixed(1)} ms)`, value: v.median, unit: 'ms', budget: v.budget }));
    for (const f of figures) {
      report(label ? `${label}: ${f.name}` : f.name, f.value, f.unit, f.budget ?? null, f.better ?? 'lower');
    }
  } catch {
    console.log(`${label}: could not run (${(r.stderr || r.error || '').toString().split('\n')[0]})`);
  }
}

if (process.env.XPL_BENCH_ONLY === 'big') {
  // Run alone, so its resident memory is its own.
  benchBigTrace();
  console.log(JSON.stringify(results.map((r) => ({ ...r, better: r.unit === 'M/s' ? 'higher' : 'lower' }))));
  process.exit(0);
}
console.log(`Xen Paging Lens benchmarks (${short ? 'short form' : 'full'}), node ${process.version}, ${require('os').cpus()[0].model}`);
benchMachine();
benchFloor();
for (const [paging, tracker] of [['shadow', 'sl1ma'], ['hap', 'p2m-type']]) {
  const e = benchThroughput(paging, tracker);
  benchTimeTravel(e, `${paging}/${tracker}`);
  report(`${paging}/${tracker}: resident memory after the run`, process.memoryUsage().rss / 2 ** 20, 'MiB', 2048, 'lower');
}
benchQemu2010();
bench2007();
for (const f of require('./rangeset.bench.js').run({ short })) {
  report(`rangeset: ${f.name}`, f.value, f.unit, f.budget, 'lower');
}
for (const f of require('./stores.bench.js').run({ short })) {
  report(`stores: ${f.name}`, f.value, f.unit, f.budget, 'lower');
}
benchChild('', process.execPath, [__filename], { XPL_BENCH_ONLY: 'big' });
benchChild('debugger', process.execPath, [path.join(__dirname, '..', 'out', 'test', 'debug', 'seek-bench.js'), '--json', ...(short ? ['--short'] : [])]);
if (fs.existsSync(path.join(__dirname, 'webview.bench.js'))) {
  benchChild('webview', process.execPath, [path.join(__dirname, 'webview.bench.js'), '--json']);
}
fs.writeFileSync(path.join(__dirname, 'results.json'), JSON.stringify(results, null, 2) + '\n');
console.log(`wrote bench/results.json (${results.length} figures)`);

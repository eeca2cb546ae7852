#!/usr/bin/env node
// Two builds of the model on the 1M random-store workload, alternating inside one process:
//   node --expose-gc bench/paired.js shadow|hap BASE_CHECKOUT [RUNS] [CHECKOUT]
// Each checkout needs a built `out/` (`npx tsc -p tsconfig.test.json`); CHECKOUT defaults to this
// one. The builds take turns (ABBA order), each run on a freshly parsed trace after a full GC, so
// that both see the same phases of the machine's drifting speed (BENCHMARKS.md); prints each run's
// statements per second and the ratio of the medians (CHECKOUT / BASE).
'use strict';
const path = require('path');
const { performance } = require('perf_hooks');
const { bigWorkload } = require('./workload');

const [pagingArg, baseArg, runsArg, newArg] = process.argv.slice(2);
if (!baseArg || typeof globalThis.gc !== 'function') {
  console.error('usage: node --expose-gc bench/paired.js shadow|hap BASE_CHECKOUT [RUNS] [CHECKOUT]');
  process.exit(2);
}
const paging = pagingArg === 'hap' ? 'hap' : 'shadow';
const roots = { base: path.resolve(baseArg), new: path.resolve(newArg ?? path.join(__dirname, '..')) };
const runs = Number(runsArg ?? 4);
const rates = { base: [], new: [] };
for (let i = 0; i < runs; i++) {
  for (const k of i % 2 ? ['new', 'base'] : ['base', 'new']) {
    const { createEngine } = require(path.join(roots[k], 'out', 'src', 'sim', 'engine.js'));
    let program = bigWorkload(paging, 1_000_000, 42, roots[k]);
    let engine = createEngine(program, { tracker: paging === 'shadow' ? 'sl1ma' : 'p2m-type', checkpointInterval: 10_000 });
    globalThis.gc();
    const t0 = performance.now();
    engine.run({});
    rates[k].push(engine.stepCount / (performance.now() - t0) / 1000);
    engine = null;
    program = null;
    globalThis.gc();
  }
}
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const fmt = (a) => a.map((x) => x.toFixed(3)).join(' ');
console.log(`${paging}: base ${fmt(rates.base)} | new ${fmt(rates.new)} M statements/s | ratio of medians ${(median(rates.new) / median(rates.base)).toFixed(3)}`);

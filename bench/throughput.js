#!/usr/bin/env node
// One run of the 1M random-store workload: `node bench/throughput.js shadow|hap [ROOT]`,
// where ROOT is a checkout whose `out/` is built (default: this one). Prints statements per second.
// The machine's speed drifts by up to 2× over minutes, so compare two builds by alternating this
// command between them, in the same window, and taking medians (BENCHMARKS.md).
'use strict';
const path = require('path');
const { performance } = require('perf_hooks');
const { bigWorkload } = require('./workload');

const paging = process.argv[2] === 'hap' ? 'hap' : 'shadow';
const root = path.resolve(process.argv[3] ?? path.join(__dirname, '..'));
const { createEngine } = require(path.join(root, 'out', 'src', 'sim', 'engine.js'));
const program = bigWorkload(paging, 1_000_000, 42, root);
const engine = createEngine(program, { tracker: paging === 'shadow' ? 'sl1ma' : 'p2m-type', checkpointInterval: 10_000 });
const t0 = performance.now();
engine.run({});
const rate = engine.stepCount / ((performance.now() - t0) / 1000);
console.log(`${paging}: ${(rate / 1e6).toFixed(3)} M statements/s (${root})`);

#!/usr/bin/env node
// ioreq server selection (`ioreq_server_select` -> `rangeset_contains_range`) against 16, 256, 1024
// and 4096 mapped ranges, with Xen's sorted list and with the 2015 red-black tree: rangeset nodes
// visited per lookup and time per lookup (median of several runs after a warm-up).
//
// Needs the compiled model: `npx tsc -p tsconfig.test.json`, then `node bench/rangeset.bench.js`
// (XPL_BENCH_SHORT=1 for a quick run). Prints `name value unit` per figure, then a JSON array.
// `require('./rangeset.bench.js').run({ short })` returns [{ name, value, unit, budget, ok }].
'use strict';
const path = require('path');
const { performance } = require('perf_hooks');

const SIZES = [16, 256, 1024, 4096];
const IMPLS = ['list', 'tree'];

function median(a) {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
}

/** One server of one domain with n separate 4 KiB MMIO ranges (a page apart, so none merge). */
function build(IoreqState, impl, n) {
  const st = new IoreqState();
  st.setImpl(impl);
  st.createServer('gpu', 'g', n);
  for (let i = 0; i < n; i++) {
    const r = st.map('gpu', 'mmio', i * 0x2000, i * 0x2000 + 0xfff);
    if (r.result !== 'ok') {
      throw new Error(`map ${i} of ${n}: ${r.result}`);
    }
  }
  return st;
}

/** Addresses of 4-byte accesses spread pseudo-randomly over the mapped ranges (all hits). */
function addresses(n, count) {
  const out = new Array(count);
  let x = 12345;
  for (let i = 0; i < count; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = (x % n) * 0x2000 + ((x >>> 12) % 0x400) * 4;
  }
  return out;
}

function run({ short = false } = {}) {
  const { IoreqState } = require(path.join(__dirname, '..', 'out', 'src', 'sim', 'ioreq.js'));
  const lookups = short ? 500 : 20000;
  const runs = short ? 3 : 7;
  const configs = [];
  for (const n of SIZES) {
    const addrs = addresses(n, lookups);
    for (const impl of IMPLS) {
      configs.push({ n, impl, addrs, st: build(IoreqState, impl, n), visited: 0, times: [] });
    }
  }
  // Warm-up (twice over every configuration, so the JIT settles), and the visit count, which is
  // deterministic: the same on every run.
  for (let w = 0; w < 2; w++) {
    for (const c of configs) {
      c.visited = 0;
      for (const a of c.addrs) {
        const sel = c.st.select('g', 'mmio', a, 4);
        if (sel.server !== 'gpu') {
          throw new Error(`lookup of 0x${a.toString(16)} missed with ${c.impl}/${c.n}`);
        }
        c.visited += sel.nodesVisited;
      }
    }
  }
  // Runs interleave the configurations, so a burst of load elsewhere hits all of them alike.
  for (let r = 0; r < runs; r++) {
    for (const c of configs) {
      const t0 = performance.now();
      for (const a of c.addrs) {
        c.st.select('g', 'mmio', a, 4);
      }
      c.times.push(((performance.now() - t0) * 1e6) / lookups);
    }
  }
  const results = [];
  for (const c of configs) {
    results.push({ name: `rangeset/${c.impl}/${c.n}-ranges/nodes-per-lookup`, value: Number((c.visited / lookups).toFixed(2)), unit: 'nodes', budget: null, ok: null });
    results.push({ name: `rangeset/${c.impl}/${c.n}-ranges/time-per-lookup`, value: Number(median(c.times).toFixed(1)), unit: 'ns', budget: null, ok: null });
  }
  return results;
}

module.exports = { run };

if (require.main === module) {
  const results = run({ short: !!process.env.XPL_BENCH_SHORT });
  for (const r of results) {
    console.log(`${r.name} ${r.value} ${r.unit}`);
  }
  console.log(JSON.stringify(results));
}

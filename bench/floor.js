// A reference for the random-store throughput budget: the HAP workload (bench/workload.js:
// the same stores, the same peeks) reduced to the memory accesses any model of the mechanism makes,
// in flat typed arrays, with nothing else — no trace, no checkpoints, no events, no costs, no
// invariants beyond the written set, one level of page table, no A/D bits above the leaf. It is
// not a model (it would get every other trace wrong); it says how fast this machine runs the
// workload's unavoidable part right now, so that `npm run bench` can print it beside the model's
// figure and its budget.
'use strict';
const { performance } = require('perf_hooks');

const PAGE = 4096;
const P = 1;
const RW = 2;
const A = 0x20;
const D = 0x40;

/** Statements per second of the bare loop: `stores` stores over `pages` pages, a peek every `peekEvery`. */
function bareHapLoop(stores, seed, pages = 16384, peekEvery = 10000) {
  // Frames, allocated as the stores reach them (the model's pages are lazy too), in one buffer.
  const fb = new Uint8Array(pages * PAGE);
  // The guest's L1 PTEs (frame number and flags as one number), the p2m types (1: ram_logdirty),
  // the dirty bitmap a peek reads and clears.
  const pte = new Float64Array(pages);
  for (let i = 0; i < pages; i++) {
    pte[i] = i * PAGE + (P | RW);
  }
  const logdirty = new Uint8Array(pages).fill(1);
  const dirty = new Uint8Array(pages);
  // A TLB with no capacity limit: an open-addressing table, flushed by a generation bump.
  const cap = 2 * pages;
  const tag = new Float64Array(cap);
  const gen = new Uint32Array(cap);
  const frameOf = new Int32Array(cap);
  let g = 1;
  // The write log (old and new bytes of each store) and the oracle's written set.
  const log = new Int32Array(stores * 5);
  const written = new Uint8Array(pages);
  let x = seed >>> 0;
  let n = 0;
  let sum = 0;
  const peek = () => {
    for (let i = 0; i < pages; i++) {
      if (dirty[i]) {
        dirty[i] = 0;
        logdirty[i] = 1;
        sum += written[i];
      }
    }
    written.fill(0);
    g++;
  };
  const t0 = performance.now();
  for (let s = 0; s < stores; s++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    const off = (x % (pages * 1024)) * 4;
    const vpn = off >>> 12;
    let h = Math.imul(vpn, 0x9e3779b1) >>> 0 & (cap - 1);
    while (gen[h] === g && tag[h] !== vpn) {
      h = (h + 1) & (cap - 1);
    }
    let frame;
    if (gen[h] === g) {
      frame = frameOf[h];
    } else {
      // The walk: the leaf PTE (A and D set on a write), then the p2m type: an EPT violation flips
      // ram_logdirty to ram_rw and marks the page dirty.
      let e = pte[vpn];
      if ((e % PAGE & (A | D)) !== (A | D)) {
        e = e - (e % PAGE) + ((e % PAGE) | A | D);
        pte[vpn] = e;
      }
      frame = Math.floor(e / PAGE);
      if (logdirty[frame] === 1) {
        logdirty[frame] = 0;
        dirty[frame] = 1;
      }
      tag[h] = vpn;
      gen[h] = g;
      frameOf[h] = frame;
    }
    const p = frame * PAGE + (off & (PAGE - 1));
    const old = fb[p] | (fb[p + 1] << 8) | (fb[p + 2] << 16) | (fb[p + 3] << 24);
    const v = s & 255;
    fb[p] = v;
    fb[p + 1] = v;
    fb[p + 2] = v;
    fb[p + 3] = v;
    const o = n * 5;
    log[o] = frame;
    log[o + 1] = off & (PAGE - 1);
    log[o + 2] = -1;
    log[o + 3] = old;
    log[o + 4] = v * 0x01010101;
    n++;
    written[frame] = 1;
    if ((s + 1) % peekEvery === 0) {
      peek();
    }
  }
  const dt = (performance.now() - t0) / 1000;
  return (stores + Math.floor(stores / peekEvery)) / dt + (sum < 0 ? 1 : 0);
}

module.exports = { bareHapLoop };

if (require.main === module && process.argv.includes('--json')) {
  // For bench/run.js (in its own process): median of three runs (one in the short form).
  const short = !!process.env.XPL_BENCH_SHORT;
  const stores = short ? 50_000 : 1_000_000;
  const rates = [];
  for (let r = 0; r < (short ? 1 : 3); r++) {
    rates.push(bareHapLoop(stores, 42) / 1e6);
  }
  rates.sort((a, b) => a - b);
  const name = `machine: the HAP workload as a bare loop, ${stores / 1e6}M stores (reference)`;
  console.log(JSON.stringify([{ name, value: rates[Math.floor(rates.length / 2)], unit: 'M/s', budget: null, better: 'higher' }]));
}

#!/usr/bin/env node
// What a random 4-byte store costs the memory system, and what it costs through the page store:
// 1 million stores at random offsets over 64 MiB (16384 frames), the 1M-store workload's pattern.
// Also what a store batch's loading pass costs per load, independent loads of random frames'
// bytes: through the frame table (`read` inside the loop) and from slots known beforehand
// (`PageStore.touch`, as the batch does). `node bench/stores.bench.js` prints them; run.js reports
// them (no budget: an explanation).
'use strict';
const path = require('path');
const { performance } = require('perf_hooks');
const { PageStore } = require(path.join(__dirname, '..', 'out', 'src', 'sim', 'pages.js'));

function median(a) {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
}

function run({ short = false } = {}) {
  const N = short ? 100_000 : 1_000_000;
  const frames = 16384;
  const raw = [];
  const store = [];
  const viaTable = [];
  const viaSlot = [];
  for (let r = 0; r < (short ? 1 : 5); r++) {
    // The bare access: read the old bytes, write new ones, in slabs as the page store keeps them.
    const slabs = [];
    for (let i = 0; i < 16; i++) {
      slabs.push(new Uint8Array(4 << 20).fill(1));
    }
    let x = 42 + r;
    let sum = 0;
    let t0 = performance.now();
    for (let i = 0; i < N; i++) {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      const o = (x % (frames * 1024)) * 4;
      const sl = slabs[o >>> 22];
      const p = o & 0x3fffff;
      sum += sl[p];
      sl[p] = i;
    }
    raw.push(((performance.now() - t0) * 1e6) / N);
    // The same stores through the page store (frames allocated, then stored to).
    const ps = new PageStore();
    for (let f = 0; f < frames; f++) {
      ps.write(0x100000 + f, 0, 4, 1);
    }
    x = 42 + r;
    t0 = performance.now();
    for (let i = 0; i < N; i++) {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      const o = (x % (frames * 1024)) * 4;
      ps.write(0x100000 + (o >>> 12), o & 4095, 4, i & 255);
    }
    store.push(((performance.now() - t0) * 1e6) / N);
    // Independent loads of random frames' bytes, in batches of 32 as a store batch loads them.
    const mfns = new Int32Array(N);
    const offs = new Int32Array(N);
    const slots = new Int32Array(N);
    for (let i = 0; i < N; i++) {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      mfns[i] = 0x100000 + (x % frames);
      offs[i] = (x >>> 14) & 4095;
      slots[i] = ps.slotOf(mfns[i]);
    }
    t0 = performance.now();
    for (let i = 0; i < N; i++) {
      sum += ps.read(mfns[i])[offs[i]];
    }
    viaTable.push(((performance.now() - t0) * 1e6) / N);
    t0 = performance.now();
    for (let i = 0; i < N; i += 32) {
      sum += ps.touch(slots, offs, i, Math.min(i + 32, N));
    }
    viaSlot.push(((performance.now() - t0) * 1e6) / N);
    if (sum < 0) {
      console.log(sum);
    }
  }
  return [
    { name: 'random 4-byte read-modify-write over 64 MiB, bare', value: median(raw), unit: 'ns', budget: null },
    { name: 'random 4-byte store over 64 MiB through the page store (logged)', value: median(store), unit: 'ns', budget: null },
    { name: 'random frame byte load, frame looked up in the loop (read)', value: median(viaTable), unit: 'ns', budget: null },
    { name: 'random frame byte load, slots known (a store batch\'s loading pass)', value: median(viaSlot), unit: 'ns', budget: null },
  ];
}

module.exports = { run };
if (require.main === module) {
  for (const f of run({ short: process.argv.includes('--short') })) {
    console.log(`${f.name}: ${f.value.toFixed(1)} ${f.unit}`);
  }
}

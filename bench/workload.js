// The random-store workload, shared by `npm run bench` (run.js) and bench/throughput.js.
'use strict';
const path = require('path');

/**
 * A 4 GiB guest, a 64 MiB framebuffer, `stores` 4-byte stores spread over it (uniformly at random,
 * the worst case for every cache), a peek every 10,000. Written as trace text and parsed, as a
 * user's trace would be; `root` is the build whose parser reads it (its `out/` directory's parent).
 * `opts` varies it for measurements: `pages` (framebuffer pages), `peekEvery` (0: only the first
 * peek).
 */
function bigWorkload(paging, stores, seed, root = path.join(__dirname, '..'), opts = {}) {
  const { parseTrace } = require(path.join(root, 'out', 'src', 'trace', 'index.js'));
  return parseTrace(bigWorkloadText(paging, stores, seed, opts), `bench-${paging}.xpt`);
}

/** The text of `bigWorkload`'s trace (one line per statement). */
function bigWorkloadText(paging, stores, seed, opts = {}) {
  const fbPages = opts.pages ?? 16384;
  const peekEvery = opts.peekEvery ?? 10000;
  const lines = [
    `domain g paging=${paging} mem=4G vcpus=1`,
    `vram lfb dom=g gfn=0x${(0x100000 - fbPages).toString(16)} pages=${fbPages}`,
    'map vcpu=g.0 va=0xffff800000000000 fb=lfb',
    'peek fb=lfb',
  ];
  let x = seed >>> 0;
  for (let i = 0; i < stores; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    const off = (x % (fbPages * 1024)) * 4;
    lines.push(`write vcpu=g.0 va=0xffff8${off.toString(16).padStart(11, '0')}`);
    if (peekEvery > 0 && (i + 1) % peekEvery === 0) {
      lines.push('peek fb=lfb');
    }
  }
  return lines.join('\n') + '\n';
}

module.exports = { bigWorkload, bigWorkloadText };

/**
 * Time travel through the debug adapter on a 1-million-step trace: `xpl/seek` to random steps and a
 * step back after each, measured as DAP round trips (request → response → `stopped`), against the
 * issue's 100 ms budget. Figures, not assertions (the machine is shared), so this is not a `.test.ts`
 * (and does nothing when the test runner loads it):
 *
 *   npx webpack --mode development --env only=debugAdapter && npx tsc -p tsconfig.test.json
 *   node out/test/debug/seek-bench.js [--short] [--json]
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { close, custom, launch, open, resume, within } from './harness';

const SHORT = process.argv.includes('--short') || !!process.env.XPL_BENCH_SHORT;
const JSON_OUT = process.argv.includes('--json');
const ITERATIONS = SHORT ? 10_000 : 100_000; // ten stores per iteration

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xpl-seek-bench-'));
  const trace = path.join(dir, 'million-stores.xpt');
  const body = Array.from({ length: 10 }, (_, i) => `  write vcpu=g.0 va=${'0x' + (0x10000000 + i * 0x1000).toString(16)}`);
  fs.writeFileSync(trace, [
    '# Ten stores into ten framebuffer pages, again and again, with a peek every iteration.',
    'domain g paging=shadow mem=64M vcpus=1',
    'vram lfb dom=g gfn=0x2000 pages=64',
    'map vcpu=g.0 va=0x10000000 fb=lfb',
    `repeat ${ITERATIONS}`,
    ...body.slice(0, 9),
    '  peek fb=lfb',
    'end',
    '',
  ].join('\n'));
  const s = await open();
  const figures: { name: string; value: number; unit: string; budget: number | null }[] = [];
  try {
    const t0 = performance.now();
    const end = await launch(s, { trace, checkpointInterval: 1000 });
    const runMs = performance.now() - t0;
    if (end.body.reason !== 'end') {
      throw new Error(`expected to run to the end, stopped for ${end.body.reason}`);
    }
    const total = Number((await within(s.dc.evaluateRequest({ expression: 'step' }), 'step')).body.result.split(' ')[0]);
    figures.push({ name: `continue to the end (${total} steps)`, value: runMs, unit: 'ms', budget: null });
    const seeks: number[] = [];
    const backs: number[] = [];
    let x = 7;
    for (let i = 0; i < (SHORT ? 5 : 20); i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      const target = 1 + (x % (total - 1));
      let t = performance.now();
      const stopped = s.dc.waitForEvent('stopped');
      await custom(s, 'xpl/seek', { step: target });
      await within(stopped, 'stopped after seek');
      seeks.push(performance.now() - t);
      t = performance.now();
      await resume(s, 'stepBack');
      backs.push(performance.now() - t);
    }
    figures.push({ name: 'xpl/seek to a random step (round trip)', value: median(seeks), unit: 'ms', budget: 100 });
    figures.push({ name: 'step back after it (round trip)', value: median(backs), unit: 'ms', budget: 100 });
  } finally {
    await close(s);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  if (JSON_OUT) {
    console.log(JSON.stringify(figures.map((f) => ({ ...f, ok: f.budget === null ? null : f.value <= f.budget }))));
    return;
  }
  for (const f of figures) {
    const verdict = f.budget === null ? '' : `budget ≤ ${f.budget} ${f.unit}  ${f.value <= f.budget ? 'ok' : 'MISSED'}`;
    console.log(`${f.name.padEnd(48)} ${f.value.toFixed(1).padStart(10)} ${f.unit}  ${verdict}`);
  }
}

// `node --test out/test/` loads every .js under test/: a benchmark has no place in that run.
if (process.env.NODE_TEST_CONTEXT === undefined) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exitCode = 1;
  });
}

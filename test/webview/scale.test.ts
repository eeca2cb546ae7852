/// <reference lib="dom" />
/**
 * Big guests and the guest-physical map: a 262,144-page framebuffer (1 GiB, the largest range Xen
 * accepts) in a 4 GiB guest draws one cell per page with the right colours, and the map zooms from
 * the whole guest down to single frames, where p2m types show (HAP arming: ram_logdirty).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import type { Summary } from '../../src/shared/protocol';
import type { Recording } from './fixture';
import { requestKey } from './fixture';
import { cellCentre, FakeHost, hexRgb, launch, loadRecording, openVisualizer, pixel, seekAndWait, startServer, THEMES, type Server } from './harness';

const PAGES = 262_144;
const FB_GFN = 0x40000;

/** A guest with a 1 GiB framebuffer; page p is missed if p % 4099 == 0, reported if p % 7 == 0, written if p % 11 == 0. */
function bigRecording(): Recording {
  const state = Buffer.alloc(PAGES);
  for (let p = 0; p < PAGES; p++) {
    state[p] = p % 4099 === 0 ? 4 : p % 7 === 0 ? 2 : p % 11 === 0 ? 1 : 0;
  }
  // One page reported but not written (extra).
  state[3] = 8;
  const summary: Summary = {
    step: 0, time: 0, line: 1, done: false, costs: { cycles: 0 }, violations: [],
    domains: [{
      name: 'big', paging: 'hap', memBytes: 2 ** 32, tracker: 'p2m-type', tlb: 'tagged', pml: true, logdirty: false,
      vcpus: [{ id: 'big.0', dom: 'big', index: 0, process: 'kernel', cr3Gfn: 0xfffff, tlbEntries: 0 }],
      framebuffers: [{ name: 'lfb', dom: 'big', gfn: FB_GFN, pages: PAGES, width: 0, height: 0, bpp: 32, tracked: true }],
      processes: [{ name: 'kernel', cr3Gfn: 0xfffff, exited: false }], ptFrames: [0xffffc, 0xffffd, 0xffffe, 0xfffff],
    }],
  };
  const blobs: unknown[] = [
    summary, { entries: [] }, { fb: 'lfb', start: 0, count: PAGES, pages: PAGES, state: state.toString('base64'), lastAnswerLine: 1 }, null,
  ];
  return {
    trace: 'big.xpt', source: { mode: 'engine', title: 'big.xpt' }, total: 0, marks: [], compare: [], blobs,
    steps: [{
      stepped: { type: 'stepped', step: 0, line: 1, done: false, events: [] },
      responses: {
        [requestKey('summary', {})]: 0, [requestKey('tlb', { vcpu: 'big.0' })]: 1,
        [requestKey('bitmap', { fb: 'lfb', start: 0, count: PAGES })]: 2, [requestKey('tracker', { fb: 'lfb' })]: 3,
      },
      p2m: { big: [[0, 2 ** 20, 'ram_rw', 0x100000, true, true, true, true]] },
    }],
  };
}

async function gpaPixel(page: Page, gfn: number, y: number): Promise<number[]> {
  const [d0, d1, w] = await page.$eval('canvas.gpa', (c) => [...((c as HTMLElement).dataset.domain ?? '0,1').split(',').map(Number), (c as HTMLCanvasElement).width]);
  const x = Math.floor(((gfn + 0.5 - d0) / (d1 - d0)) * w);
  return (await pixel(page, 'canvas.gpa', x, y)).slice(0, 3);
}

describe('visualizer at scale', { timeout: 180_000 }, () => {
  let browser: Browser;
  let server: Server;
  before(async () => {
    server = await startServer();
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it('draws a 262,144-page dirty bitmap one cell per page, each in its state\'s colour', async () => {
    const host = new FakeHost(bigRecording());
    const { page, errors } = await openVisualizer(browser, server, host, { atStep: 0 });
    const geo = await page.$eval('canvas.bitmap[data-fb="lfb"]', (c) => ({ cols: (c as HTMLElement).dataset.cols, w: (c as HTMLCanvasElement).width, h: (c as HTMLCanvasElement).height }));
    assert.deepEqual(geo, { cols: '512', w: 512, h: 512 }, 'a 512 × 512 grid, one pixel per page');
    const v = THEMES.dark.vars;
    const expect: [number, string][] = [[0, '--vscode-charts-red'], [4099 * 37, '--vscode-charts-red'], [7 * 5, '--vscode-charts-blue'], [11 * 3, '--vscode-charts-yellow'], [PAGES - 2, '--vscode-input-background'], [1, '--vscode-input-background'], [3, '--vscode-charts-purple']];
    for (const [p, colour] of expect) {
      const c = await cellCentre(page, 'lfb', p);
      assert.deepEqual((await pixel(page, c.sel, c.x, c.y)).slice(0, 3), hexRgb(v[colour]), `page ${p}`);
    }
    const missed = await page.$eval('.view-bitmaps .key-missed', (k) => (k as HTMLElement).dataset.count);
    assert.equal(missed, String(Math.ceil(PAGES / 4099)));
    // The map of a 4 GiB guest: the framebuffer's 1 GiB is drawn in the framebuffer colour.
    assert.deepEqual(await gpaPixel(page, FB_GFN + PAGES / 2, 10), hexRgb(v['--vscode-charts-purple']));
    assert.deepEqual(await gpaPixel(page, 0x10, 10), hexRgb(v['--vscode-charts-green']));
    assert.match(await page.textContent('.gpa-info') ?? '', /zoom in for p2m types/);
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('in a panel narrower than the 512-cell grid, draws a pixel per block of pages in its most telling colour: no missed page is dropped', async () => {
    const host = new FakeHost(bigRecording());
    const { page, errors } = await openVisualizer(browser, server, host, { atStep: 0, width: 400 });
    const geo = await page.$eval('canvas.bitmap[data-fb="lfb"]', (c) => ({ w: (c as HTMLCanvasElement).width, cell: Number((c as HTMLElement).dataset.cell) }));
    const k = Math.round(1 / geo.cell);
    assert.ok(k >= 2 && geo.w === Math.ceil(512 / k), JSON.stringify(geo));
    // Every missed page (one in 4,099, red) shows in its block's pixel, though the block's other pages are written or reported.
    const red = hexRgb(THEMES.dark.vars['--vscode-charts-red']);
    const data = await page.$eval('canvas.bitmap[data-fb="lfb"]', (c) => {
      const cv = c as HTMLCanvasElement;
      return Array.from(cv.getContext('2d')!.getImageData(0, 0, cv.width, cv.height).data);
    });
    for (let p = 0; p < PAGES; p += 4099) {
      const b = Math.floor(Math.floor(p / 512) / k) * geo.w + Math.floor((p % 512) / k);
      assert.deepEqual(data.slice(b * 4, b * 4 + 3), red, `page ${p}`);
    }
    // Pointing at a red block pixel names the missed page in it (not the block's first, clean page); a click selects it.
    const missed = 4099 * 3;
    const [bx, by] = [Math.floor((missed % 512) / k), Math.floor(Math.floor(missed / 512) / k)];
    const box = await page.$eval('canvas.bitmap[data-fb="lfb"]', (c) => {
      c.scrollIntoView({ block: 'center' });
      return c.getBoundingClientRect().toJSON() as DOMRect;
    });
    const scale = box.width / geo.w;
    // (Pointer positions arrive in whole CSS pixels: the first whole one inside the block's pixel.)
    await page.mouse.move(Math.ceil(box.x + bx * scale), Math.ceil(box.y + by * scale));
    await page.waitForFunction((p) => (document.querySelector('.page-info[data-fb="lfb"]') as HTMLElement | null)?.dataset.page === String(p), missed);
    assert.match(await page.textContent('.page-info[data-fb="lfb"]') ?? '', new RegExp(`^lfb page ${missed} of ${PAGES} · gfn 0x${(FB_GFN + missed).toString(16)} · .* · the most telling page of a ${k}×${k} block — missed`));
    await page.mouse.down();
    await page.mouse.up();
    await page.waitForFunction((p) => JSON.parse(document.body.dataset.selection ?? '{}').page === p, missed);
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('a click on a mark of a 100,000-step timeline goes to that mark\'s step, not to the step under the pixel', async () => {
    const rec = bigRecording();
    rec.total = 100_000;
    rec.marks = [{ step: 54_321, line: 1, kinds: ['violation'], violation: 'lost-update' }, { step: 12_345, line: 1, kinds: ['tlb-flush'] }];
    const host = new FakeHost(rec);
    const { page } = await openVisualizer(browser, server, host, { atStep: 0 });
    for (const [lane, step] of [['violation', 54_321], ['flush', 12_345]] as const) {
      await page.$eval('svg.timeline', (e) => e.scrollIntoView({ block: 'center' }));
      const box = await page.$eval(`svg.timeline rect.mark[data-lane="${lane}"]`, (r) => {
        const b = r.getBoundingClientRect();
        return { x: b.right - 0.5, y: b.top + b.height / 2 };
      });
      const before = host.requests('seek').length;
      await page.mouse.click(box.x, box.y);
      for (let i = 0; i < 100 && host.requests('seek').length === before; i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      const seeks = host.requests('seek').map((m) => m.args?.step);
      assert.equal(seeks[seeks.length - 1], step, `${lane} mark`);
    }
    await page.close();
  });

  it('zooms the guest-physical map to single frames and shows p2m types as HAP arms and a store disarms', async () => {
    const host = new FakeHost(loadRecording('hap-arming-makes-logdirty.json'));
    const { page } = await openVisualizer(browser, server, host, { atStep: 5 });
    const c = await cellCentre(page, 'lfb', 2);
    const box = await page.$eval(c.sel, (e) => e.getBoundingClientRect().toJSON() as DOMRect);
    await page.mouse.click(box.x + c.x, box.y + c.y);
    await page.keyboard.press('z');
    await page.waitForFunction(() => {
      const d = (document.querySelector('canvas.gpa') as HTMLElement).dataset.domain?.split(',').map(Number) ?? [0, 1e9];
      return d[1] - d[0] < 64;
    });
    await page.waitForFunction(() => !document.querySelector('.gpa-info')?.textContent?.includes('zoom in'));
    const v = THEMES.dark.vars;
    // After line 7's store: page 3 took the EPT violation (back to ram_rw); page 2 is still armed.
    const p2 = await gpaPixel(page, 0x802, 36);
    const p3 = await gpaPixel(page, 0x803, 36);
    assert.deepEqual(p2, hexRgb(v['--vscode-charts-yellow']), 'gfn 0x802 ram_logdirty');
    assert.deepEqual(p3, hexRgb(v['--vscode-charts-green']), 'gfn 0x803 back to ram_rw');
    assert.deepEqual(await gpaPixel(page, 0x802, 10), hexRgb(v['--vscode-charts-purple']), 'a framebuffer frame');
    assert.match(await page.textContent('.gpa-info') ?? '', /selected gfn 0x802 \(framebuffer\)/);
    // The next peek re-arms page 3: the map follows the step.
    await seekAndWait(page, host, 6);
    assert.deepEqual(await gpaPixel(page, 0x803, 36), hexRgb(v['--vscode-charts-yellow']), 'gfn 0x803 re-armed by the peek');
    await page.close();
  });
});

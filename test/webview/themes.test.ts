/// <reference lib="dom" />
/**
 * Light, dark and high contrast: screenshots of the whole visualizer must be drawn in the theme's
 * own colours (the page background is the editor background, the canvases use the theme's chart
 * colours) and not be blank; switching theme repaints the canvases. Screenshots are kept in
 * test-results/webview/ for people to look at.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { cellCentre, FakeHost, hexRgb, launch, loadRecording, openVisualizer, pixel, ROOT, startServer, THEMES, type Server, type TestTheme } from './harness';

const OUT = path.join(ROOT, 'test-results', 'webview');

/** Colour histogram of a PNG, decoded by Chromium in a blank page. */
async function histogram(browser: Browser, png: Buffer): Promise<{ top: [string, number][]; distinct: number; total: number }> {
  const page = await browser.newPage();
  try {
    return await page.evaluate(async (b64) => {
      const img = new Image();
      img.src = 'data:image/png;base64,' + b64;
      await img.decode();
      const c = document.createElement('canvas');
      c.width = img.width;
      c.height = img.height;
      const g = c.getContext('2d') as CanvasRenderingContext2D;
      g.drawImage(img, 0, 0);
      const d = g.getImageData(0, 0, c.width, c.height).data;
      const counts = new Map<string, number>();
      for (let i = 0; i < d.length; i += 4) {
        const k = '#' + [d[i], d[i + 1], d[i + 2]].map((v) => v.toString(16).padStart(2, '0')).join('');
        counts.set(k, (counts.get(k) ?? 0) + 1);
      }
      const top = Array.from(counts.entries()).sort((a, b) => b[1] - a[1]).slice(0, 8);
      return { top, distinct: counts.size, total: d.length / 4 };
    }, png.toString('base64'));
  } finally {
    await page.close();
  }
}

async function missedCell(page: Page): Promise<number[]> {
  const c = await cellCentre(page, 'vga', 0);
  return (await pixel(page, c.sel, c.x, c.y)).slice(0, 3);
}

describe('visualizer themes', { timeout: 180_000 }, () => {
  let browser: Browser;
  let server: Server;
  before(async () => {
    server = await startServer();
    browser = await launch();
    fs.mkdirSync(OUT, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  for (const theme of ['light', 'dark', 'highContrast'] as TestTheme[]) {
    it(`draws in the ${theme} theme's colours`, async () => {
      const host = new FakeHost(loadRecording('shadow-skip-flush-stale-screen.json'), { theme });
      const { page, cspViolations } = await openVisualizer(browser, server, host, { theme, atStep: 11 });
      const vars = THEMES[theme].vars;
      assert.deepEqual(await missedCell(page), hexRgb(vars['--vscode-charts-red']), 'missed page in the theme\'s red');
      // A clean page is a cell one can see, also where the input background is the editor's own
      // (Light Modern: both #ffffff; high contrast: both #000000).
      const c = await cellCentre(page, 'vga', 9);
      const clean = (await pixel(page, c.sel, c.x, c.y)).slice(0, 3);
      const bg = hexRgb(vars['--vscode-editor-background']);
      assert.ok(Math.max(...clean.map((x, i) => Math.abs(x - bg[i]))) >= 16, `clean cell ${clean} stands out from the background ${bg}`);
      const fill = await page.$eval('svg.timeline rect.mark[data-lane="violation"]', (r) => r.getAttribute('fill'));
      assert.equal(fill, vars['--vscode-charts-red'], 'violation marks in the theme\'s red');
      const png = await page.screenshot({ fullPage: true });
      fs.writeFileSync(path.join(OUT, `visualizer-${theme}.png`), png);
      const h = await histogram(browser, png);
      assert.equal(h.top[0][0], vars['--vscode-editor-background'], `the page is on the editor background (top colours ${JSON.stringify(h.top)})`);
      assert.ok(h.top[0][1] / h.total < 0.97, 'not blank: something is drawn over the background');
      assert.ok(h.distinct > 30, `not blank: ${h.distinct} distinct colours`);
      assert.deepEqual(await cspViolations(), []);
      await page.close();
    });
  }

  it('outlines the selected TLB row in high contrast, where the theme gives no selection background', async () => {
    const host = new FakeHost(loadRecording('shadow-skip-flush-stale-screen.json'), { theme: 'highContrast' });
    const { page } = await openVisualizer(browser, server, host, { theme: 'highContrast', atStep: 9 });
    await page.click('table.tlb[data-vcpu="xp.0"] tr[data-va="0x10000000"]');
    await page.waitForSelector('table.tlb[data-vcpu="xp.0"] tr.selected[data-va="0x10000000"]');
    const outline = await page.$eval('table.tlb[data-vcpu="xp.0"] tr.selected', (tr) => getComputedStyle(tr).outlineStyle);
    assert.equal(outline, 'solid');
    await page.close();
  });

  it('repaints the canvases when the theme changes', async () => {
    const host = new FakeHost(loadRecording('shadow-skip-flush-stale-screen.json'));
    const { page } = await openVisualizer(browser, server, host, { theme: 'dark', atStep: 11 });
    assert.deepEqual(await missedCell(page), hexRgb(THEMES.dark.vars['--vscode-charts-red']));
    // As VS Code does: new variables, then the body's theme class.
    await page.evaluate(async (href) => {
      const link = document.getElementById('theme') as HTMLLinkElement;
      await new Promise<void>((resolve) => {
        link.onload = () => resolve();
        link.href = href;
      });
      document.body.className = 'vscode-light';
    }, `${server.origin}/theme-light.css`);
    await page.waitForFunction(() => document.body.dataset.theme === 'light');
    assert.deepEqual(await missedCell(page), hexRgb(THEMES.light.vars['--vscode-charts-red']));
    const fill = await page.$eval('svg.timeline rect.mark[data-lane="violation"]', (r) => r.getAttribute('fill'));
    assert.equal(fill, THEMES.light.vars['--vscode-charts-red']);
    await page.close();
  });
});

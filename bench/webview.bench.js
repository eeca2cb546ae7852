#!/usr/bin/env node
// Visualizer performance in real Chromium (Debian's /usr/bin/chromium through playwright-core):
//  1. drawing a 262,144-page dirty bitmap (one cell per page) — budget 16 ms (60 frames per second);
//  2. step → repaint of every open view for a 64 MiB framebuffer (16,384 pages) — budget 50 ms.
// The bundle (dist/webview) is served on 127.0.0.1 with a fake host answering from generated state,
// as in test/webview. Prints each figure with its budget; `--json` prints one JSON object instead.
// Figures, not assertions: the machine is shared. Build first: npx webpack --mode development --env only=webview
'use strict';
/* global window, document, performance, btoa, URL, setTimeout */
const fs = require('fs');
const http = require('http');
const path = require('path');
const { chromium } = require('playwright-core');

const DIST = path.resolve(__dirname, '..', 'dist', 'webview');
const JSON_OUT = process.argv.includes('--json');
const NONCE = 'YmVuY2hub25jZQ';
const THEME = ':root{--vscode-editor-background:#1f1f1f;--vscode-editor-foreground:#cccccc;--vscode-foreground:#cccccc;--vscode-input-background:#313131;'
  + '--vscode-charts-red:#f14c4c;--vscode-charts-blue:#3794ff;--vscode-charts-yellow:#cca700;--vscode-charts-orange:#d18616;--vscode-charts-green:#89d185;--vscode-charts-purple:#b180d7;--vscode-focusBorder:#0078d4}';

function serve() {
  const server = http.createServer((req, res) => {
    const origin = `http://127.0.0.1:${server.address().port}`;
    const url = new URL(req.url, origin);
    if (url.pathname === '/index.html') {
      const csp = `default-src 'none'; img-src ${origin} data: blob:; style-src ${origin}; script-src 'nonce-${NONCE}'`;
      res.writeHead(200, { 'content-type': 'text/html' }).end(`<!DOCTYPE html><html><head><meta charset="UTF-8"><meta http-equiv="Content-Security-Policy" content="${csp}">`
        + `<link rel="stylesheet" href="/theme.css"><link rel="stylesheet" href="/visualizer.css"></head><body class="vscode-dark"><script nonce="${NONCE}" src="/visualizer.js"></script></body></html>`);
    } else if (url.pathname === '/theme.css') {
      res.writeHead(200, { 'content-type': 'text/css' }).end(THEME);
    } else if (url.pathname === '/visualizer.js' || url.pathname === '/visualizer.css') {
      res.writeHead(200, { 'content-type': url.pathname.endsWith('.js') ? 'text/javascript' : 'text/css' }).end(fs.readFileSync(path.join(DIST, url.pathname.slice(1))));
    } else {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/**
 * The fake host runs inside the page (posting answers with window.postMessage, as VS Code delivers
 * them), so the figures are the webview's own work and not the test driver's round trips. States are
 * generated before measuring: a host has them ready too.
 */
function installHost(cfg) {
  const { pages, width, height } = cfg;
  const worlds = new Map();
  const b64 = (u8) => {
    let s = '';
    for (let i = 0; i < u8.length; i += 0x8000) {
      s += String.fromCharCode.apply(null, u8.subarray(i, i + 0x8000));
    }
    return btoa(s);
  };
  const world = (step) => {
    if (worlds.has(step)) {
      return worlds.get(step);
    }
    const state = new Uint8Array(pages);
    for (let p = 0; p < pages; p++) {
      const h = Math.imul(p, 2654435761) + step * 40503 >>> 0;
      state[p] = h % 97 === 0 ? 4 : h % 13 === 0 ? 2 : h % 7 === 0 ? 1 : 0;
    }
    const fb = { name: 'lfb', dom: 'g', gfn: 0x40000, pages, width, height, bpp: 32, tracked: true };
    const summary = {
      step, time: step * 1000, line: step + 1, done: false, costs: { vmexits: step, tlbFlushes: step >> 1, cycles: step * 100 }, violations: [],
      domains: [{
        name: 'g', paging: 'hap', memBytes: 2 ** 32, tracker: 'p2m-type', tlb: 'tagged', pml: true, logdirty: false,
        vcpus: [{ id: 'g.0', dom: 'g', index: 0, process: 'kernel', cr3Gfn: 0xfffff, tlbEntries: 64 }],
        framebuffers: [fb], processes: [{ name: 'kernel', cr3Gfn: 0xfffff, exited: false }], ptFrames: [0xffffc, 0xffffd, 0xffffe, 0xfffff],
      }],
    };
    const tlb = { entries: Array.from({ length: 64 }, (_, i) => ({ va: 0x10000000 + i * 4096, mfn: 0x200000 + i, writable: true, dirty: (i + step) % 3 === 0, global: false, stale: null })) };
    const w = { summary, tlb, bitmap: { fb: 'lfb', start: 0, count: pages, pages, state: b64(state), lastAnswerLine: step } };
    worlds.set(step, w);
    return w;
  };
  let step = 0;
  let st = null;
  const post = (m) => setTimeout(() => window.postMessage(m, '*'), 0);
  const series = [];
  const answer = (m) => {
    const cur = world(step);
    switch (m.method) {
      case 'summary': series.push({ step, costs: cur.summary.costs }); return cur.summary;
      case 'tlb': return cur.tlb;
      case 'bitmap': return cur.bitmap;
      case 'tracker': return { tracker: 'p2m-type', fb: 'lfb', fields: { armed: true }, lastAnswer: null };
      case 'timeline': return { total: 100000, marks: [] };
      case 'costs': return { series: series.slice(-2000) };
      case 'p2m': return { entries: Array.from({ length: m.args.count }, (_, i) => ({ gfn: m.args.gfn + i, mfn: m.args.gfn + i, type: 'ram_rw', r: true, w: true, x: true, d: true, recalc: false })) };
      case 'seek': step = m.args.step; return { step };
      default: throw new Error('bench host: no ' + m.method);
    }
  };
  window.acquireVsCodeApi = () => ({
    postMessage: (m) => {
      if (m.type === 'ready') {
        post({ type: 'init', source: { mode: 'engine', title: 'bench' }, theme: 'dark', strings: {} });
      } else if (m.type === 'request') {
        try {
          post({ type: 'response', inReplyTo: m.requestId, ok: true, result: answer(m) });
        } catch (e) {
          post({ type: 'response', inReplyTo: m.requestId, ok: false, error: String(e.message) });
        }
      }
    },
    getState: () => st,
    setState: (s) => (st = s),
  });
  window.__bench = {
    prepare: (from, n) => { for (let i = from; i < from + n; i++) { world(i); } },
    step: (s) => { step = s; post({ type: 'stepped', step: s, line: s + 1, done: false, events: [] }); },
  };
}

async function open(browser, origin, cfg) {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await page.addInitScript(installHost, cfg);
  await page.goto(`${origin}/index.html`);
  await page.waitForFunction(() => document.body.dataset.renderedStep === '0');
  let step = 0;
  return {
    page,
    /** Steps forward `n` times, waiting for each repaint; returns the page's step -> repaint times. */
    async steps(n) {
      await page.evaluate(([from, k]) => window.__bench.prepare(from, k), [step + 1, n]);
      await page.evaluate(() => performance.clearMeasures('xpl-step-repaint'));
      for (let i = 0; i < n; i++) {
        step += 1;
        await page.evaluate((s) => window.__bench.step(s), step);
        await page.waitForFunction((s) => document.body.dataset.renderedStep === String(s), step, { polling: 'raf' });
      }
      return page.evaluate(() => performance.getEntriesByName('xpl-step-repaint').map((e) => e.duration));
    },
  };
}

function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (f) => s[Math.min(s.length - 1, Math.floor(f * s.length))];
  return { n: s.length, median: q(0.5), p95: q(0.95), max: s[s.length - 1] };
}

async function main() {
  if (!fs.existsSync(path.join(DIST, 'visualizer.js'))) {
    throw new Error('dist/webview/visualizer.js is missing: build it with `npx webpack --mode development --env only=webview`');
  }
  const server = await serve();
  const origin = `http://127.0.0.1:${server.address().port}`;
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const results = {};
  try {
    // 1. A 262,144-page bitmap: each selection move repaints the grid; every draw is measured in the page.
    const big = await open(browser, origin, { pages: 262144, width: 0, height: 0 });
    await big.page.evaluate(() => performance.clearMeasures('xpl-bitmap-draw'));
    await big.page.keyboard.press('3');
    for (let i = 0; i < 60; i++) {
      await big.page.keyboard.press(']');
    }
    await big.page.waitForFunction(() => performance.getEntriesByName('xpl-bitmap-draw').length >= 60);
    const draws = await big.page.evaluate(() => performance.getEntriesByName('xpl-bitmap-draw').map((e) => e.duration));
    results.bitmapDraw262144 = { ...stats(draws), budget: 16 };
    const bigSteps = await big.steps(10);
    results.stepRepaint1GiB = { ...stats(bigSteps), budget: null };
    await big.page.close();
    // 2. Step → repaint, 64 MiB framebuffer (16,384 pages, 4096 × 4096 × 32 bpp).
    const fb64 = await open(browser, origin, { pages: 16384, width: 4096, height: 4096 });
    await fb64.steps(3);
    const times = await fb64.steps(30);
    results.stepRepaint64MiB = { ...stats(times), budget: 50 };
    results.parts64MiB = await fb64.page.evaluate(() => {
      const out = {};
      for (const e of performance.getEntriesByType('measure')) {
        if (e.name.startsWith('xpl-refresh-')) {
          (out[e.name.slice(12)] = out[e.name.slice(12)] || []).push(e.duration);
        }
      }
      return out;
    });
    await fb64.page.close();
  } finally {
    await browser.close();
    server.close();
  }
  if (JSON_OUT) {
    console.log(JSON.stringify(results));
    return;
  }
  const f = (x) => x.toFixed(2).padStart(7);
  console.log(`webview: draw a 262,144-page dirty bitmap   median ${f(results.bitmapDraw262144.median)} ms  p95 ${f(results.bitmapDraw262144.p95)} ms  (budget 16 ms, ${results.bitmapDraw262144.n} draws)`);
  console.log(`webview: step -> repaint, 64 MiB framebuffer median ${f(results.stepRepaint64MiB.median)} ms  p95 ${f(results.stepRepaint64MiB.p95)} ms  (budget 50 ms, ${results.stepRepaint64MiB.n} steps)`);
  const parts = Object.entries(results.parts64MiB).map(([k, v]) => `${k} ${stats(v).median.toFixed(1)}`).join(', ');
  console.log(`         (median ms per part, 64 MiB: ${parts})`);
  console.log(`webview: step -> repaint, 1 GiB framebuffer  median ${f(results.stepRepaint1GiB.median)} ms  p95 ${f(results.stepRepaint1GiB.p95)} ms  (no budget; for reference)`);
}

main().catch((e) => {
  console.error(`webview bench: ${e.message}`);
  process.exit(1);
});

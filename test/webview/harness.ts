/// <reference lib="dom" />
/**
 * Runs the visualizer bundle in real Chromium with a fake host standing in for VS Code: a tiny HTTP
 * server on 127.0.0.1 serves dist/webview and a page built like the extension's (same CSP with a
 * nonce); `acquireVsCodeApi` is provided by an init script that hands each message to the fake host
 * in Node, which answers from a recording (test/fixtures/webview/*.json) and posts back into the page.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from 'playwright-core';
import { P2M_ENTRIES_MAX, type HostMessage, type ThemeKind, type StringKey } from '../../src/shared/protocol';
import { CostSamples } from '../../src/debug/custom';
import { costSeries } from '../../src/extension/visualizer/costHistory';
import { requestKey, type Recording } from './fixture';

export const ROOT = path.resolve(__dirname, '../../..');
export const DIST = path.join(ROOT, 'dist', 'webview');
export const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'webview');

/** Theme variables as VS Code sets them (Light Modern, Dark Modern, High Contrast; extensions/theme-defaults). */
export const THEMES: Record<'light' | 'dark' | 'highContrast', { bodyClass: string; vars: Record<string, string> }> = {
  light: {
    bodyClass: 'vscode-light',
    vars: {
      '--vscode-editor-background': '#ffffff', '--vscode-editor-foreground': '#3b3b3b', '--vscode-foreground': '#3b3b3b',
      '--vscode-descriptionForeground': '#717171', '--vscode-focusBorder': '#005fb8', '--vscode-input-background': '#ffffff',
      '--vscode-editorWidget-border': '#c8c8c8', '--vscode-panel-border': '#e5e5e5', '--vscode-errorForeground': '#e51400',
      '--vscode-charts-red': '#e51400', '--vscode-charts-blue': '#1a85ff', '--vscode-charts-yellow': '#bf8803',
      '--vscode-charts-orange': '#d18616', '--vscode-charts-green': '#388a34', '--vscode-charts-purple': '#652d90',
      '--vscode-editorWidget-background': '#f8f8f8', '--vscode-list-activeSelectionBackground': '#e8e8e8',
    },
  },
  dark: {
    bodyClass: 'vscode-dark',
    vars: {
      '--vscode-editor-background': '#1f1f1f', '--vscode-editor-foreground': '#cccccc', '--vscode-foreground': '#cccccc',
      '--vscode-descriptionForeground': '#9d9d9d', '--vscode-focusBorder': '#0078d4', '--vscode-input-background': '#313131',
      '--vscode-editorWidget-border': '#454545', '--vscode-panel-border': '#2b2b2b', '--vscode-errorForeground': '#f85149',
      '--vscode-charts-red': '#f14c4c', '--vscode-charts-blue': '#3794ff', '--vscode-charts-yellow': '#cca700',
      '--vscode-charts-orange': '#d18616', '--vscode-charts-green': '#89d185', '--vscode-charts-purple': '#b180d7',
      '--vscode-editorWidget-background': '#202020', '--vscode-list-activeSelectionBackground': '#04395e',
    },
  },
  highContrast: {
    bodyClass: 'vscode-high-contrast',
    vars: {
      '--vscode-editor-background': '#000000', '--vscode-editor-foreground': '#ffffff', '--vscode-foreground': '#ffffff',
      '--vscode-descriptionForeground': '#ffffff', '--vscode-focusBorder': '#f38518', '--vscode-input-background': '#000000',
      '--vscode-contrastBorder': '#6fc3df', '--vscode-panel-border': '#6fc3df', '--vscode-errorForeground': '#f48771',
      '--vscode-charts-red': '#f48771', '--vscode-charts-blue': '#3794ff', '--vscode-charts-yellow': '#ffd700',
      '--vscode-charts-orange': '#ff8c00', '--vscode-charts-green': '#89d185', '--vscode-charts-purple': '#b180d7',
      '--vscode-editorWidget-background': '#0c141f', '--vscode-list-activeSelectionBackground': '#000000',
    },
  },
};
export type TestTheme = keyof typeof THEMES;

function themeCss(t: TestTheme): string {
  return `:root {\n${Object.entries(THEMES[t].vars).map(([k, v]) => `  ${k}: ${v};`).join('\n')}\n  --vscode-font-family: sans-serif;\n  --vscode-font-size: 13px;\n}\n`;
}

export function loadRecording(name: string): Recording {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES, name), 'utf8')) as Recording;
}

const NONCE = 'dGVzdG5vbmNlMTIzNDU2Nzg5MA';

/** The page, as src/extension/visualizer/panel.ts builds it (same CSP; cspSource = this origin). */
function pageHtml(origin: string, theme: TestTheme): string {
  const csp = [`default-src 'none'`, `img-src ${origin} data: blob:`, `style-src ${origin}`, `font-src ${origin}`, `script-src 'nonce-${NONCE}'`].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<link rel="stylesheet" href="${origin}/theme-${theme}.css" id="theme">
<link rel="stylesheet" href="${origin}/visualizer.css">
<title>Xen Paging Lens: Visualizer</title>
</head>
<body class="${THEMES[theme].bodyClass}">
<script nonce="${NONCE}" src="${origin}/visualizer.js"></script>
</body>
</html>`;
}

export interface Server { origin: string; close(): Promise<void> }

export async function startServer(): Promise<Server> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const theme = /^\/theme-(light|dark|highContrast)\.css$/.exec(url.pathname);
    if (url.pathname === '/index.html') {
      const t = (url.searchParams.get('theme') ?? 'dark') as TestTheme;
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(pageHtml(origin, t in THEMES ? t : 'dark'));
    } else if (theme) {
      res.writeHead(200, { 'content-type': 'text/css' }).end(themeCss(theme[1] as TestTheme));
    } else if (url.pathname === '/visualizer.js' || url.pathname === '/visualizer.css') {
      const f = path.join(DIST, url.pathname.slice(1));
      res.writeHead(200, { 'content-type': url.pathname.endsWith('.js') ? 'text/javascript' : 'text/css' }).end(fs.readFileSync(f));
    } else if (url.pathname === '/favicon.ico') {
      res.writeHead(204).end();
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { origin, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export interface SentMessage { type: string; requestId?: number; method?: string; args?: Record<string, unknown> }

/**
 * The stand-in for the extension host: answers from a recording, like the real host with an engine
 * source (seek moves the recording's position and posts `stepped`; costs are the summaries' of the
 * steps shown merged with the samples the source took as its first pass ran, as the panel answers).
 */
export class FakeHost {
  /** What the timeline answer says of `total` (a debug session's: false until the end was reached; unset: not said). */
  complete: boolean | undefined = undefined;
  readonly sent: SentMessage[] = [];
  step = 0;
  private costs = new Map<number, Record<string, number>>();
  /** What the engine source's CostSamples hold after its first pass (unset with `hostSamples: false`: an adapter without xpl/costs). */
  readonly samples: CostSamples | null;
  /** Overrides of answers by request key (tests use them for big or hostile data). */
  readonly overrides = new Map<string, unknown>();
  title: string;
  theme: ThemeKind;
  onExport: ((args: Record<string, unknown>) => void) | null = null;
  private page: Page | null = null;

  constructor(readonly rec: Recording, opts: { title?: string; theme?: ThemeKind; hostSamples?: boolean } = {}) {
    this.title = opts.title ?? rec.source.title;
    this.theme = opts.theme ?? 'dark';
    this.samples = opts.hostSamples === false ? null : new CostSamples();
    rec.steps.forEach((s, step) => {
      const summary = rec.blobs[s.responses['summary {}']] as { costs: Record<string, number> } | undefined;
      if (summary) {
        this.samples?.note(step, () => summary.costs);
      }
    });
  }

  attach(page: Page): void {
    this.page = page;
  }

  async post(m: HostMessage | Record<string, unknown>): Promise<void> {
    try {
      await this.page?.evaluate((msg) => window.postMessage(msg, '*'), m as Record<string, unknown>);
    } catch (e) {
      // An answer to a request the webview sent as its test closed the page (a hover's p2m
      // lookup): there is no one left to answer, as when a real panel closes.
      if (!/has been closed/.test(String(e))) {
        throw e;
      }
    }
  }

  private answer(method: string, args: Record<string, unknown>): unknown {
    const key = requestKey(method, args);
    if (this.overrides.has(key)) {
      return this.overrides.get(key);
    }
    const st = this.rec.steps[this.step];
    switch (method) {
      case 'seek': {
        const s = Number(args.step);
        if (s >= this.rec.steps.length) {
          throw new Error(`step ${s} is past the end of the trace (${this.rec.steps.length - 1} steps)`);
        }
        this.step = s;
        return { step: s };
      }
      case 'timeline':
        return { total: this.rec.total, ...(this.complete === undefined ? {} : { complete: this.complete }), marks: this.rec.marks.filter((m) => m.step >= Number(args.from) && m.step < Number(args.to)) };
      case 'costs':
        return { series: costSeries(this.costs, this.samples?.list() ?? [], this.step) };
      case 'compare':
        return { rows: this.rec.compare };
      case 'export':
        this.onExport?.(args);
        return { saved: true, path: `/tmp/${String(args.suggestedName)}` };
      case 'p2m': {
        const runs = st.p2m[String(args.dom)] ?? [];
        const lo = Number(args.gfn);
        const entries = [];
        // As the engine does: at most one request's worth (Engine.p2m, P2M_VIEW_MAX).
        for (let g = lo; g < lo + Math.min(Number(args.count), P2M_ENTRIES_MAX); g++) {
          const r = runs.find((x) => g >= x[0] && g < x[0] + x[1]);
          if (!r) {
            entries.push({ gfn: g, mfn: null, type: 'invalid', r: false, w: false, x: false, d: false, recalc: false });
          } else {
            entries.push({ gfn: g, mfn: r[3] === null ? null : r[3] + (g - r[0]), type: r[2], r: r[4], w: r[5], x: r[6], d: r[7], recalc: false });
          }
        }
        return { entries };
      }
    }
    const idx = st.responses[key];
    if (idx === undefined) {
      throw new Error(`no recorded answer for ${key} at step ${this.step}`);
    }
    const v = this.rec.blobs[idx];
    if (method === 'summary') {
      this.costs.set(this.step, (v as { costs: Record<string, number> }).costs);
    }
    return v;
  }

  /** Called (through the exposed binding) for every message the webview posts. */
  async receive(m: SentMessage): Promise<void> {
    this.sent.push(m);
    if (m.type === 'ready') {
      const strings: Partial<Record<StringKey, string>> = {};
      await this.post({ type: 'init', source: { mode: this.rec.source.mode, title: this.title }, theme: this.theme, strings });
      return;
    }
    if (m.type !== 'request' || typeof m.requestId !== 'number' || typeof m.method !== 'string') {
      return;
    }
    try {
      const result = this.answer(m.method, m.args ?? {});
      await this.post({ type: 'response', inReplyTo: m.requestId, ok: true, result });
      if (m.method === 'seek') {
        await this.post(this.rec.steps[this.step].stepped);
      }
    } catch (e) {
      await this.post({ type: 'response', inReplyTo: m.requestId, ok: false, error: e instanceof Error ? e.message : String(e) });
    }
  }

  requests(method: string): SentMessage[] {
    return this.sent.filter((m) => m.type === 'request' && m.method === method);
  }
}

export interface Opened { page: Page; host: FakeHost; cspViolations: () => Promise<string[]>; errors: string[] }

/** Opens the visualizer page with a fake host; resolves when step `atStep` is drawn. */
export async function openVisualizer(browser: Browser, server: Server, host: FakeHost, opts: { theme?: TestTheme; state?: unknown; atStep?: number; width?: number } = {}): Promise<Opened> {
  const page = await browser.newPage({ viewport: { width: opts.width ?? 1280, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') {
      errors.push(m.text());
    }
  });
  host.attach(page);
  await page.exposeBinding('__xplToHost', (_src, m: SentMessage) => {
    void host.receive(m);
  });
  await page.addInitScript((state) => {
    const w = window as unknown as Record<string, unknown>;
    let st: unknown = state;
    w.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => (w.__csp as string[]).push(`${e.violatedDirective} ${e.blockedURI}`));
    w.__setStateCalls = 0;
    w.acquireVsCodeApi = () => ({
      postMessage: (m: unknown) => (w.__xplToHost as (m: unknown) => void)(m),
      getState: () => st,
      setState: (s: unknown) => {
        st = s;
        w.__state = s;
        w.__setStateCalls = (w.__setStateCalls as number) + 1;
        return s;
      },
    });
  }, opts.state ?? null);
  await page.goto(`${server.origin}/index.html?theme=${opts.theme ?? 'dark'}`);
  if (opts.atStep !== undefined) {
    await seekAndWait(page, host, opts.atStep);
  } else {
    await page.waitForFunction(() => document.body.dataset.renderedStep !== undefined);
  }
  return { page, host, errors, cspViolations: () => page.evaluate(() => (window as unknown as { __csp: string[] }).__csp) };
}

/** Moves the fake host to `step` (as a debugger stop would) and waits for the repaint. */
export async function seekAndWait(page: Page, host: FakeHost, step: number): Promise<void> {
  await page.waitForFunction(() => document.body.dataset.renderedStep !== undefined);
  if (host.step !== step) {
    host.step = step;
    await host.post(host.rec.steps[step].stepped);
  }
  await page.waitForFunction((s) => document.body.dataset.renderedStep === String(s), step);
}

/** RGBA of a canvas pixel. */
export async function pixel(page: Page, selector: string, x: number, y: number): Promise<[number, number, number, number]> {
  return page.$eval(selector, (c, [px, py]) => {
    const g = (c as HTMLCanvasElement).getContext('2d');
    if (!g) {
      throw new Error('no context');
    }
    return Array.from(g.getImageData(px, py, 1, 1).data) as [number, number, number, number];
  }, [x, y] as [number, number]);
}

export function hexRgb(hex: string): [number, number, number] {
  const h = hex.replace('#', '');
  return [parseInt(h.slice(0, 2), 16), parseInt(h.slice(2, 4), 16), parseInt(h.slice(4, 6), 16)];
}

/** Centre of page `p`'s cell in a bitmap canvas. */
export async function cellCentre(page: Page, fb: string, p: number): Promise<{ sel: string; x: number; y: number }> {
  const sel = `canvas.bitmap[data-fb="${fb}"]`;
  const { cols, cell } = await page.$eval(sel, (c) => ({ cols: Number((c as HTMLElement).dataset.cols), cell: Number((c as HTMLElement).dataset.cell) }));
  return { sel, x: (p % cols) * cell + Math.floor(cell / 2), y: Math.floor(p / cols) * cell + Math.floor(cell / 2) };
}

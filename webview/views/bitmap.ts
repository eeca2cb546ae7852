/**
 * Dirty bitmaps per framebuffer: one cell per page on a canvas — written since the last answer,
 * reported, missed, extra. One pixel per page goes into
 * an ImageData (a Uint32Array view), put on an offscreen canvas and scaled up without smoothing, so a
 * 262,144-page framebuffer draws in a few milliseconds.
 */
import type { Result } from '../../src/shared/protocol';
import { findFb, type Ctx, type ExportData, type View } from '../context';
import { clear, decodeBase64, el, hex } from '../dom';
import { canvasSvg } from '../export';
import { opaque, packRgba, toRgba } from '../theme';

// PAGE_* bits of src/sim/inspect.ts (the protocol carries them as bytes).
export const PAGE_WRITTEN = 1;
export const PAGE_REPORTED = 2;
export const PAGE_MISSED = 4;
export const PAGE_EXTRA = 8;
export const PAGE_WRITABLE = 16;
export const PAGE_STALE_SCREEN = 32;
export const PAGE_DIFFERS = 64;

/** Columns of the page grid: a power of two near the square root, so rows of pages line up. */
export function gridColumns(pages: number): number {
  let c = 1;
  while (c * c < pages) {
    c *= 2;
  }
  return Math.max(1, c);
}

/** The colour class of a page: what the grid shows for its state byte. */
/** How telling a page's class is, for a block of pages drawn as one pixel. */
const RANK = { missed: 4, extra: 3, written: 2, reported: 1, clean: 0 } as const;

export function pageClass(s: number): 'missed' | 'extra' | 'written' | 'reported' | 'clean' {
  if (s & PAGE_MISSED) {
    return 'missed';
  }
  if (s & PAGE_EXTRA) {
    return 'extra';
  }
  if (s & PAGE_WRITTEN) {
    return 'written';
  }
  if (s & PAGE_REPORTED) {
    return 'reported';
  }
  return 'clean';
}
/** RANK of each page state value (the low 7 bits), looked up in the block loop. */
const RANK_OF = Int8Array.from({ length: 128 }, (_, s) => RANK[pageClass(s)]);

interface FbGrid {
  fb: string; gfn: number; pages: number; cols: number; rows: number;
  state: Uint8Array; lastAnswerLine: number | null;
  wrap: HTMLElement; canvas: HTMLCanvasElement; off: HTMLCanvasElement; image: ImageData | null; legend: HTMLElement;
  /** The details of the hovered page, else of the selected one (a status line under the grid). */
  info: HTMLElement;
  /** The page under the pointer, if any. */
  hover: number | null;
  /** Pages the last answer reported although an earlier answer had missed them. */
  late: Set<number>;
  /** Pixels per page side (below 1 when a pixel stands for a block of pages: see `draw`). */
  cell: number;
  /** The image of page blocks, when the grid is wider than the panel. */
  blocks: ImageData | null;
  tracker: TrackerInfo;
}
type TrackerInfo = Result<'tracker'>;

export class BitmapView implements View {
  readonly id = 'bitmaps' as const;
  private readonly body: HTMLElement;
  private grids = new Map<string, FbGrid>();
  private lut = new Uint32Array(128);
  /** Last draw time of one grid, ms (read by the bench). */
  lastDrawMs = 0;

  constructor(private readonly ctx: Ctx, readonly section: HTMLElement) {
    this.body = section.querySelector('.view-body') as HTMLElement;
    this.buildLut();
  }

  private buildLut(): void {
    const p = this.ctx.palette;
    const bg = p.background;
    const base = {
      clean: opaque(p.clean, bg), written: opaque(p.written, bg), reported: opaque(p.reported, bg),
      missed: opaque(p.missed, bg), extra: opaque(p.extra, bg),
    };
    for (let s = 0; s < 128; s++) {
      this.lut[s] = packRgba(base[pageClass(s)]);
    }
  }

  async refresh(): Promise<void> {
    const fbs = (this.ctx.summary?.domains ?? []).flatMap((d) => d.framebuffers);
    const [results, trackers] = await Promise.all([
      Promise.all(fbs.map((f) => this.ctx.rpc.request('bitmap', { fb: f.name, start: 0, count: Math.max(1, f.pages) }))),
      Promise.all(fbs.map((f) => this.ctx.rpc.request('tracker', { fb: f.name }).catch(() => null))),
    ]);
    const seen = new Set<string>();
    // The p2m may have changed: machine frames are asked again for this step.
    this.mfns.clear();
    this.mfnStep = this.ctx.step;
    for (let i = 0; i < fbs.length; i++) {
      const f = fbs[i];
      const r = results[i];
      seen.add(f.name);
      let g = this.grids.get(f.name);
      const state = decodeBase64(r.state);
      if (!g || g.pages !== f.pages) {
        g?.wrap.remove();
        g = this.makeGrid(f.name, f.gfn, f.pages);
        this.grids.set(f.name, g);
      }
      g.gfn = f.gfn;
      g.state = state;
      g.lastAnswerLine = r.lastAnswerLine;
      g.tracker = trackers[i];
      g.late = new Set(g.tracker?.lastAnswer?.fb === f.name ? g.tracker.lastAnswer.late : []);
      this.updateLegend(g);
    }
    for (const [name, g] of this.grids) {
      if (!seen.has(name)) {
        g.wrap.remove();
        this.grids.delete(name);
      }
    }
    if (fbs.length === 0) {
      clear(this.body);
      this.body.append(el('p', { class: 'empty', text: this.ctx.strings.noData }));
    } else {
      this.body.querySelector('p.empty')?.remove();
    }
    this.repaint();
  }

  private makeGrid(fb: string, gfn: number, pages: number): FbGrid {
    const cols = gridColumns(pages);
    const rows = Math.max(1, Math.ceil(pages / cols));
    const canvas = el('canvas', { class: 'bitmap', 'data-fb': fb, 'data-pages': pages, 'data-cols': cols, tabindex: 0, 'aria-label': `${this.ctx.strings.bitmaps}: ${fb}` });
    const off = document.createElement('canvas');
    off.width = cols;
    off.height = rows;
    const legend = el('div', { class: 'legend' });
    const info = el('div', { class: 'page-info mono', 'aria-live': 'polite', 'data-fb': fb });
    const title = el('div', { class: 'fb-title' }, el('span', { class: 'fb-name', text: fb }), el('span', { class: 'muted', text: ` ${pages} pages at gfn ${hex(gfn)}` }));
    const wrap = el('div', { class: 'fb-grid' }, title, canvas, info, legend);
    this.body.append(wrap);
    canvas.addEventListener('click', (e) => {
      const g = this.grids.get(fb);
      const page = g ? this.pageAt(g, e) : null;
      if (g && page !== null) {
        this.ctx.select({ fb, page, gfn: g.gfn + page });
      }
    });
    canvas.addEventListener('mousemove', (e) => {
      const g = this.grids.get(fb);
      const page = g ? this.pageAt(g, e) : null;
      if (g && page !== g.hover) {
        g.hover = page;
        this.updateInfo(g);
      }
    });
    canvas.addEventListener('mouseleave', () => {
      const g = this.grids.get(fb);
      if (g && g.hover !== null) {
        g.hover = null;
        this.updateInfo(g);
      }
    });
    return {
      fb, gfn, pages, cols, rows, state: new Uint8Array(pages), lastAnswerLine: null, wrap, canvas, off, image: null, legend, info, hover: null, late: new Set(),
      cell: 1, blocks: null, tracker: null,
    };
  }

  /**
   * The page under a pointer event; null outside the pages. In a block image (a pixel per k × k
   * pages), the page that gives the pixel its colour: the block's most telling one (the first of
   * them), so pointing at a red pixel names, and a click selects, the missed page.
   */
  private pageAt(g: FbGrid, e: MouseEvent): number | null {
    const r = g.canvas.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) {
      return null;
    }
    const px = Math.floor((e.clientX - r.left) * (g.canvas.width / r.width));
    const py = Math.floor((e.clientY - r.top) * (g.canvas.height / r.height));
    if (g.cell < 1) {
      return this.blockPage(g, px, py, Math.round(1 / g.cell));
    }
    const x = Math.floor(px / g.cell);
    const y = Math.floor(py / g.cell);
    const page = y * g.cols + x;
    return x >= 0 && x < g.cols && page >= 0 && page < g.pages ? page : null;
  }

  /** The most telling page of block (bx, by) of k × k pages (the first such in page order); null for a block past the pages. */
  private blockPage(g: FbGrid, bx: number, by: number, k: number): number | null {
    let best: number | null = null;
    let bestRank = -1;
    for (let row = by * k; row < Math.min(g.rows, by * k + k); row++) {
      for (let c = bx * k; c < Math.min(g.cols, bx * k + k); c++) {
        const p = row * g.cols + c;
        if (bx < 0 || by < 0 || p >= g.pages) {
          continue;
        }
        const rank = RANK_OF[g.state[p] & 127];
        if (rank > bestRank) {
          best = p;
          bestRank = rank;
        }
      }
    }
    return best;
  }

  /** Machine frames of framebuffer pages at `mfnStep`, by gfn (null: not backed; undefined in the map: not asked yet). */
  private readonly mfns = new Map<number, number | null | 'pending' | 'failed'>();
  private mfnStep = -1;

  /** The machine frame behind `gfn`, asked of the host once per step (a one-entry p2m request). */
  private mfnOf(g: FbGrid, gfn: number): number | null | 'pending' | 'failed' {
    const known = this.mfns.get(gfn);
    if (known !== undefined) {
      return known;
    }
    const dom = findFb(this.ctx.summary, g.fb)?.dom;
    if (dom === undefined) {
      return 'failed';
    }
    this.mfns.set(gfn, 'pending');
    const step = this.mfnStep;
    this.ctx.rpc.request('p2m', { dom, gfn, count: 1 }).then((r) => {
      if (this.mfnStep === step) {
        this.mfns.set(gfn, r.entries[0]?.gfn === gfn ? r.entries[0].mfn : 'failed');
      }
    }, () => {
      if (this.mfnStep === step) {
        this.mfns.set(gfn, 'failed');
      }
    }).finally(() => {
      const now = this.grids.get(g.fb);
      if (this.mfnStep === step && now) {
        this.updateInfo(now);
      }
    });
    return 'pending';
  }

  /** The details of one page: where it is, and every state the model gives it. */
  pageDetails(g: FbGrid, page: number): { where: string; states: string[] } {
    const s = g.state[page] ?? 0;
    const gfn = g.gfn + page;
    const mfn = this.mfnOf(g, gfn);
    const mfnText = mfn === 'pending' ? 'mfn …' : mfn === 'failed' ? 'mfn ?' : mfn === null ? 'not backed' : `mfn ${hex(mfn)}`;
    const k = g.cell < 1 ? Math.round(1 / g.cell) : 1;
    const where = `${g.fb} page ${page} of ${g.pages} · gfn ${hex(gfn)} · ${mfnText}${k > 1 ? ` · the most telling page of a ${k}×${k} block` : ''}`;
    const answer = g.lastAnswerLine !== null ? ` (line ${g.lastAnswerLine})` : '';
    const states: string[] = [];
    if (s & PAGE_WRITTEN) { states.push('written since the last answer'); }
    if (s & PAGE_REPORTED) { states.push(`reported by the last answer${answer}`); }
    if (s & PAGE_MISSED) { states.push('missed: changed but not reported'); }
    if (g.late.has(page)) { states.push(`late: missed before, reported by the last answer${answer}`); }
    if (s & PAGE_EXTRA) { states.push('extra: reported but not written'); }
    if (s & PAGE_WRITABLE) { states.push('writable mapping'); }
    if (s & PAGE_STALE_SCREEN) { states.push('screen stale'); }
    if (s & PAGE_DIFFERS) { states.push('differs from the device model\'s copy'); }
    if (!(s & (PAGE_WRITTEN | PAGE_REPORTED | PAGE_MISSED | PAGE_EXTRA)) && !g.late.has(page)) {
      states.unshift('clean');
    }
    return { where, states };
  }

  /** The status line under a grid: the hovered page, else the selected one, else a hint. */
  private updateInfo(g: FbGrid): void {
    const sel = this.ctx.selection;
    const page = g.hover ?? (sel.fb === g.fb && sel.page !== null && sel.page < g.pages ? sel.page : null);
    const info = g.info;
    clear(info);
    info.classList.toggle('hovered', g.hover !== null);
    if (page === null) {
      delete info.dataset.page;
      info.append(el('span', { class: 'muted', text: 'Point at a page, or select one with [ ] ↑ ↓, for its details.' }));
      return;
    }
    const d = this.pageDetails(g, page);
    info.dataset.page = String(page);
    info.append(el('span', { class: 'page-where', text: d.where }), ' — ', el('span', { class: 'page-states', text: d.states.join(', ') }));
  }

  private updateLegend(g: FbGrid): void {
    const counts = { written: 0, reported: 0, missed: 0, extra: 0 };
    for (let p = 0; p < g.pages; p++) {
      const s = g.state[p] ?? 0;
      if (s & PAGE_WRITTEN) { counts.written++; }
      if (s & PAGE_REPORTED) { counts.reported++; }
      if (s & PAGE_MISSED) { counts.missed++; }
      if (s & PAGE_EXTRA) { counts.extra++; }
    }
    clear(g.legend);
    const s = this.ctx.strings;
    for (const k of ['written', 'reported', 'missed', 'extra'] as const) {
      g.legend.append(el('span', { class: `key key-${k}`, 'data-count': counts[k] }, el('span', { class: `swatch swatch-${k}` }), `${s[k]} ${counts[k]}`));
    }
    if (g.lastAnswerLine !== null) {
      g.legend.append(el('span', { class: 'muted', text: `last answer: line ${g.lastAnswerLine}` }));
    }
    if (g.tracker) {
      const fields = Object.entries(g.tracker.fields).map(([k, v]) => `${k}=${String(v)}`).join(' ');
      g.legend.append(el('span', { class: 'tracker-fields muted mono', text: `${g.tracker.tracker}${fields ? ': ' + fields : ''}` }));
    }
  }

  repaint(): void {
    this.buildLut();
    const width = Math.max(64, this.body.clientWidth - 8);
    for (const g of this.grids.values()) {
      this.draw(g, width);
      this.updateInfo(g);
    }
  }

  /** Draws one grid: a pixel per page scaled to whole-pixel cells, or a pixel per block of pages when the panel is narrower. */
  draw(g: FbGrid, width: number): void {
    const t0 = performance.now();
    const octx = g.off.getContext('2d');
    const vctx = g.canvas.getContext('2d');
    if (!octx || !vctx) {
      return;
    }
    if (width < g.cols) {
      // Narrower than one pixel a page: a pixel per block of k × k pages, in the colour of the
      // block's most telling page (missed, extra, written, reported, clean) — scaling the page
      // image down instead would drop isolated missed pages.
      this.drawBlocks(g, Math.ceil(g.cols / width), vctx, octx);
    } else {
      this.drawPages(g, width, vctx, octx);
    }
    const sel = this.ctx.selection;
    if (sel.fb === g.fb && sel.page !== null && sel.page < g.pages) {
      const cell = g.cell;
      const x = Math.floor((sel.page % g.cols) * cell);
      const y = Math.floor(Math.floor(sel.page / g.cols) * cell);
      const side = Math.max(1, cell);
      vctx.strokeStyle = this.ctx.palette.focus;
      vctx.lineWidth = 2;
      vctx.strokeRect(x - 1, y - 1, side + 2, side + 2);
    }
    this.lastDrawMs = performance.now() - t0;
    performance.measure('xpl-bitmap-draw', { start: t0, end: performance.now() });
  }

  /** One pixel per page in `g.off`, scaled by whole pixels without smoothing (a grid line between cells of 6 px and more). */
  private drawPages(g: FbGrid, width: number, vctx: CanvasRenderingContext2D, octx: CanvasRenderingContext2D): void {
    if (!g.image) {
      g.image = octx.createImageData(g.cols, g.rows);
    }
    const px = new Uint32Array(g.image.data.buffer);
    const lut = this.lut;
    const state = g.state;
    const n = g.pages;
    for (let p = 0; p < n; p++) {
      px[p] = lut[state[p] & 127];
    }
    px.fill(packRgba(toRgba(this.ctx.palette.background)), n);
    octx.putImageData(g.image, 0, 0);
    const cell = Math.max(1, Math.min(24, Math.floor(width / g.cols)));
    g.cell = cell;
    const cw = g.cols * cell;
    const ch = g.rows * cell;
    if (g.canvas.width !== cw || g.canvas.height !== ch) {
      g.canvas.width = cw;
      g.canvas.height = ch;
    }
    g.canvas.dataset.cell = String(cell);
    vctx.imageSmoothingEnabled = false;
    vctx.drawImage(g.off, 0, 0, cw, ch);
    if (cell >= 6) {
      vctx.strokeStyle = this.ctx.palette.background;
      vctx.lineWidth = 1;
      vctx.beginPath();
      for (let c = 1; c < g.cols; c++) {
        vctx.moveTo(c * cell + 0.5, 0);
        vctx.lineTo(c * cell + 0.5, ch);
      }
      for (let r = 1; r < g.rows; r++) {
        vctx.moveTo(0, r * cell + 0.5);
        vctx.lineTo(cw, r * cell + 0.5);
      }
      vctx.stroke();
    }
  }

  /** A pixel per block of k × k pages, coloured by the block's highest-ranked page. */
  private drawBlocks(g: FbGrid, k: number, vctx: CanvasRenderingContext2D, octx: CanvasRenderingContext2D): void {
    const bw = Math.ceil(g.cols / k);
    const bh = Math.ceil(g.rows / k);
    if (!g.blocks || g.blocks.width !== bw || g.blocks.height !== bh) {
      g.blocks = octx.createImageData(bw, bh);
    }
    const out = new Uint32Array(g.blocks.data.buffer);
    // Per block the state of its highest-ranked page so far, and that rank (-1: no page yet).
    const best = new Uint8Array(bw * bh);
    const bestRank = new Int8Array(bw * bh).fill(-1);
    const state = g.state;
    const cols = g.cols;
    for (let row = 0, p = 0; p < g.pages; row++) {
      const base = Math.floor(row / k) * bw;
      for (let c = 0; c < cols && p < g.pages; c++, p++) {
        const s = state[p] & 127;
        const r = RANK_OF[s];
        const b = base + Math.floor(c / k);
        if (r > bestRank[b]) {
          bestRank[b] = r;
          best[b] = s;
        }
      }
    }
    const bgPacked = packRgba(toRgba(this.ctx.palette.background));
    for (let b = 0; b < best.length; b++) {
      out[b] = bestRank[b] < 0 ? bgPacked : this.lut[best[b]];
    }
    g.cell = 1 / k;
    if (g.canvas.width !== bw || g.canvas.height !== bh) {
      g.canvas.width = bw;
      g.canvas.height = bh;
    }
    g.canvas.dataset.cell = String(g.cell);
    vctx.putImageData(g.blocks, 0, 0);
  }

  onKey(e: KeyboardEvent): boolean {
    const sel = this.ctx.selection;
    const g = sel.fb ? this.grids.get(sel.fb) : this.grids.values().next().value;
    if (!g) {
      return false;
    }
    const delta: Record<string, number> = { '[': -1, ']': 1, ArrowUp: -g.cols, ArrowDown: g.cols };
    if (!(e.key in delta)) {
      return false;
    }
    const cur = sel.fb === g.fb && sel.page !== null ? sel.page : 0;
    const page = Math.max(0, Math.min(g.pages - 1, cur + delta[e.key]));
    this.ctx.select({ fb: g.fb, page, gfn: g.gfn + page });
    return true;
  }

  exportData(): ExportData {
    const rows: (string | number | boolean)[][] = [];
    const json: Record<string, unknown> = {};
    for (const g of this.grids.values()) {
      const pages: Record<string, number[]> = { written: [], reported: [], missed: [], extra: [] };
      for (let p = 0; p < g.pages; p++) {
        const s = g.state[p];
        if (s) {
          rows.push([g.fb, p, g.gfn + p, !!(s & PAGE_WRITTEN), !!(s & PAGE_REPORTED), !!(s & PAGE_MISSED), !!(s & PAGE_EXTRA), !!(s & PAGE_WRITABLE), !!(s & PAGE_STALE_SCREEN)]);
        }
        for (const [k, bit] of [['written', PAGE_WRITTEN], ['reported', PAGE_REPORTED], ['missed', PAGE_MISSED], ['extra', PAGE_EXTRA]] as const) {
          if (s & bit) {
            pages[k].push(p);
          }
        }
      }
      json[g.fb] = { gfn: g.gfn, pages: g.pages, lastAnswerLine: g.lastAnswerLine, ...pages };
    }
    return { name: 'dirty-bitmaps', header: ['fb', 'page', 'gfn', 'written', 'reported', 'missed', 'extra', 'writable', 'staleScreen'], rows, json: { step: this.ctx.step, framebuffers: json } };
  }

  exportSvg(): SVGSVGElement {
    return canvasSvg(this.ctx.palette, `${this.ctx.strings.bitmaps} — step ${this.ctx.step}`, [...this.grids.values()].map((g) => ({ canvas: g.canvas, label: g.fb })));
  }

  /** For the bench and tests: a grid by framebuffer name. */
  grid(fb: string): FbGrid | undefined {
    return this.grids.get(fb);
  }
}

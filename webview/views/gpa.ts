/**
 * Guest-physical map: a strip over a domain's frames, coloured by what each frame is (RAM, a
 * framebuffer's range, a page-table frame) and, once zoomed in to at most P2M_ENTRIES_MAX (4096) frames, by p2m type.
 * One d3.zoom drives the canvas (redrawn in requestAnimationFrame) and the SVG axis; from 4 GiB down
 * to single frames.
 */
import { axisBottom, scaleLinear, select, zoom, zoomIdentity, type ZoomBehavior, type ZoomTransform } from 'd3';
import { P2M_ENTRIES_MAX, type Domain, type EptEntry } from '../../src/shared/protocol';
import type { Ctx, ExportData, View } from '../context';
import { fbOfGfn } from '../context';
import { clear, el, hex } from '../dom';
import { canvasSvg, svgEl } from '../export';

const STRIP_H = 28;
const P2M_H = 14;
const AXIS_H = 22;
/** p2m types show once the window is at most this many frames (what one request answers). */
const P2M_WINDOW = P2M_ENTRIES_MAX;

export type FrameKind = 'ptFrame' | 'framebuffer' | 'ram' | 'unmapped';

export function frameKind(d: Domain, ptSorted: number[], gfn: number): FrameKind {
  if (binaryHas(ptSorted, gfn, gfn + 1)) {
    return 'ptFrame';
  }
  if (d.framebuffers.some((f) => gfn >= f.gfn && gfn < f.gfn + f.pages)) {
    return 'framebuffer';
  }
  return gfn < d.memBytes / 4096 ? 'ram' : 'unmapped';
}

/** Whether the sorted array has a value in [lo, hi). */
function binaryHas(a: number[], lo: number, hi: number): boolean {
  let l = 0;
  let h = a.length;
  while (l < h) {
    const m = (l + h) >> 1;
    if (a[m] < lo) {
      l = m + 1;
    } else {
      h = m;
    }
  }
  return l < a.length && a[l] < hi;
}

export class GpaView implements View {
  readonly id = 'gpa' as const;
  private readonly body: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly axis: SVGSVGElement;
  private readonly domSelect: HTMLSelectElement;
  private readonly info: HTMLElement;
  private dom: Domain | null = null;
  private pt: number[] = [];
  private transform: ZoomTransform = zoomIdentity;
  private readonly zoomer: ZoomBehavior<HTMLCanvasElement, unknown>;
  private p2m: { gfn: number; entries: EptEntry[]; step: number } | null = null;
  private p2mPending = false;
  private frameReq = 0;
  private width = 600;

  constructor(private readonly ctx: Ctx, readonly section: HTMLElement) {
    this.body = section.querySelector('.view-body') as HTMLElement;
    this.domSelect = el('select', { 'aria-label': 'domain' });
    this.domSelect.addEventListener('change', () => {
      this.ctx.select({ dom: this.domSelect.value });
      this.transform = zoomIdentity;
      void this.refresh();
    });
    section.querySelector('.view-tools')?.append(this.domSelect);
    this.canvas = el('canvas', { class: 'gpa', tabindex: 0, 'aria-label': ctx.strings.gpaMap });
    this.axis = svgEl('svg', { class: 'gpa-axis' });
    this.info = el('div', { class: 'gpa-info muted' });
    const legend = el('div', { class: 'legend' });
    for (const k of ['ram', 'framebuffer', 'ptFrame'] as const) {
      legend.append(el('span', { class: 'key' }, el('span', { class: `swatch swatch-${k}` }), ctx.strings[k]));
    }
    for (const k of ['ram_logdirty', 'mmio_dm', 'ioreq_server'] as const) {
      legend.append(el('span', { class: 'key' }, el('span', { class: `swatch swatch-${k}` }), k));
    }
    this.body.append(this.canvas, this.axis, legend, this.info);
    this.zoomer = zoom<HTMLCanvasElement, unknown>().on('zoom', (ev: { transform: ZoomTransform }) => {
      this.transform = ev.transform;
      this.schedule();
    }).on('end', () => this.ctx.persist());
    select(this.canvas).call(this.zoomer).on('dblclick.zoom', null);
    this.canvas.addEventListener('click', (e) => {
      const g = this.gfnAt(e.clientX - this.canvas.getBoundingClientRect().left);
      if (g !== null) {
        const hit = fbOfGfn(this.ctx.summary, g);
        this.ctx.select(hit ? { dom: hit.dom, gfn: g, fb: hit.fb, page: hit.page } : { gfn: g, fb: null, page: null });
      }
    });
  }

  private frames(): number {
    const d = this.dom;
    if (!d) {
      return 1;
    }
    let n = d.memBytes / 4096;
    for (const f of d.framebuffers) {
      n = Math.max(n, f.gfn + f.pages);
    }
    return Math.max(1, Math.ceil(n));
  }

  private scale(): (g: number) => number {
    const base = scaleLinear().domain([0, this.frames()]).range([0, this.width]);
    return this.transform.rescaleX(base);
  }

  private gfnAt(px: number): number | null {
    const x = this.scale() as unknown as { invert(v: number): number };
    const g = Math.floor(x.invert(px));
    return g >= 0 && g < this.frames() ? g : null;
  }

  async refresh(): Promise<void> {
    const doms = this.ctx.summary?.domains ?? [];
    const want = this.ctx.selection.dom ?? this.domSelect.value;
    this.dom = doms.find((d) => d.name === want) ?? doms[0] ?? null;
    clear(this.domSelect);
    for (const d of doms) {
      this.domSelect.append(el('option', { value: d.name, text: d.name, selected: d === this.dom }));
    }
    this.pt = this.dom ? [...this.dom.ptFrames].sort((a, b) => a - b) : [];
    this.setExtents();
    this.p2m = null;
    await this.loadP2m();
    this.repaint();
  }

  /** Asks for p2m types when the visible window is small enough. */
  private async loadP2m(): Promise<void> {
    const d = this.dom;
    if (!d || this.p2mPending) {
      return;
    }
    const x = this.scale() as unknown as { invert(v: number): number };
    const lo = Math.max(0, Math.floor(x.invert(0)));
    const hi = Math.min(this.frames(), Math.ceil(x.invert(this.width)));
    if (hi - lo > P2M_WINDOW || hi <= lo) {
      return;
    }
    if (this.p2m && this.p2m.step === this.ctx.step && lo >= this.p2m.gfn && hi <= this.p2m.gfn + this.p2m.entries.length) {
      return;
    }
    this.p2mPending = true;
    try {
      const r = await this.ctx.rpc.request('p2m', { dom: d.name, gfn: lo, count: hi - lo });
      this.p2m = { gfn: lo, entries: r.entries, step: this.ctx.step };
    } catch {
      this.p2m = null;
    } finally {
      this.p2mPending = false;
    }
  }

  private schedule(): void {
    if (this.frameReq) {
      return;
    }
    this.frameReq = requestAnimationFrame(() => {
      this.frameReq = 0;
      this.draw();
      void this.loadP2m().then(() => this.draw());
    });
  }

  repaint(): void {
    const width = Math.max(200, this.body.clientWidth - 4);
    if (width !== this.width) {
      // The zoom's limits are in pixels: a resized panel needs them anew, or a zoom out after a
      // widening could pan before gfn 0.
      this.width = width;
      this.setExtents();
    }
    this.draw();
  }

  /** The zoom's limits for the current width: no wider than all frames, no closer than 16 px a frame. */
  private setExtents(): void {
    const maxK = Math.max(1, this.frames() / Math.max(1, this.width / 16));
    this.zoomer.scaleExtent([1, maxK]).translateExtent([[0, 0], [this.width, STRIP_H]]);
  }

  private draw(): void {
    const p = this.ctx.palette;
    const c = this.canvas;
    const h = STRIP_H + P2M_H;
    if (c.width !== this.width || c.height !== h) {
      c.width = this.width;
      c.height = h;
    }
    const g = c.getContext('2d');
    if (!g) {
      return;
    }
    g.fillStyle = p.background;
    g.fillRect(0, 0, c.width, h);
    const d = this.dom;
    if (!d) {
      return;
    }
    const x = this.scale() as unknown as ((v: number) => number) & { invert(v: number): number };
    const colour: Record<FrameKind, string> = { ptFrame: p.ptFrame, framebuffer: p.framebuffer, ram: p.ram, unmapped: p.background };
    const p2mColour: Record<EptEntry['type'], string> = { ram_rw: p.ram, ram_logdirty: p.logdirty, mmio_dm: p.mmio, ioreq_server: p.ioreq, invalid: p.background };
    const frames = this.frames();
    const ramEnd = d.memBytes / 4096;
    for (let px = 0; px < this.width; px++) {
      if (x.invert(px + 1) <= 0) {
        // Left of gfn 0: nothing there.
        continue;
      }
      const lo = Math.max(0, Math.floor(x.invert(px)));
      const hi = Math.min(frames, Math.max(lo + 1, Math.floor(x.invert(px + 1))));
      if (lo >= frames) {
        break;
      }
      // Level of detail: a column covering many frames shows the most specific kind among them.
      let kind: FrameKind = lo < ramEnd ? 'ram' : 'unmapped';
      if (binaryHas(this.pt, lo, hi)) {
        kind = 'ptFrame';
      } else if (d.framebuffers.some((f) => f.gfn < hi && f.gfn + f.pages > lo)) {
        kind = 'framebuffer';
      }
      g.fillStyle = colour[kind];
      g.fillRect(px, 0, 1, STRIP_H);
      const pm = this.p2m;
      if (pm && lo >= pm.gfn && lo < pm.gfn + pm.entries.length) {
        g.fillStyle = p2mColour[pm.entries[lo - pm.gfn].type];
        g.fillRect(px, STRIP_H + 2, 1, P2M_H - 2);
      }
    }
    // Frame boundaries when zoomed in far enough to see single frames.
    const fw = x(1) - x(0);
    if (fw >= 6) {
      g.fillStyle = p.background;
      for (let f = Math.floor(x.invert(0)); f <= Math.ceil(x.invert(this.width)); f++) {
        g.fillRect(Math.round(x(f)), 0, 1, h);
      }
    }
    const sel = this.ctx.selection.gfn;
    if (sel !== null) {
      g.strokeStyle = p.focus;
      g.lineWidth = 2;
      g.strokeRect(x(sel) - 1, 1, Math.max(2, fw) + 2, h - 2);
    }
    const axisSvg = select(this.axis).attr('width', this.width).attr('height', AXIS_H);
    axisSvg.selectAll('*').remove();
    const ag = axisSvg.append('g').call(axisBottom(scaleLinear().domain([x.invert(0), x.invert(this.width)]).range([0, this.width])).ticks(6).tickFormat((v) => hex(Math.floor(Number(v)))));
    ag.selectAll('text').attr('fill', p.muted);
    ag.selectAll('line,path').attr('stroke', p.border);
    const lo = Math.max(0, Math.floor(x.invert(0)));
    const hi = Math.min(frames, Math.ceil(x.invert(this.width)));
    this.info.textContent = `${d.name}: gfn ${hex(lo)}–${hex(hi)} (${hi - lo} frames)` + (sel !== null ? ` · selected gfn ${hex(sel)} (${frameKind(d, this.pt, sel)})` : '') + (hi - lo > P2M_WINDOW ? ' · zoom in for p2m types' : '');
    c.dataset.domain = `${x.invert(0)},${x.invert(this.width)}`;
    c.dataset.lo = String(lo);
    c.dataset.hi = String(hi);
  }

  /** Zoom by a factor around the centre, or to the selected page / framebuffer (`z`). */
  zoomBy(k: number): void {
    select(this.canvas).call(this.zoomer.scaleBy, k);
  }

  zoomReset(): void {
    select(this.canvas).call(this.zoomer.transform, zoomIdentity);
  }

  zoomToSelection(): void {
    const s = this.ctx.selection;
    const d = this.dom;
    if (!d) {
      return;
    }
    const f = d.framebuffers.find((fb) => fb.name === s.fb);
    const [lo, hi] = s.gfn !== null ? [s.gfn - 8, s.gfn + 8] : f ? [f.gfn, f.gfn + f.pages] : [0, this.frames()];
    const k = Math.max(1, this.frames() / Math.max(1, hi - lo));
    const base = scaleLinear().domain([0, this.frames()]).range([0, this.width]);
    select(this.canvas).call(this.zoomer.transform, zoomIdentity.scale(k).translate(-base(Math.max(0, lo)), 0));
  }

  onKey(e: KeyboardEvent): boolean {
    if (e.key === '+' || e.key === '=') {
      this.zoomBy(2);
    } else if (e.key === '-') {
      this.zoomBy(0.5);
    } else if (e.key === '0') {
      this.zoomReset();
    } else if (e.key === 'z') {
      this.zoomToSelection();
    } else {
      return false;
    }
    return true;
  }

  saveState(): unknown {
    return { k: this.transform.k, x: this.transform.x, dom: this.dom?.name ?? null };
  }

  restoreState(s: unknown): void {
    if (typeof s === 'object' && s !== null) {
      const o = s as { k?: unknown; x?: unknown };
      if (typeof o.k === 'number' && typeof o.x === 'number' && Number.isFinite(o.k) && Number.isFinite(o.x) && o.k >= 1) {
        this.transform = zoomIdentity.translate(o.x, 0).scale(o.k);
        select(this.canvas).property('__zoom', this.transform);
      }
    }
  }

  exportData(): ExportData {
    const d = this.dom;
    const rows: (string | number)[][] = [];
    if (d) {
      rows.push(['ram', hex(0), d.memBytes / 4096]);
      for (const f of d.framebuffers) {
        rows.push([`framebuffer ${f.name}`, hex(f.gfn), f.pages]);
      }
      for (const g of this.pt) {
        rows.push(['page-table frame', hex(g), 1]);
      }
      if (this.p2m) {
        this.p2m.entries.forEach((e) => {
          if (e.type !== 'ram_rw') {
            rows.push([`p2m ${e.type}`, hex(e.gfn), 1]);
          }
        });
      }
    }
    return { name: 'guest-physical-map', header: ['kind', 'gfn', 'frames'], rows, json: { step: this.ctx.step, domain: d, p2m: this.p2m } };
  }

  exportSvg(): SVGSVGElement {
    return canvasSvg(this.ctx.palette, `${this.ctx.strings.gpaMap} — ${this.info.textContent ?? ''}`, [{ canvas: this.canvas }]);
  }
}

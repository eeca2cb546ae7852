/**
 * Screens: per framebuffer, side by side, the guest's real pixels and the device model's screen
 * after `refresh`. Where they differ (a lost update) the device-model side is overlaid with the
 * theme's error colour per stale page, so a stale region is visible at a glance.
 */
import type { ScreenWire } from '../../src/shared/protocol';
import type { Ctx, ExportData, View } from '../context';
import { clear, decodeBase64, el } from '../dom';
import { canvasSvg } from '../export';
import { toRgba } from '../theme';

/** Screens above this many pixels are not fetched (they would cost more than they show). */
const MAX_PIXELS = 4 << 20;

/** Pages (4 KiB of a 32 bpp framebuffer = 1024 pixels) where guest memory and the screen differ. */
export function stalePages(guest: Uint8Array, screen: Uint8Array): number[] {
  const out: number[] = [];
  const n = Math.max(guest.length, screen.length);
  for (let p = 0; p * 4096 < n; p++) {
    const lo = p * 4096;
    const hi = Math.min(n, lo + 4096);
    for (let i = lo; i < hi; i++) {
      if ((guest[i] ?? 0) !== (screen[i] ?? 0)) {
        out.push(p);
        break;
      }
    }
  }
  return out;
}

/** Consecutive runs [first, last] of a sorted page list. */
function runs(pages: number[]): [number, number][] {
  const out: [number, number][] = [];
  for (const p of pages) {
    const last = out[out.length - 1];
    if (last && last[1] + 1 === p) {
      last[1] = p;
    } else {
      out.push([p, p]);
    }
  }
  return out;
}

interface Shown { fb: string; width: number; height: number; stale: number[]; guest: HTMLCanvasElement; screen: HTMLCanvasElement; overlay: HTMLCanvasElement; pixels: { guest: Uint8Array; screen: Uint8Array } }

export class ScreensView implements View {
  readonly id = 'screens' as const;
  private readonly body: HTMLElement;
  private shown: Shown[] = [];

  constructor(private readonly ctx: Ctx, readonly section: HTMLElement) {
    this.body = section.querySelector('.view-body') as HTMLElement;
  }

  async refresh(): Promise<void> {
    if (this.section.classList.contains('collapsed')) {
      return;
    }
    const fbs = (this.ctx.summary?.domains ?? []).flatMap((d) => d.framebuffers).filter((f) => f.width > 0 && f.height > 0);
    const small = fbs.filter((f) => f.width * f.height <= MAX_PIXELS);
    const res = await Promise.all(small.map((f) => this.ctx.rpc.request('screen', { fb: f.name })));
    this.build(res, fbs.filter((f) => f.width * f.height > MAX_PIXELS).map((f) => f.name));
  }

  private build(res: ScreenWire[], tooBig: string[]): void {
    clear(this.body);
    this.shown = [];
    const s = this.ctx.strings;
    if (res.length === 0 && tooBig.length === 0) {
      this.body.append(el('p', { class: 'empty', text: s.noData }));
    }
    for (const r of res) {
      const guest = decodeBase64(r.guest);
      const screen = decodeBase64(r.screen);
      const stale = stalePages(guest, screen);
      const mk = (cls: string): HTMLCanvasElement => {
        const c = el('canvas', { class: cls, 'data-fb': r.fb });
        c.width = r.width;
        c.height = r.height;
        return c;
      };
      const shown: Shown = { fb: r.fb, width: r.width, height: r.height, stale, guest: mk('screen-guest'), screen: mk('screen-dm'), overlay: mk('screen-stale'), pixels: { guest, screen } };
      this.shown.push(shown);
      const label = el('div', { class: 'fb-title' }, el('span', { class: 'fb-name', text: r.fb }),
        el('span', { class: stale.length ? 'stale-count error' : 'stale-count muted', 'data-stale': stale.length, text: stale.length ? ` ${stale.length} ${s.stale} pages` : ' in sync' }));
      const pair = el('div', { class: 'screen-pair' },
        el('figure', {}, shown.guest, el('figcaption', { text: s.guestPixels })),
        el('figure', { class: 'dm' }, el('div', { class: 'stack' }, shown.screen, shown.overlay), el('figcaption', { text: `${s.dmScreen}${stale.length ? ` — ${s.staleRegion}` : ''}` })));
      this.body.append(el('div', { class: 'screen-row', 'data-fb': r.fb }, label, pair));
    }
    for (const fb of tooBig) {
      this.body.append(el('p', { class: 'muted', text: `${fb}: too large to show (${s.bitmaps} shows its pages)` }));
    }
    this.repaint();
  }

  private paint(c: HTMLCanvasElement, px: Uint8Array, w: number, h: number): void {
    const g = c.getContext('2d');
    if (!g) {
      return;
    }
    const img = g.createImageData(w, h);
    const d = img.data;
    // 0x00RRGGBB little-endian: bytes B, G, R, 0.
    for (let i = 0, n = w * h; i < n; i++) {
      d[i * 4] = px[i * 4 + 2] ?? 0;
      d[i * 4 + 1] = px[i * 4 + 1] ?? 0;
      d[i * 4 + 2] = px[i * 4] ?? 0;
      d[i * 4 + 3] = 255;
    }
    g.putImageData(img, 0, 0);
  }

  repaint(): void {
    const err = toRgba(this.ctx.palette.stale);
    const avail = Math.max(100, this.body.clientWidth - 40);
    for (const s of this.shown) {
      // Small screens are scaled up by whole pixels (CSS size only; the canvases keep their pixels).
      const scale = Math.max(1, Math.min(4, Math.floor(avail / 2 / s.width)));
      for (const c of [s.guest, s.screen, s.overlay]) {
        c.style.width = `${s.width * scale}px`;
        c.style.height = `${s.height * scale}px`;
      }
      this.paint(s.guest, s.pixels.guest, s.width, s.height);
      this.paint(s.screen, s.pixels.screen, s.width, s.height);
      const g = s.overlay.getContext('2d');
      if (!g) {
        continue;
      }
      g.clearRect(0, 0, s.width, s.height);
      g.fillStyle = `rgba(${err.r},${err.g},${err.b},0.55)`;
      g.strokeStyle = `rgb(${err.r},${err.g},${err.b})`;
      for (const p of s.stale) {
        // Page p covers pixels [p*1024, (p+1)*1024) in row-major order: possibly several row runs.
        const first = p * 1024;
        const last = Math.min(s.width * s.height, first + 1024) - 1;
        for (let y = Math.floor(first / s.width); y <= Math.floor(last / s.width); y++) {
          const x0 = y === Math.floor(first / s.width) ? first % s.width : 0;
          const x1 = y === Math.floor(last / s.width) ? (last % s.width) + 1 : s.width;
          g.fillRect(x0, y, x1 - x0, 1);
        }
      }
      // Outline each stale run of pages in the foreground colour, so the region shows whatever the pixels are.
      g.strokeStyle = this.ctx.palette.foreground;
      g.setLineDash([3, 2]);
      g.lineWidth = 1;
      for (const [a, b] of runs(s.stale)) {
        const y0 = Math.floor((a * 1024) / s.width);
        const y1 = Math.min(s.height, Math.ceil(((b + 1) * 1024) / s.width));
        g.strokeRect(0.5, y0 + 0.5, s.width - 1, Math.max(1, y1 - y0) - 1);
      }
      g.setLineDash([]);
    }
  }

  exportData(): ExportData {
    const rows = this.shown.flatMap((s) => s.stale.map((p) => [s.fb, p]));
    return { name: 'screens', header: ['fb', 'stalePage'], rows, json: { step: this.ctx.step, screens: this.shown.map((s) => ({ fb: s.fb, width: s.width, height: s.height, stalePages: s.stale })) } };
  }

  exportSvg(): SVGSVGElement {
    const parts: { canvas: HTMLCanvasElement; label?: string }[] = [];
    for (const s of this.shown) {
      const both = document.createElement('canvas');
      both.width = s.width * 2 + 8;
      both.height = s.height;
      const g = both.getContext('2d');
      if (g) {
        g.drawImage(s.guest, 0, 0);
        g.drawImage(s.screen, s.width + 8, 0);
        g.drawImage(s.overlay, s.width + 8, 0);
      }
      parts.push({ canvas: both, label: `${s.fb}: ${this.ctx.strings.guestPixels} | ${this.ctx.strings.dmScreen}` });
    }
    return canvasSvg(this.ctx.palette, `${this.ctx.strings.screens} — step ${this.ctx.step}`, parts);
  }
}

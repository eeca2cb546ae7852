/**
 * Export of the current view: PNG and SVG of what is drawn, CSV and JSON of the data. The webview
 * only builds the bytes; the host asks where to save (never overwriting without asking).
 * SVG is built as DOM (text via textContent) and serialized, so trace text stays text.
 */
import type { Cell, ExportData } from './context';
import type { Palette } from './theme';
import { encodeBase64 } from './dom';

const SVG_NS = 'http://www.w3.org/2000/svg';

export function svgEl<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number> = {}, text?: string): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    e.setAttribute(k, String(v));
  }
  if (text !== undefined) {
    e.textContent = text;
  }
  return e;
}

export function csvCell(c: Cell): string {
  let s = c === null ? '' : String(c);
  // A cell starting like a formula is neutralized so spreadsheets show it as text.
  if (/^[=+\-@\t\r]/.test(s) && !/^-?[0-9.]+$/.test(s)) {
    s = "'" + s;
  }
  return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

export function toCsv(d: ExportData): string {
  return [d.header, ...d.rows].map((r) => r.map(csvCell).join(',')).join('\r\n') + '\r\n';
}

function frame(p: Palette, width: number, height: number, title: string): SVGSVGElement {
  const svg = svgEl('svg', { xmlns: SVG_NS, width, height, viewBox: `0 0 ${width} ${height}` });
  svg.append(svgEl('rect', { width, height, fill: p.background }));
  svg.append(svgEl('text', { x: 8, y: 18, fill: p.foreground, 'font-family': 'sans-serif', 'font-size': 14 }, title));
  return svg;
}

/** A table as SVG text rows. */
export function tableSvg(p: Palette, title: string, header: string[], rows: Cell[][], maxRows = 200): SVGSVGElement {
  const shown = rows.slice(0, maxRows);
  const colW = 120;
  const width = Math.max(320, header.length * colW + 16);
  const height = 40 + (shown.length + 1) * 18 + (rows.length > maxRows ? 18 : 0);
  const svg = frame(p, width, height, title);
  const all = [header, ...shown.map((r) => r.map((c) => (c === null ? '' : String(c))))];
  all.forEach((r, i) => {
    r.forEach((c, j) => {
      svg.append(svgEl('text', { x: 8 + j * colW, y: 44 + i * 18, fill: i === 0 ? p.muted : p.foreground, 'font-family': 'monospace', 'font-size': 12 }, String(c)));
    });
  });
  if (rows.length > maxRows) {
    svg.append(svgEl('text', { x: 8, y: 44 + all.length * 18, fill: p.muted, 'font-family': 'sans-serif', 'font-size': 12 }, `… ${rows.length - maxRows} more rows`));
  }
  return svg;
}

/** Canvases embedded as images, with a title. */
export function canvasSvg(p: Palette, title: string, canvases: { canvas: HTMLCanvasElement; label?: string }[]): SVGSVGElement {
  let width = 320;
  let y = 30;
  const parts: SVGElement[] = [];
  for (const { canvas, label } of canvases) {
    if (label) {
      parts.push(svgEl('text', { x: 8, y: y + 12, fill: p.muted, 'font-family': 'sans-serif', 'font-size': 12 }, label));
      y += 18;
    }
    parts.push(svgEl('image', { x: 8, y, width: canvas.width, height: canvas.height, href: canvas.toDataURL('image/png') }));
    y += canvas.height + 8;
    width = Math.max(width, canvas.width + 16);
  }
  const svg = frame(p, width, y, title);
  svg.append(...parts);
  return svg;
}

export function svgText(svg: SVGSVGElement): string {
  return '<?xml version="1.0" encoding="UTF-8"?>\n' + new XMLSerializer().serializeToString(svg);
}

/** Rasterizes an SVG to PNG bytes (base64, without the data: prefix). */
export function svgToPng(svg: SVGSVGElement): Promise<string> {
  const w = Number(svg.getAttribute('width')) || 640;
  const h = Number(svg.getAttribute('height')) || 480;
  const url = 'data:image/svg+xml;base64,' + encodeBase64(new TextEncoder().encode(new XMLSerializer().serializeToString(svg)));
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => {
      const c = document.createElement('canvas');
      c.width = w;
      c.height = h;
      const g = c.getContext('2d');
      if (!g) {
        reject(new Error('no 2d context'));
        return;
      }
      g.drawImage(img, 0, 0);
      resolve(c.toDataURL('image/png').replace(/^data:image\/png;base64,/, ''));
    };
    img.onerror = () => reject(new Error('could not rasterize the view'));
    img.src = url;
  });
}

/**
 * Colours come only from VS Code's `--vscode-*` variables (with neutral fallbacks for when a theme
 * leaves one unset). Canvases cannot use CSS, so the palette is read here and re-read when the body's
 * theme class changes or the host says the theme changed.
 */
import { color } from 'd3';

export interface Rgba { r: number; g: number; b: number; a: number }
export interface Palette {
  kind: 'light' | 'dark' | 'highContrast' | 'highContrastLight';
  background: string; foreground: string; muted: string; border: string; focus: string;
  clean: string; written: string; reported: string; missed: string; extra: string; writable: string;
  ram: string; framebuffer: string; ptFrame: string; unmapped: string;
  logdirty: string; mmio: string; ioreq: string; invalid: string;
  flush: string; vmexit: string; fault: string; peek: string; violation: string; other: string;
  stale: string;
  series: string[];
}

function v(name: string, fallback: string): string {
  const s = getComputedStyle(document.documentElement).getPropertyValue(name).trim() || getComputedStyle(document.body).getPropertyValue(name).trim();
  return s || fallback;
}

export function themeKind(): Palette['kind'] {
  const c = document.body.classList;
  if (c.contains('vscode-high-contrast-light')) {
    return 'highContrastLight';
  }
  if (c.contains('vscode-high-contrast')) {
    return 'highContrast';
  }
  return c.contains('vscode-light') ? 'light' : 'dark';
}

export function readPalette(): Palette {
  const kind = themeKind();
  const light = kind === 'light' || kind === 'highContrastLight';
  const fg = v('--vscode-editor-foreground', light ? '#333333' : '#cccccc');
  const bg = v('--vscode-editor-background', light ? '#ffffff' : '#1e1e1e');
  const red = v('--vscode-charts-red', '#f14c4c');
  const blue = v('--vscode-charts-blue', '#3794ff');
  const yellow = v('--vscode-charts-yellow', '#cca700');
  const orange = v('--vscode-charts-orange', '#d18616');
  const green = v('--vscode-charts-green', '#89d185');
  const purple = v('--vscode-charts-purple', '#b180d7');
  return {
    kind,
    background: bg,
    foreground: fg,
    muted: v('--vscode-descriptionForeground', fg),
    border: v('--vscode-contrastBorder', '') || v('--vscode-editorWidget-border', light ? '#c8c8c8' : '#454545'),
    focus: v('--vscode-focusBorder', blue),
    clean: apartFrom(v('--vscode-input-background', light ? '#f3f3f3' : '#3c3c3c'), bg, fg),
    written: yellow,
    reported: blue,
    missed: red,
    // (Not orange: next to yellow's "written" it is hard to tell apart in light themes.)
    extra: purple,
    writable: green,
    ram: green,
    framebuffer: purple,
    ptFrame: orange,
    unmapped: bg,
    logdirty: yellow,
    mmio: purple,
    ioreq: blue,
    invalid: red,
    flush: blue,
    vmexit: orange,
    fault: yellow,
    peek: green,
    violation: red,
    other: v('--vscode-descriptionForeground', fg),
    stale: red,
    series: [blue, orange, green, purple, red, yellow],
  };
}

export function toRgba(css: string): Rgba {
  const c = color(css);
  if (!c) {
    return { r: 128, g: 128, b: 128, a: 255 };
  }
  const rgb = c.rgb();
  return { r: Math.round(rgb.r), g: Math.round(rgb.g), b: Math.round(rgb.b), a: Math.round((rgb.opacity ?? 1) * 255) };
}

/** Packs a colour for a little-endian Uint32Array view of ImageData (0xAABBGGRR). */
export function packRgba(c: Rgba): number {
  return ((c.a << 24) | (c.b << 16) | (c.g << 8) | c.r) >>> 0;
}

export function mix(a: Rgba, b: Rgba, t: number): Rgba {
  return { r: Math.round(a.r + (b.r - a.r) * t), g: Math.round(a.g + (b.g - a.g) * t), b: Math.round(a.b + (b.b - a.b) * t), a: 255 };
}

/**
 * `css`, unless it is (nearly) the background itself, as the input background is in Light Modern
 * and the high contrast themes (#ffffff on #ffffff, #000000 on #000000): then a shade of the
 * foreground over the background, so that a clean page is still a cell one can see and point at.
 */
export function apartFrom(css: string, bg: string, fg: string): string {
  const a = toRgba(css);
  const b = toRgba(bg);
  if (Math.max(Math.abs(a.r - b.r), Math.abs(a.g - b.g), Math.abs(a.b - b.b)) >= 16) {
    return css;
  }
  const m = mix(b, toRgba(fg), 0.14);
  return `rgb(${m.r}, ${m.g}, ${m.b})`;
}

/** Composites a possibly translucent theme colour over the background (canvas cells are opaque). */
export function opaque(css: string, over: string): Rgba {
  const c = toRgba(css);
  if (c.a === 255) {
    return c;
  }
  return mix(toRgba(over), { ...c, a: 255 }, c.a / 255);
}

/**
 * HTML for the Compare Trackers webview and the exported report. Everything from a trace (names,
 * notes, messages, file names) goes through `esc`: shown as text, never markup. No scripts at all.
 */
import type { Report } from '../sim/report';
import type { CompareRow } from '../trace/compare';

export function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c] as string));
}

/**
 * Text for a VS Code notification (`showErrorMessage` and the like), which turns `[label](target)`
 * into a link — a `command:` target runs a command when clicked. Text from a trace (an error quoting
 * its words) must stay text, so the pattern is broken with a zero-width space.
 */
export function plainMessage(s: string): string {
  return s.replace(/\]\(/g, ']\u200b(');
}

const fmt = (n: number): string => (Number.isFinite(n) ? n.toLocaleString('en-US') : String(n));

export interface CompareStrings {
  title: string; tracker: string; paging: string; answers: string; missed: string; extra: string; violations: string; expectsFailed: string;
  hypercalls: string; vmexits: string; tlbFlushes: string; guestCycles: string; dom0Cycles: string; cycles: string; chart: string; none: string;
}

export const COMPARE_STRINGS_EN: CompareStrings = {
  title: 'Compare trackers', tracker: 'Tracker', paging: 'Paging', answers: 'Answers', missed: 'Missed pages', extra: 'Extra pages', violations: 'Violations',
  expectsFailed: 'Failed expects', hypercalls: 'Hypercalls', vmexits: 'VM exits', tlbFlushes: 'TLB flushes', guestCycles: 'Guest cycles',
  dom0Cycles: 'Dom0 cycles', cycles: 'Total cycles', chart: 'Cycles by tracker (guest + dom0)', none: 'none',
};

export function compareTable(rows: readonly CompareRow[], s: CompareStrings): string {
  const head = [s.tracker, s.paging, s.answers, s.missed, s.extra, s.violations, s.expectsFailed, s.hypercalls, s.vmexits, s.tlbFlushes, s.guestCycles, s.dom0Cycles, s.cycles];
  const body = rows.map((r) => {
    if (r.error) {
      return `<tr data-tracker="${esc(r.tracker)}"><th scope="row">${esc(r.tracker)}</th><td>${esc(r.paging)}</td><td colspan="${head.length - 2}" class="error">${esc(r.error)}</td></tr>`;
    }
    const v = Object.entries(r.violations).map(([id, n]) => `${esc(id)}×${n}`).join(', ') || esc(s.none);
    const c = r.costs;
    const cells = [esc(r.paging), fmt(r.answers), fmt(r.missedPages), fmt(r.extraPages), v, fmt(r.expectsFailed), fmt(c.hypercalls), fmt(c.vmexits), fmt(c.tlbFlushes), fmt(c.guestCycles), fmt(c.dom0Cycles), fmt(c.cycles)];
    const bad = r.missedPages > 0 || Object.keys(r.violations).length > 0 ? ' class="bad"' : '';
    return `<tr data-tracker="${esc(r.tracker)}"${bad}><th scope="row">${esc(r.tracker)}</th>${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`;
  });
  return `<div class="scroll"><table class="compare"><thead><tr>${head.map((h) => `<th scope="col">${esc(h)}</th>`).join('')}</tr></thead><tbody>${body.join('')}</tbody></table></div>`;
}

/** A stacked horizontal bar chart (guest + dom0 cycles) as inline SVG, colours from the theme. */
export function compareChart(rows: readonly CompareRow[], s: CompareStrings): string {
  const ok = rows.filter((r) => !r.error);
  const max = Math.max(1, ...ok.map((r) => r.costs.cycles));
  const barH = 22;
  const labelW = 120;
  const width = 640;
  const plotW = width - labelW - 110;
  const height = ok.length * (barH + 8) + 30;
  const bars = ok.map((r, i) => {
    const y = i * (barH + 8) + 4;
    const gw = (r.costs.guestCycles / max) * plotW;
    const dw = (r.costs.dom0Cycles / max) * plotW;
    return `<g class="bar" data-tracker="${esc(r.tracker)}"><text x="${labelW - 8}" y="${y + barH * 0.7}" text-anchor="end" class="label">${esc(r.tracker)}</text>` +
      `<rect x="${labelW}" y="${y}" width="${gw.toFixed(1)}" height="${barH}" class="guest"><title>${esc(s.guestCycles)}: ${fmt(r.costs.guestCycles)}</title></rect>` +
      `<rect x="${(labelW + gw).toFixed(1)}" y="${y}" width="${dw.toFixed(1)}" height="${barH}" class="dom0"><title>${esc(s.dom0Cycles)}: ${fmt(r.costs.dom0Cycles)}</title></rect>` +
      `<text x="${(labelW + gw + dw + 6).toFixed(1)}" y="${y + barH * 0.7}" class="value">${fmt(r.costs.cycles)}</text></g>`;
  });
  const ly = ok.length * (barH + 8) + 18;
  const legend = `<rect x="${labelW}" y="${ly - 10}" width="12" height="12" class="guest"/><text x="${labelW + 16}" y="${ly}" class="label">${esc(s.guestCycles)}</text>` +
    `<rect x="${labelW + 130}" y="${ly - 10}" width="12" height="12" class="dom0"/><text x="${labelW + 146}" y="${ly}" class="label">${esc(s.dom0Cycles)}</text>`;
  return `<svg class="chart" role="img" aria-label="${esc(s.chart)}" viewBox="0 0 ${width} ${height}">${bars.join('')}${legend}</svg>`;
}

const THEMED_CSS = `
body { font-family: var(--vscode-font-family, sans-serif); font-size: var(--vscode-font-size, 13px); color: var(--vscode-foreground, #222); background: var(--vscode-editor-background, #fff); padding: 0 16px 16px; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { border: 1px solid var(--vscode-panel-border, #ccc); padding: 3px 8px; text-align: right; }
th[scope=row], thead th { text-align: left; }
tr.bad th[scope=row] { color: var(--vscode-errorForeground, #c00); }
td.error { color: var(--vscode-errorForeground, #c00); text-align: left; }
.chart { max-width: 640px; width: 100%; height: auto; }
.chart .guest { fill: var(--vscode-charts-blue, #3b7dd8); }
.chart .dom0 { fill: var(--vscode-charts-orange, #e08a2c); }
.chart text { fill: var(--vscode-foreground, #222); font-size: 12px; }
.meta { color: var(--vscode-descriptionForeground, #666); }
/* A wide table scrolls inside a narrow panel instead of being cut off at its edge. */
.scroll { overflow-x: auto; max-width: 100%; }
.fb { display: inline-block; margin: 0 16px 16px 0; vertical-align: top; }
.fb .written { fill: #e0a030; } .fb .reported { fill: #3b7dd8; } .fb .missed { fill: #d03030; } .fb .clean { fill: #8884; }
`;

/** The Compare Trackers page for a webview: no script, CSP with a nonce for the one style block. */
export function comparePage(opts: { trace: string; rows: readonly CompareRow[]; cspSource: string; nonce: string; strings: CompareStrings }): string {
  const { strings: s } = opts;
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src ${opts.cspSource}; style-src 'nonce-${opts.nonce}';">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(s.title)}</title>
<style nonce="${opts.nonce}">${THEMED_CSS}</style></head><body>
<h1>${esc(s.title)}</h1><p class="meta">${esc(opts.trace)}</p>
${compareTable(opts.rows, s)}
<h2>${esc(s.chart)}</h2>
${compareChart(opts.rows, s)}
</body></html>`;
}

/** Per-page state of one framebuffer for the report's snapshot. */
export interface FbSnapshot { fb: string; pages: number; state: Uint8Array; step: number }

/** Most cells a report grid draws: a bigger framebuffer is drawn with several pages per cell. */
const MAX_CELLS = 8192;

/** How many pages one cell of the report's grid stands for (1 up to MAX_CELLS pages). */
export function pagesPerCell(pages: number): number {
  return Math.max(1, Math.ceil(pages / MAX_CELLS));
}

/**
 * One framebuffer's pages as an SVG grid (64 cells per row): written, reported, missed, clean. A
 * framebuffer of more than MAX_CELLS pages (up to 262,144) is drawn whole with `pagesPerCell` pages
 * per cell, each cell in the colour of its most telling page (missed, then reported, then written)
 * and its tooltip counting each state.
 */
export function bitmapSvg(snap: FbSnapshot, bits: { written: number; reported: number; missed: number }): string {
  const perRow = 64;
  const cell = 8;
  const pages = Math.min(snap.pages, snap.state.length);
  const per = pagesPerCell(pages);
  const cells = Math.ceil(pages / per);
  const rows = Math.ceil(cells / perRow);
  const rects: string[] = [];
  for (let c = 0; c < cells; c++) {
    const first = c * per;
    const last = Math.min(pages, first + per) - 1;
    let missed = 0;
    let reported = 0;
    let written = 0;
    for (let i = first; i <= last; i++) {
      const b = snap.state[i];
      if (b & bits.missed) {
        missed++;
      } else if (b & bits.reported) {
        reported++;
      } else if (b & bits.written) {
        written++;
      }
    }
    const cls = missed ? 'missed' : reported ? 'reported' : written ? 'written' : 'clean';
    const title = per === 1
      ? `page ${first}: ${cls}`
      : `pages ${first}–${last}: ${missed} missed, ${reported} reported, ${written} written, ${last - first + 1 - missed - reported - written} clean`;
    rects.push(`<rect x="${(c % perRow) * cell}" y="${Math.floor(c / perRow) * cell}" width="${cell - 1}" height="${cell - 1}" class="${cls}"><title>${title}</title></rect>`);
  }
  return `<svg width="${perRow * cell}" height="${rows * cell}" viewBox="0 0 ${perRow * cell} ${rows * cell}">${rects.join('')}</svg>`;
}

/** A self-contained HTML report: the run's tables, and the framebuffers' page states as a snapshot. */
export function reportPage(opts: { report: Report; snapshots: readonly FbSnapshot[]; bits: { written: number; reported: number; missed: number }; generated: string; source: string }): string {
  const r = opts.report;
  const answers = r.answers.map((a) => `<tr><td>${a.line}</td><td>${esc(a.fb)}</td><td>${esc(a.refresh ? 'refresh' : 'peek')}</td><td>${esc(a.kind)}</td><td>${esc(a.dirty.join(','))}</td><td>${esc(a.written.join(','))}</td><td>${esc(a.missed.join(','))}</td><td>${esc(a.late.join(','))}</td><td>${esc(a.extra.join(','))}</td></tr>`).join('');
  const violations = r.violations.map((v) => `<tr><td>${v.line}</td><td>${esc(v.id)}</td><td>${esc(v.fb ?? '')}</td><td>${esc((v.pages ?? []).join(','))}</td><td style="text-align:left">${esc(v.message)}</td></tr>`).join('');
  const expects = r.expects.failed.map((f) => `<tr><td>${f.line}</td><td style="text-align:left">${esc(f.message)}</td></tr>`).join('');
  const costs = Object.entries(r.costs).map(([k, v]) => `<tr><th scope="row">${esc(k)}</th><td>${fmt(v)}</td></tr>`).join('');
  const fbs = opts.snapshots.map((s) => `<div class="fb"><h3>${esc(s.fb)} <span class="meta">(${s.pages} pages${pagesPerCell(s.pages) > 1 ? `, ${pagesPerCell(s.pages)} per cell` : ''}, after step ${s.step})</span></h3>${bitmapSvg(s, opts.bits)}</div>`).join('');
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline';">
<title>Xen Paging Lens report: ${esc(r.trace)}</title><style>${THEMED_CSS}</style></head><body>
<h1>Xen Paging Lens report</h1>
<p class="meta">${esc(r.trace)} · tracker ${esc(r.tracker)} · ${r.steps} steps · ${esc(opts.source)} · ${esc(opts.generated)}</p>
<h2>Framebuffers</h2><p class="meta">Legend: <svg width="10" height="10"><rect width="9" height="9" fill="#e0a030"/></svg> written · <svg width="10" height="10"><rect width="9" height="9" fill="#3b7dd8"/></svg> reported · <svg width="10" height="10"><rect width="9" height="9" fill="#d03030"/></svg> missed</p>
${fbs || '<p class="meta">No framebuffers.</p>'}
<h2>Answers (${r.answers.length})</h2>
${answers ? `<table><thead><tr><th>line</th><th>fb</th><th>by</th><th>kind</th><th>dirty</th><th>written</th><th>missed</th><th>late</th><th>extra</th></tr></thead><tbody>${answers}</tbody></table>` : '<p class="meta">No answers.</p>'}
<h2>Violations (${r.violations.length})</h2>
${violations ? `<table><thead><tr><th>line</th><th>id</th><th>fb</th><th>pages</th><th>message</th></tr></thead><tbody>${violations}</tbody></table>` : '<p class="meta">None.</p>'}
<h2>${r.expects.passed + r.expects.failed.length === 0 ? 'Expects: none' : `Expects: ${r.expects.passed} passed, ${r.expects.failed.length} failed`}</h2>
${expects ? `<table><tbody>${expects}</tbody></table>` : ''}
<h2>Costs</h2><table><tbody>${costs}</tbody></table>
</body></html>`;
}

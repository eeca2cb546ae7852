/** Costs: counters over time (a line per counter that moved) and the `xpl compare` table as a chart. */
import { axisBottom, axisLeft, line, max, scaleBand, scaleLinear, scaleSymlog, select } from 'd3';
import type { CompareRow, Costs } from '../../src/shared/protocol';
import type { Ctx, ExportData, View } from '../context';
import { clear, el } from '../dom';
import { svgEl } from '../export';
import type { Palette } from '../theme';

const H = 150;
const M = { left: 56, right: 120, top: 8, bottom: 22 };
const MAX_SERIES = 6;

export class CostsView implements View {
  readonly id = 'costs' as const;
  private readonly body: HTMLElement;
  private series: { step: number; costs: Costs }[] = [];
  private compare: CompareRow[] | null = null;
  private compareError: string | null = null;
  private readonly chart: SVGSVGElement;
  private readonly compareBox: HTMLElement;
  private readonly compareButton: HTMLButtonElement;

  constructor(private readonly ctx: Ctx, readonly section: HTMLElement) {
    this.body = section.querySelector('.view-body') as HTMLElement;
    this.chart = svgEl('svg', { class: 'costs-chart', role: 'img', 'aria-label': ctx.strings.costs });
    this.compareBox = el('div', { class: 'compare' });
    this.compareButton = el('button', { type: 'button', class: 'compare-run', text: `${ctx.strings.compare} (c)` });
    this.compareButton.addEventListener('click', () => void this.runCompare());
    section.querySelector('.view-tools')?.append(this.compareButton);
    this.body.append(this.chart, this.compareBox);
  }

  async refresh(): Promise<void> {
    const r = await this.ctx.rpc.request('costs', {});
    this.series = r.series;
    this.repaint();
  }

  /** A new source: its costs and comparison are not the previous one's. */
  reset(): void {
    this.series = [];
    this.compare = null;
    this.compareError = null;
  }

  async runCompare(): Promise<void> {
    this.compareButton.disabled = true;
    try {
      this.compare = (await this.ctx.rpc.request('compare', {})).rows;
      this.compareError = null;
    } catch (e) {
      this.compareError = e instanceof Error ? e.message : String(e);
    } finally {
      this.compareButton.disabled = false;
    }
    this.repaint();
  }

  /** Counters that moved, largest last value first (cycles shown on their own in the compare chart). */
  private moved(): string[] {
    const last = this.series[this.series.length - 1]?.costs ?? {};
    return Object.keys(last).filter((k) => !/cycles$/i.test(k) && last[k] > 0).sort((a, b) => last[b] - last[a]);
  }
  private counters(): string[] {
    return this.moved().slice(0, MAX_SERIES);
  }
  /** The counters at the current step: the last sample at or before it (none before the first). */
  private atStep(): Costs {
    let at: Costs = {};
    for (const s of this.series) {
      if (s.step <= this.ctx.step) {
        at = s.costs;
      }
    }
    return at;
  }

  repaint(): void {
    this.drawChart(this.chart, this.ctx.palette, Math.max(240, this.body.clientWidth - 4), true);
    this.drawCompare();
  }

  private drawChart(node: SVGSVGElement, p: Palette, width: number, live: boolean): void {
    const svg = select(node).attr('width', width).attr('height', H).attr('viewBox', `0 0 ${width} ${H}`);
    svg.selectAll('*').remove();
    if (!live) {
      svg.append('rect').attr('width', width).attr('height', H).attr('fill', p.background);
    }
    const keys = this.counters();
    if (this.series.length === 0 || keys.length === 0) {
      svg.append('text').attr('x', 8).attr('y', 20).attr('fill', p.muted).attr('font-size', 12).text(this.ctx.strings.noData);
      return;
    }
    const x = scaleLinear().domain([0, Math.max(1, this.ctx.total, this.series[this.series.length - 1].step)]).range([M.left, width - M.right]);
    // Symmetric log: counters differ by orders of magnitude (bytes copied vs. flushes).
    const y = scaleSymlog().domain([0, max(this.series, (s) => max(keys, (k) => s.costs[k] ?? 0)) ?? 1]).range([H - M.bottom, M.top]);
    const ax = svg.append('g').attr('transform', `translate(0,${H - M.bottom})`).call(axisBottom(x).ticks(8));
    const ay = svg.append('g').attr('transform', `translate(${M.left},0)`).call(axisLeft(y).ticks(4, '~s'));
    for (const a of [ax, ay]) {
      a.selectAll('text').attr('fill', p.muted);
      a.selectAll('line,path').attr('stroke', p.border);
    }
    // Labels give each counter's value at the current step (the cursor), not at the last sample.
    const now = this.atStep();
    keys.forEach((k, i) => {
      const c = p.series[i % p.series.length];
      const path = line<{ step: number; costs: Costs }>().x((d) => x(d.step)).y((d) => y(d.costs[k] ?? 0));
      svg.append('path').attr('class', 'series').attr('data-counter', k).attr('d', path(this.series) ?? '').attr('fill', 'none').attr('stroke', c).attr('stroke-width', 1.5);
      svg.append('text').attr('class', 'series-label').attr('data-counter', k).attr('x', width - M.right + 4).attr('y', M.top + 10 + i * 14).attr('fill', c).attr('font-size', 11).attr('font-family', 'sans-serif')
        .text(`${k} ${now[k] ?? 0}`);
    });
    const more = this.moved().length - keys.length;
    if (more > 0) {
      svg.append('text').attr('class', 'series-more').attr('x', width - M.right + 4).attr('y', M.top + 10 + keys.length * 14).attr('fill', p.muted).attr('font-size', 11).attr('font-family', 'sans-serif')
        .text(`+${more} more (export)`);
    }
    svg.append('line').attr('x1', x(this.ctx.step)).attr('x2', x(this.ctx.step)).attr('y1', M.top).attr('y2', H - M.bottom).attr('stroke', p.focus).attr('stroke-dasharray', '2 2');
  }

  private drawCompare(): void {
    clear(this.compareBox);
    const p = this.ctx.palette;
    if (this.compareError) {
      this.compareBox.append(el('p', { class: 'error', text: this.compareError }));
      return;
    }
    const rows = this.compare;
    if (!rows) {
      return;
    }
    const width = Math.max(240, this.body.clientWidth - 4);
    const height = rows.length * 20 + 30;
    const svg = svgEl('svg', { class: 'compare-chart', width, height });
    const ok = rows.filter((r) => !r.error);
    const x = scaleLinear().domain([0, max(ok, (r) => r.costs.cycles ?? 0) || 1]).range([0, width - 260]);
    const yb = scaleBand<string>().domain(rows.map((r) => r.tracker)).range([4, height - 24]).padding(0.2);
    const s = select(svg);
    for (const r of rows) {
      const yy = yb(r.tracker) ?? 0;
      s.append('text').attr('x', 4).attr('y', yy + yb.bandwidth() - 2).attr('fill', p.foreground).attr('font-size', 11).attr('font-family', 'monospace').text(r.tracker);
      if (r.error) {
        s.append('text').attr('x', 110).attr('y', yy + yb.bandwidth() - 2).attr('fill', p.violation).attr('font-size', 11).text(r.error);
        continue;
      }
      s.append('rect').attr('class', 'bar').attr('data-tracker', r.tracker).attr('x', 110).attr('y', yy).attr('height', yb.bandwidth()).attr('width', Math.max(1, x(r.costs.cycles ?? 0)))
        .attr('fill', r.missed > 0 || r.violations > 0 ? p.violation : p.reported);
      s.append('text').attr('x', 114 + x(r.costs.cycles ?? 0)).attr('y', yy + yb.bandwidth() - 2).attr('fill', p.muted).attr('font-size', 11)
        .text(`${r.costs.cycles ?? 0} cycles, ${r.missed} missed, ${r.extra} extra, ${r.violations} violations${r.paging ? ` (${r.paging})` : ''}`);
    }
    this.compareBox.append(svg);
  }

  exportData(): ExportData {
    if (this.compare) {
      const keys = [...new Set(this.compare.flatMap((r) => Object.keys(r.costs)))].sort();
      return {
        name: 'compare', header: ['tracker', 'paging', 'answers', 'missed', 'extra', 'violations', ...keys],
        rows: this.compare.map((r) => [r.tracker, r.paging ?? null, r.answers, r.missed, r.extra, r.violations, ...keys.map((k) => r.costs[k] ?? null)]),
        json: { compare: this.compare, series: this.series },
      };
    }
    const keys = [...new Set(this.series.flatMap((s) => Object.keys(s.costs)))].sort();
    return { name: 'costs', header: ['step', ...keys], rows: this.series.map((s) => [s.step, ...keys.map((k) => s.costs[k] ?? null)]), json: { series: this.series } };
  }

  exportSvg(): SVGSVGElement {
    const svg = svgEl('svg', { xmlns: 'http://www.w3.org/2000/svg' });
    this.drawChart(svg, this.ctx.palette, Math.max(480, this.body.clientWidth), false);
    return svg;
  }
}

/**
 * Timeline of every step: flushes, VM exits, faults, peeks and violations as marks in lanes. Click or
 * brush to seek (the debugger follows). Marks are aggregated per pixel column, so a trace of a
 * million steps draws as many rectangles as the timeline is wide, not as it has steps.
 */
import { brushX, scaleLinear, select, axisBottom, type D3BrushEvent } from 'd3';
import type { EventKindName, TimelineMark } from '../../src/shared/protocol';
import type { Ctx, ExportData, View } from '../context';
import { svgEl } from '../export';
import type { Palette } from '../theme';

export const LANES = ['flush', 'vmexit', 'fault', 'peek', 'violation', 'note'] as const;
export type Lane = (typeof LANES)[number];

const LANE_OF: Partial<Record<EventKindName, Lane>> = {
  'tlb-flush': 'flush', 'flush-skipped': 'flush', invlpg: 'flush', cr3: 'flush',
  vmexit: 'vmexit', 'ept-violation': 'vmexit', 'ept-misconfig': 'vmexit', hypercall: 'vmexit',
  'shadow-fault': 'fault', emulate: 'fault', 'remove-write-access': 'fault', 'p2m-type-change': 'fault',
  peek: 'peek', 'peek-page': 'peek', answer: 'peek', logdirty: 'peek', refresh: 'peek', 'pml-drain': 'peek',
  violation: 'violation', note: 'note',
};

export function lanesOf(m: TimelineMark): Lane[] {
  const out = new Set<Lane>();
  for (const k of m.kinds) {
    const l = LANE_OF[k];
    if (l) {
      out.add(l);
    }
  }
  if (m.violation) {
    out.add('violation');
  }
  return LANES.filter((l) => out.has(l));
}

/** The marks of one lane in one pixel column: the first step there, how many, and whether a flush was done (not only skipped). */
interface MarkColumn { lane: Lane; px: number; step: number; count: number; done: boolean }

const LANE_H = 12;
const M = { left: 64, right: 12, top: 6, bottom: 22 };

export class TimelineView implements View {
  readonly id = 'timeline' as const;
  private readonly body: HTMLElement;
  private marks: TimelineMark[] = [];
  /** The marks drawn, per lane and pixel column, with the first step of each (for clicks). */
  private cols = new Map<string, MarkColumn>();
  private readonly svg: SVGSVGElement;
  private range: [number, number] | null = null;

  constructor(private readonly ctx: Ctx, readonly section: HTMLElement) {
    this.body = section.querySelector('.view-body') as HTMLElement;
    this.svg = svgEl('svg', { class: 'timeline', role: 'img', 'aria-label': ctx.strings.timeline });
    this.body.append(this.svg);
  }

  /** Replaces all marks (a new source). */
  reset(): void {
    this.marks = [];
    this.range = null;
  }

  async refresh(): Promise<void> {
    const have = this.marks.length ? this.marks[this.marks.length - 1].step + 1 : 0;
    const from = Math.min(have, this.ctx.total);
    const r = await this.ctx.rpc.request('timeline', { from, to: 2 ** 31 });
    const fresh = r.marks.filter((m) => m.step >= from);
    this.marks = this.marks.filter((m) => m.step < from).concat(fresh).sort((a, b) => a.step - b.step);
    this.ctx.total = Math.max(r.total, this.ctx.step);
    this.ctx.complete = r.complete ?? true;
    this.repaint();
  }

  /** Steps of the marks before and after the current step (Shift+←/→). */
  neighbour(dir: -1 | 1): number | null {
    const s = this.ctx.step;
    if (dir > 0) {
      return this.marks.find((m) => m.step > s)?.step ?? null;
    }
    for (let i = this.marks.length - 1; i >= 0; i--) {
      if (this.marks[i].step < s) {
        return this.marks[i].step;
      }
    }
    return null;
  }

  repaint(): void {
    this.draw(this.svg, this.ctx.palette, Math.max(200, this.body.clientWidth - 4), true);
  }

  /** Draws into `svg` (the live view or an export copy). */
  private draw(svgNode: SVGSVGElement, p: Palette, width: number, live: boolean): void {
    const total = Math.max(1, this.ctx.total);
    const height = M.top + LANES.length * LANE_H + M.bottom;
    const svg = select(svgNode).attr('width', width).attr('height', height).attr('viewBox', `0 0 ${width} ${height}`);
    svg.selectAll('*').remove();
    if (!live) {
      svg.append('rect').attr('width', width).attr('height', height).attr('fill', p.background);
    }
    // Steps are drawn as [step-1, step): the mark of step n sits before the cursor at n.
    const x = scaleLinear().domain([0, total]).range([M.left, width - M.right]);
    const colour: Record<Lane, string> = { flush: p.flush, vmexit: p.vmexit, fault: p.fault, peek: p.peek, violation: p.violation, note: p.other };
    LANES.forEach((lane, i) => {
      svg.append('text').attr('class', 'lane-label').attr('x', 4).attr('y', M.top + i * LANE_H + LANE_H - 3)
        .attr('fill', p.muted).attr('font-size', 10).attr('font-family', 'sans-serif').text(lane);
    });
    // One rectangle per lane and pixel column. A flush column whose only flushes were skipped
    // (an injected skip-flush: owed, not done) is drawn hollow: no TLB was emptied there.
    const cols = new Map<string, MarkColumn>();
    for (const m of this.marks) {
      const px = Math.floor(x(m.step - 1));
      const done = m.kinds.some((k) => k !== 'flush-skipped' && LANE_OF[k] === 'flush');
      for (const lane of lanesOf(m)) {
        const key = `${lane}:${px}`;
        const c = cols.get(key);
        if (c) {
          c.count++;
          c.done ||= done;
        } else {
          cols.set(key, { lane, px, step: m.step, count: 1, done });
        }
      }
    }
    const w = Math.max(2, Math.floor(x(1) - x(0)) - 1);
    if (live) {
      this.cols = cols;
    }
    const g = svg.append('g').attr('class', 'marks');
    for (const c of cols.values()) {
      const i = LANES.indexOf(c.lane);
      const skipped = c.lane === 'flush' && !c.done;
      const r = g.append('rect').attr('class', `mark lane-${c.lane}${skipped ? ' skipped' : ''}`).attr('data-step', c.step).attr('data-lane', c.lane).attr('data-count', c.count)
        .attr('x', c.px).attr('y', M.top + i * LANE_H + 1).attr('width', w).attr('height', LANE_H - 2);
      if (skipped) {
        r.attr('fill', 'none').attr('stroke', colour.violation).attr('stroke-width', 1).attr('stroke-dasharray', '2 1');
      } else {
        r.attr('fill', colour[c.lane]);
      }
    }
    const axis = axisBottom(x).ticks(Math.min(10, total)).tickSizeOuter(0);
    const ag = svg.append('g').attr('class', 'axis').attr('transform', `translate(0,${M.top + LANES.length * LANE_H + 2})`).call(axis);
    ag.selectAll('text').attr('fill', p.muted);
    ag.selectAll('line,path').attr('stroke', p.border);
    if (this.range) {
      svg.append('rect').attr('class', 'range').attr('x', x(this.range[0])).attr('y', M.top).attr('width', Math.max(1, x(this.range[1]) - x(this.range[0])))
        .attr('height', LANES.length * LANE_H).attr('fill', 'none').attr('stroke', p.focus).attr('stroke-dasharray', '3 2');
    }
    svg.append('line').attr('class', 'cursor').attr('data-step', this.ctx.step).attr('x1', x(this.ctx.step)).attr('x2', x(this.ctx.step))
      .attr('y1', M.top - 4).attr('y2', M.top + LANES.length * LANE_H + 2).attr('stroke', p.focus).attr('stroke-width', 2);
    if (!live) {
      return;
    }
    // A click inside step n's slot (n-1, n] goes to n: the state after that step ran.
    const toStep = (px: number): number => Math.max(0, Math.min(total, Math.ceil(x.invert(px) - 1e-9)));
    const brush = brushX<unknown>().extent([[M.left, M.top], [width - M.right, M.top + LANES.length * LANE_H]])
      .on('end', (ev: D3BrushEvent<unknown>) => {
        if (!ev.sourceEvent) {
          return;
        }
        if (ev.selection) {
          const [a, b] = ev.selection as [number, number];
          this.range = [toStep(a), toStep(b)];
          this.ctx.seek(this.range[1]);
        } else {
          const se = ev.sourceEvent as MouseEvent;
          const r = svgNode.getBoundingClientRect();
          const px = se.clientX - r.left;
          // A click on (or a pixel beside) a mark goes to that mark's step: in a long trace a
          // column of pixels spans many steps, and the click position alone would miss it.
          const lane = LANES[Math.floor((se.clientY - r.top - M.top) / LANE_H)];
          this.ctx.seek(lane !== undefined ? this.markNear(lane, px) ?? toStep(px) : toStep(px));
        }
      });
    svg.append('g').attr('class', 'brush').call(brush);
  }

  /** The step of the mark drawn in `lane` nearest to pixel `px` (at most 2 px away), if any. */
  private markNear(lane: Lane, px: number): number | null {
    // (Marks are keyed by the pixel column their step starts at.)
    for (const d of [0, -1, 1, -2, 2]) {
      const c = this.cols.get(`${lane}:${Math.floor(px) + d}`);
      if (c !== undefined) {
        return c.step;
      }
    }
    return null;
  }

  exportData(): ExportData {
    const rows = this.marks.map((m) => [m.step, m.line, m.kinds.join(' '), lanesOf(m).join(' '), m.violation ?? null]);
    return { name: 'timeline', header: ['step', 'line', 'kinds', 'lanes', 'violation'], rows, json: { step: this.ctx.step, total: this.ctx.total, marks: this.marks } };
  }

  exportSvg(): SVGSVGElement {
    const svg = svgEl('svg', { xmlns: 'http://www.w3.org/2000/svg' });
    this.draw(svg, this.ctx.palette, Math.max(400, this.body.clientWidth), false);
    return svg;
  }
}

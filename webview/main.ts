/**
 * The visualizer webview: seven linked views of the model's state, driven by the host through the
 * typed protocol of src/shared/protocol.ts. The webview asks for what is visible; the host owns the
 * state. Selection, zoom, collapsed views and the active view persist with setState.
 */
import './visualizer.css';
import type { HostEvent, SourceInfo, SteppedMessage, ThemeKind } from '../src/shared/protocol';
import { EMPTY_SELECTION, VIEW_IDS, type Ctx, type Selection, type View, type ViewId } from './context';
import { clear, el, vaText } from './dom';
import { svgText, svgToPng, toCsv } from './export';
import { Rpc, type VsCodeApi } from './rpc';
import { DEFAULT_STRINGS, mergeStrings, type Strings } from './strings';
import { readPalette } from './theme';
import { BitmapView } from './views/bitmap';
import { CostsView } from './views/costs';
import { GpaView } from './views/gpa';
import { PageTablesView } from './views/pagetables';
import { ScreensView } from './views/screens';
import { TimelineView } from './views/timeline';
import { TlbView } from './views/tlb';

declare function acquireVsCodeApi(): VsCodeApi;

interface Persisted {
  selection: Selection;
  active: ViewId;
  collapsed: ViewId[];
  views: Partial<Record<ViewId, unknown>>;
}

const TITLES: Record<ViewId, keyof Strings> = {
  gpa: 'gpaMap', pagetables: 'pageTables', bitmaps: 'bitmaps', tlbs: 'tlbs', timeline: 'timeline', screens: 'screens', costs: 'costs',
};

export const SHORTCUTS: [string, string][] = [
  ['← or k', 'step back'], ['→ or j', 'step forward'], ['Shift+← / Shift+→', 'previous / next timeline mark'],
  ['Home / End', 'first / last step'], ['Space', 'play / pause'], ['1 … 7', 'go to a view'],
  ['+ / − / 0', 'zoom the guest-physical map in / out / reset'], ['z', 'zoom the map to the selection'],
  ['[ / ] / ↑ / ↓', 'previous / next page in the dirty bitmap (its details under the grid)'], ['v', 'type a VA to walk'],
  ['c', 'compare trackers'], ['Shift+P / Shift+S', 'export the active view as PNG / SVG'],
  ['Shift+C / Shift+J', 'export the active view\'s data as CSV / JSON'], ['Enter', 'pick the focused TLB entry'],
  ['?', 'show these shortcuts'], ['Escape', 'close this help, clear the selection'],
];

function isSelection(v: unknown): v is Selection {
  if (typeof v !== 'object' || v === null) {
    return false;
  }
  const o = v as Record<string, unknown>;
  const strOrNull = (x: unknown): boolean => x === null || (typeof x === 'string' && x.length < 256);
  const numOrNull = (x: unknown): boolean => x === null || (typeof x === 'number' && Number.isSafeInteger(x) && x >= 0);
  return strOrNull(o.dom) && strOrNull(o.vcpu) && strOrNull(o.fb) && numOrNull(o.va) && numOrNull(o.page) && numOrNull(o.gfn);
}

function readPersisted(v: unknown): Persisted | null {
  if (typeof v !== 'object' || v === null) {
    return null;
  }
  const o = v as Record<string, unknown>;
  const isView = (x: unknown): x is ViewId => typeof x === 'string' && (VIEW_IDS as readonly string[]).includes(x);
  return {
    selection: isSelection(o.selection) ? o.selection : { ...EMPTY_SELECTION },
    active: isView(o.active) ? o.active : 'bitmaps',
    collapsed: Array.isArray(o.collapsed) ? o.collapsed.filter(isView) : [],
    views: typeof o.views === 'object' && o.views !== null ? (o.views as Persisted['views']) : {},
  };
}

class App {
  private readonly api: VsCodeApi;
  private readonly rpc: Rpc;
  private readonly ctx: Ctx;
  private readonly views: View[] = [];
  private readonly byId = new Map<ViewId, View>();
  private active: ViewId = 'bitmaps';
  private source: SourceInfo = { mode: 'none', title: '' };
  private done = false;
  private line: number | null = null;
  /**
   * The step whose line came with its `stepped` event: the debugger's line (at an invariant stop,
   * the statement that broke it) wins over the summary's next statement for that step.
   */
  private lineStep: number | null = null;
  private playing = false;
  private playTimer = 0;
  private refreshing = false;
  private refreshAgain = false;
  private readonly ui: {
    title: HTMLElement; stepLabel: HTMLElement; play: HTMLButtonElement; notice: HTMLElement; events: HTMLElement; status: HTMLElement; help: HTMLElement; main: HTMLElement;
    buttons: HTMLButtonElement[];
  };

  constructor() {
    this.api = acquireVsCodeApi();
    this.rpc = new Rpc(this.api, (e) => this.onEvent(e));
    const persisted = readPersisted(this.api.getState());
    this.ctx = {
      rpc: this.rpc, strings: { ...DEFAULT_STRINGS }, palette: readPalette(), summary: null, step: 0, previousStep: null, total: 0, complete: true, events: [], eventsStep: null,
      selection: persisted?.selection ?? { ...EMPTY_SELECTION },
      select: (change) => {
        this.ctx.selection = { ...this.ctx.selection, ...change };
        this.onSelection(change);
      },
      seek: (step) => void this.seek(step),
      persist: () => this.persist(),
    };
    this.ui = this.buildChrome();
    this.buildViews(persisted);
    this.bindKeys();
    document.body.dataset.selection = JSON.stringify(this.ctx.selection);
    new MutationObserver(() => this.onTheme()).observe(document.body, { attributes: true, attributeFilter: ['class'] });
    new ResizeObserver(() => this.repaintAll()).observe(this.ui.main);
    this.rpc.send({ type: 'ready' });
  }

  private buildChrome(): App['ui'] {
    const s = this.ctx.strings;
    const btn = (label: string, title: string, action: () => void): HTMLButtonElement => {
      const b = el('button', { type: 'button', title, 'aria-label': title, text: label });
      b.addEventListener('click', action);
      return b;
    };
    const first = btn('|◀', `${s.first} (Home)`, () => void this.seek(0));
    const back = btn('◀', `${s.stepBack} (←)`, () => void this.stepBack());
    const play = btn('▶▶', `${s.play} (Space)`, () => this.togglePlay());
    play.classList.add('play');
    const fwd = btn('▶', `${s.stepForward} (→)`, () => void this.stepForward());
    const last = btn('▶|', `${s.last} (End)`, () => void this.seek(this.ctx.total));
    const help = btn('?', `${s.shortcuts} (?)`, () => this.toggleHelp());
    const title = el('span', { class: 'source-title' });
    const stepLabel = el('span', { class: 'step-label', 'aria-live': 'polite' });
    const header = el('header', { class: 'toolbar' }, title, el('span', { class: 'controls' }, first, back, play, fwd, last), stepLabel, el('span', { class: 'spacer' }), help);
    const notice = el('p', { class: 'notice' });
    const events = el('div', { class: 'step-events', 'aria-live': 'polite' });
    const main = el('main', { class: 'views' });
    const status = el('div', { class: 'status', role: 'status' });
    const helpBox = el('div', { class: 'help', role: 'dialog', 'aria-modal': 'true', 'aria-label': s.shortcuts, hidden: true });
    document.body.append(header, notice, events, main, status, helpBox);
    return { title, stepLabel, play, notice, events, status, help: helpBox, main, buttons: [first, back, play, fwd, last] };
  }

  private buildViews(persisted: Persisted | null): void {
    const s = this.ctx.strings;
    VIEW_IDS.forEach((id, i) => {
      const exportBox = el('span', { class: 'export' });
      for (const f of ['png', 'svg', 'csv', 'json'] as const) {
        const b = el('button', { type: 'button', class: `export-${f}`, title: `${s.export} ${f.toUpperCase()}`, text: f.toUpperCase() });
        b.addEventListener('click', () => {
          this.setActive(id);
          void this.exportActive(f);
        });
        exportBox.append(b);
      }
      const collapse = el('button', { type: 'button', class: 'collapse', title: 'collapse', text: '▾' });
      const section = el('section', { class: `view view-${id}`, id: `view-${id}`, 'data-view': id, tabindex: -1 },
        el('header', {}, el('h2', {}, el('span', { class: 'key-hint', text: String(i + 1) }), ` ${s[TITLES[id]]}`), el('span', { class: 'view-tools' }), exportBox, collapse),
        el('div', { class: 'view-body' }));
      collapse.addEventListener('click', () => {
        section.classList.toggle('collapsed');
        this.persist();
        if (!section.classList.contains('collapsed')) {
          void this.byId.get(id)?.refresh().catch((e: unknown) => this.report(e));
        }
      });
      section.addEventListener('focusin', () => this.setActive(id));
      section.addEventListener('pointerdown', () => this.setActive(id));
      if (persisted?.collapsed.includes(id)) {
        section.classList.add('collapsed');
      }
      this.ui.main.append(section);
    });
    const sec = (id: ViewId): HTMLElement => this.ui.main.querySelector(`#view-${id}`) as HTMLElement;
    const views: View[] = [
      new GpaView(this.ctx, sec('gpa')), new PageTablesView(this.ctx, sec('pagetables')), new BitmapView(this.ctx, sec('bitmaps')),
      new TlbView(this.ctx, sec('tlbs')), new TimelineView(this.ctx, sec('timeline')), new ScreensView(this.ctx, sec('screens')), new CostsView(this.ctx, sec('costs')),
    ];
    for (const v of views) {
      this.views.push(v);
      this.byId.set(v.id, v);
      const st = persisted?.views[v.id];
      if (st !== undefined) {
        v.restoreState?.(st);
      }
    }
    this.setActive(persisted?.active ?? 'bitmaps');
  }

  private setActive(id: ViewId): void {
    this.active = id;
    for (const s of this.ui.main.querySelectorAll('section.view')) {
      s.classList.toggle('active', (s as HTMLElement).dataset.view === id);
    }
  }

  private persist(): void {
    const views: Persisted['views'] = {};
    for (const v of this.views) {
      const s = v.saveState?.();
      if (s !== undefined) {
        views[v.id] = s;
      }
    }
    const collapsed = this.views.filter((v) => v.section.classList.contains('collapsed')).map((v) => v.id);
    this.api.setState<Persisted>({ selection: this.ctx.selection, active: this.active, collapsed, views });
  }

  private onEvent(e: HostEvent): void {
    switch (e.type) {
      case 'init':
        this.ctx.strings = mergeStrings(e.strings);
        this.setSource(e.source);
        this.onTheme();
        break;
      case 'source':
        this.setSource(e.source);
        break;
      case 'theme':
        requestAnimationFrame(() => this.onTheme());
        break;
      case 'stepped': {
        const prev = this.ctx.step;
        this.ctx.previousStep = e.step === prev + 1 ? prev : null;
        this.ctx.step = e.step;
        this.line = e.line;
        this.lineStep = e.line !== null ? e.step : null;
        this.done = e.done;
        this.ctx.total = Math.max(this.ctx.total, e.step);
        if (this.target === e.step || this.pendingSeeks === 0) {
          this.target = null;
        }
        this.ctx.events = e.events;
        this.ctx.eventsStep = e.step;
        this.showEvents(e);
        void this.refreshAll();
        break;
      }
    }
  }

  /** What the step just taken did: notes first (trace text, shown as text), then the events by function. */
  private showEvents(e: SteppedMessage): void {
    const box = this.ui.events;
    clear(box);
    const notes = e.events.filter((x) => x.kind === 'note');
    for (const n of notes) {
      box.append(el('div', { class: 'note', text: n.detail }));
    }
    const rest = e.events.filter((x) => x.kind !== 'note' && x.kind !== 'tlb-hit' && x.kind !== 'store' && x.kind !== 'load');
    if (rest.length) {
      const seen = new Map<string, number>();
      for (const x of rest) {
        seen.set(x.fn, (seen.get(x.fn) ?? 0) + 1);
      }
      box.append(el('div', { class: 'fns muted' }, ...[...seen].map(([fn, n]) => el('code', { class: 'fn', text: n > 1 ? `${fn}×${n}` : fn }))));
    }
    const v = e.events.filter((x) => x.kind === 'violation');
    for (const x of v.slice(0, 3)) {
      box.append(el('div', { class: 'violation error', text: x.detail }));
    }
    if (v.length > 3) {
      // The rest on demand, as text (a trace's words are never markup).
      const more = el('details', { class: 'violation-more' }, el('summary', { class: 'error', text: `+${v.length - 3} more` }));
      for (const x of v.slice(3)) {
        more.append(el('div', { class: 'violation error', text: x.detail }));
      }
      box.append(more);
    }
    // A function's events in a tooltip, with their details (what a flush flushed, why).
    for (const code of box.querySelectorAll<HTMLElement>('code.fn')) {
      const fn = code.textContent?.replace(/×\d+$/, '') ?? '';
      code.title = rest.filter((x) => x.fn === fn).map((x) => x.detail).join('\n');
    }
  }

  private setSource(src: SourceInfo): void {
    this.source = src;
    this.target = null;
    this.ctx.summary = null;
    this.ctx.step = 0;
    this.ctx.previousStep = null;
    this.ctx.total = 0;
    this.ctx.complete = true;
    this.ctx.events = [];
    this.ctx.eventsStep = null;
    for (const v of this.byId.values()) {
      v.reset?.();
    }
    clear(this.ui.events);
    this.ui.title.textContent = src.title;
    this.ui.title.title = src.title;
    document.body.dataset.mode = src.mode;
    this.ui.notice.textContent = src.mode === 'none' ? this.ctx.strings.noSession : '';
    this.ui.notice.hidden = src.mode !== 'none';
    // Without a source there is nothing to show: the views of a session that ended would otherwise
    // stay half-drawn (their pictures kept, their data gone) under the notice.
    this.ui.main.hidden = src.mode === 'none';
    for (const b of this.ui.buttons) {
      b.disabled = src.mode === 'none';
    }
    if (src.mode !== 'none') {
      void this.refreshAll();
    } else {
      this.updateStepLabel();
    }
  }

  private onTheme(): void {
    this.ctx.palette = readPalette();
    document.body.dataset.theme = this.ctx.palette.kind satisfies ThemeKind;
    this.repaintAll();
  }

  private repaintAll(): void {
    for (const v of this.views) {
      if (!v.section.classList.contains('collapsed')) {
        v.repaint();
      }
    }
  }

  private onSelection(change: Partial<Selection>): void {
    if (change.va !== undefined || change.vcpu !== undefined) {
      void this.byId.get('pagetables')?.refresh().catch((e: unknown) => this.report(e));
      this.byId.get('tlbs')?.repaint();
    }
    this.byId.get('bitmaps')?.repaint();
    this.byId.get('gpa')?.repaint();
    const s = this.ctx.selection;
    const parts = [s.fb !== null && s.page !== null ? `${s.fb} page ${s.page}` : '', s.gfn !== null ? `gfn 0x${s.gfn.toString(16)}` : '', s.vcpu && s.va !== null ? `${s.vcpu} ${vaText(s.va)}` : ''].filter(Boolean);
    this.say(parts.length ? `${this.ctx.strings.selectedPage}: ${parts.join(' · ')}` : '');
    document.body.dataset.selection = JSON.stringify(s);
    this.persist();
  }

  /** Re-reads the summary and every open view; coalesces while a refresh is running. */
  private async refreshAll(): Promise<void> {
    if (this.refreshing) {
      this.refreshAgain = true;
      return;
    }
    this.refreshing = true;
    const t0 = performance.now();
    try {
      const summary = await this.rpc.request('summary', {});
      performance.measure('xpl-refresh-summary', { start: t0, end: performance.now() });
      this.ctx.summary = summary;
      if (summary.step !== this.ctx.step) {
        this.ctx.previousStep = summary.step === this.ctx.step + 1 ? this.ctx.step : null;
        this.ctx.step = summary.step;
      }
      this.done = summary.done;
      if (this.lineStep !== summary.step) {
        this.line = summary.line;
      }
      this.ctx.total = Math.max(this.ctx.total, summary.step);
      if (this.ctx.selection.vcpu === null && summary.domains[0]?.vcpus[0]) {
        this.ctx.selection = { ...this.ctx.selection, vcpu: summary.domains[0].vcpus[0].id };
      }
      // The timeline first: it knows how many steps there are.
      const timeline = this.byId.get('timeline');
      if (timeline) {
        const t = performance.now();
        await timeline.refresh().catch((e: unknown) => this.report(e));
        performance.measure('xpl-refresh-timeline', { start: t, end: performance.now() });
      }
      this.updateStepLabel();
      const open = this.views.filter((v) => v.id !== 'timeline' && !v.section.classList.contains('collapsed'));
      const results = await Promise.allSettled(open.map(async (v) => {
        const t = performance.now();
        await v.refresh();
        performance.measure(`xpl-refresh-${v.id}`, { start: t, end: performance.now() });
      }));
      results.forEach((r, i) => {
        // A view whose data for this step did not come shows so, with its own error, instead of
        // the previous step's picture under this step's header.
        this.markFailed(open[i], r.status === 'rejected' ? r.reason : null);
        if (r.status === 'rejected') {
          this.report(r.reason);
        }
      });
      document.body.dataset.renderedStep = String(this.ctx.step);
      performance.measure('xpl-step-repaint', { start: t0, end: performance.now() });
    } catch (e) {
      this.report(e);
    } finally {
      this.refreshing = false;
    }
    if (this.refreshAgain) {
      this.refreshAgain = false;
      await this.refreshAll();
    } else if (this.playing) {
      this.schedulePlay();
    }
  }

  private updateStepLabel(): void {
    const s = this.ctx.strings;
    // A total not known yet (a debug session has not run to the end) is the steps seen so far: "≥".
    this.ui.stepLabel.textContent = this.source.mode === 'none' ? '' : `${s.step} ${this.ctx.step} / ${this.ctx.complete ? '' : '≥'}${this.ctx.total}${this.line !== null ? ` · line ${this.line}` : ''}${this.done ? ' · done' : ''}`;
    document.body.dataset.step = String(this.ctx.step);
  }

  /** Grey a view out with its error (`e`), or clear that (null). */
  private markFailed(v: View, e: unknown): void {
    const msg = e === null ? null : e instanceof Error ? e.message : String(e);
    v.section.classList.toggle('failed', msg !== null);
    let box = v.section.querySelector<HTMLElement>(':scope > .view-error');
    if (msg === null || msg === 'cancelled') {
      box?.remove();
      v.section.classList.remove('failed');
      return;
    }
    if (!box) {
      box = el('p', { class: 'view-error error', role: 'status' });
      v.section.querySelector('.view-body')?.before(box);
    }
    box.textContent = `${msg} (step ${this.ctx.step})`;
  }

  private report(e: unknown): void {
    const msg = e instanceof Error ? e.message : String(e);
    if (msg !== 'cancelled') {
      this.say(msg, true);
    }
  }

  private say(text: string, error = false): void {
    this.ui.status.textContent = text;
    this.ui.status.classList.toggle('error', error);
  }

  /** Where the last seek asked to go, until the host says it got there: quick key presses add up. */
  private target: number | null = null;
  private pendingSeeks = 0;

  private async seek(step: number): Promise<void> {
    if (this.source.mode === 'none') {
      return;
    }
    const to = Math.max(0, Math.floor(step));
    this.target = to;
    this.pendingSeeks++;
    try {
      await this.rpc.request('seek', { step: to });
    } catch (e) {
      this.target = null;
      this.report(e);
      this.stopPlay();
    } finally {
      this.pendingSeeks--;
    }
  }

  /** The step the user is heading to (the current one when no seek is under way). */
  private get heading(): number {
    return this.target ?? this.ctx.step;
  }

  private async stepForward(): Promise<void> {
    const from = this.heading;
    const atEnd = this.target === null ? this.done : this.ctx.total > 0 && from >= this.ctx.total;
    if (!atEnd) {
      await this.seek(from + 1);
    }
  }

  private async stepBack(): Promise<void> {
    if (this.heading > 0) {
      await this.seek(this.heading - 1);
    }
  }

  private togglePlay(): void {
    if (this.playing) {
      this.stopPlay();
    } else {
      this.playing = true;
      this.ui.play.textContent = '❚❚';
      this.ui.play.title = `${this.ctx.strings.pause} (Space)`;
      this.schedulePlay();
    }
  }

  private stopPlay(): void {
    this.playing = false;
    clearTimeout(this.playTimer);
    this.ui.play.textContent = '▶▶';
    this.ui.play.title = `${this.ctx.strings.play} (Space)`;
  }

  private schedulePlay(): void {
    clearTimeout(this.playTimer);
    if (this.done) {
      this.stopPlay();
      return;
    }
    this.playTimer = window.setTimeout(() => void this.stepForward(), 120);
  }

  /** Where the keyboard was when the help opened: it goes back there when the help closes. */
  private helpReturn: HTMLElement | null = null;

  private toggleHelp(force?: boolean): void {
    const h = this.ui.help;
    const show = force ?? h.hidden;
    if (show && !h.hidden) {
      return;
    }
    if (show) {
      const a = document.activeElement;
      this.helpReturn = a instanceof HTMLElement && a !== document.body ? a : null;
      clear(h);
      const close = el('button', { type: 'button', class: 'close', text: this.ctx.strings.close });
      close.addEventListener('click', () => this.toggleHelp(false));
      const table = el('table', { class: 'shortcuts' }, el('tbody', {}, ...SHORTCUTS.map(([k, what]) => el('tr', {}, el('td', {}, el('kbd', { text: k })), el('td', { text: what })))));
      h.append(el('h2', { text: this.ctx.strings.shortcuts }), table, close);
      h.hidden = false;
      close.focus();
    } else if (!h.hidden) {
      h.hidden = true;
      const back = this.helpReturn;
      this.helpReturn = null;
      // (A table row rebuilt meanwhile is gone: then the active view's section takes the keyboard.)
      if (back?.isConnected) {
        back.focus();
      } else {
        this.byId.get(this.active)?.section.focus();
      }
    }
  }

  /** The help's focusable elements, in tab order. */
  private helpFocusables(): HTMLElement[] {
    return [...this.ui.help.querySelectorAll<HTMLElement>('button, [href], input, select, textarea, [tabindex]')]
      .filter((x) => x.tabIndex >= 0 && !(x as HTMLButtonElement).disabled);
  }

  /** While the help is open, Tab and Shift+Tab cycle through it and nothing else. */
  private trapHelpTab(e: KeyboardEvent): void {
    const f = this.helpFocusables();
    e.preventDefault();
    if (f.length === 0) {
      return;
    }
    const i = f.indexOf(document.activeElement as HTMLElement);
    const next = i < 0 ? (e.shiftKey ? f.length - 1 : 0) : (i + (e.shiftKey ? -1 : 1) + f.length) % f.length;
    f[next].focus();
  }

  private async exportActive(format: 'png' | 'svg' | 'csv' | 'json'): Promise<void> {
    const v = this.byId.get(this.active);
    if (!v) {
      return;
    }
    try {
      const d = v.exportData();
      let data: string;
      if (format === 'csv') {
        data = toCsv(d);
      } else if (format === 'json') {
        data = JSON.stringify(d.json, null, 2) + '\n';
      } else if (format === 'svg') {
        data = svgText(v.exportSvg());
      } else {
        data = await svgToPng(v.exportSvg());
      }
      const r = await this.rpc.request('export', { format, suggestedName: `${d.name}-step-${this.ctx.step}.${format}`, data });
      this.say(r.saved ? `${this.ctx.strings.export}: ${r.path ?? ''}` : '');
    } catch (e) {
      this.report(e);
    }
  }

  private bindKeys(): void {
    // The help is modal: the keyboard cannot leave it (a click elsewhere is brought back too).
    document.addEventListener('focusin', (e) => {
      if (!this.ui.help.hidden && e.target instanceof Node && !this.ui.help.contains(e.target)) {
        this.helpFocusables()[0]?.focus();
      }
    });
    // (A press on something that takes no focus would leave the keyboard on the page itself.)
    document.addEventListener('mousedown', (e) => {
      if (!this.ui.help.hidden && e.target instanceof Node && !this.ui.help.contains(e.target)) {
        e.preventDefault();
      }
    }, true);
    document.addEventListener('keydown', (e) => {
      const t = e.target as HTMLElement | null;
      const typing = !!t && (t.tagName === 'INPUT' || t.tagName === 'SELECT' || t.tagName === 'TEXTAREA');
      if (!this.ui.help.hidden && e.key === 'Tab') {
        this.trapHelpTab(e);
        return;
      }
      if (e.key === 'Escape') {
        if (!this.ui.help.hidden) {
          // Closing gives the keyboard back to where it was.
          e.preventDefault();
          this.toggleHelp(false);
          return;
        }
        if (!typing) {
          this.ctx.select({ ...EMPTY_SELECTION, vcpu: this.ctx.selection.vcpu });
        }
        (t as HTMLElement | null)?.blur?.();
        return;
      }
      if (!this.ui.help.hidden && e.key !== '?') {
        // Under the modal help, the panel's keys wait (Enter and Space still press its button).
        return;
      }
      if (typing || e.ctrlKey || e.metaKey || e.altKey) {
        return;
      }
      // A focused button keeps Space and Enter; a focused table row or button keeps the arrows
      // (they move within it, or scroll), instead of the panel-wide keys taking them.
      const control = !!t && (t.tagName === 'BUTTON' || t.tagName === 'SUMMARY' || t.tagName === 'TR' || t.getAttribute('role') === 'row');
      if (control && [' ', 'Enter', 'ArrowUp', 'ArrowDown'].includes(e.key)) {
        return;
      }
      if (this.handleKey(e)) {
        e.preventDefault();
        e.stopPropagation();
      }
    });
  }

  private handleKey(e: KeyboardEvent): boolean {
    const tl = this.byId.get('timeline') as TimelineView;
    if (e.shiftKey && (e.key === 'ArrowLeft' || e.key === 'ArrowRight')) {
      const s = tl.neighbour(e.key === 'ArrowLeft' ? -1 : 1);
      if (s !== null) {
        void this.seek(s);
      }
      return true;
    }
    if (e.shiftKey && ['P', 'S', 'C', 'J'].includes(e.key)) {
      const f = ({ P: 'png', S: 'svg', C: 'csv', J: 'json' } as const)[e.key as 'P' | 'S' | 'C' | 'J'];
      void this.exportActive(f);
      return true;
    }
    switch (e.key) {
      case 'ArrowLeft': case 'k':
        void this.stepBack();
        return true;
      case 'ArrowRight': case 'j':
        void this.stepForward();
        return true;
      case 'Home':
        void this.seek(0);
        return true;
      case 'End':
        void this.seek(this.ctx.total);
        return true;
      case ' ':
        this.togglePlay();
        return true;
      case '?':
        this.toggleHelp();
        return true;
      case 'v':
        this.setActive('pagetables');
        (this.byId.get('pagetables') as PageTablesView).focusVa();
        return true;
      case 'c':
        this.setActive('costs');
        void (this.byId.get('costs') as CostsView).runCompare();
        return true;
    }
    if (/^[1-7]$/.test(e.key)) {
      const id = VIEW_IDS[Number(e.key) - 1];
      this.setActive(id);
      const sec = this.byId.get(id)?.section;
      sec?.focus();
      sec?.scrollIntoView({ block: 'nearest' });
      return true;
    }
    if (['+', '=', '-', '0', 'z'].includes(e.key)) {
      return this.byId.get('gpa')?.onKey?.(e) ?? false;
    }
    if (['[', ']', 'ArrowUp', 'ArrowDown'].includes(e.key)) {
      return this.byId.get('bitmaps')?.onKey?.(e) ?? false;
    }
    return false;
  }
}

new App();

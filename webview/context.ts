/** What every view shares: the data source, the linked selection, the palette and strings. */
import type { SteppedMessage, Summary } from '../src/shared/protocol';
import type { Rpc } from './rpc';
import type { Strings } from './strings';
import type { Palette } from './theme';

export const VIEW_IDS = ['gpa', 'pagetables', 'bitmaps', 'tlbs', 'timeline', 'screens', 'costs'] as const;
export type ViewId = (typeof VIEW_IDS)[number];

/** The linked selection: a page, a VA or a step chosen in one view is highlighted in all. */
export interface Selection {
  dom: string | null;
  vcpu: string | null;
  va: number | null;
  fb: string | null;
  page: number | null;
  gfn: number | null;
}
export const EMPTY_SELECTION: Selection = { dom: null, vcpu: null, va: null, fb: null, page: null, gfn: null };

export interface Ctx {
  readonly rpc: Rpc;
  strings: Strings;
  palette: Palette;
  summary: Summary | null;
  /** Steps executed (the position in time). */
  step: number;
  /** The step before the current one was shown, when the last move was exactly one step forward. */
  previousStep: number | null;
  /** Steps known so far (timeline length). */
  total: number;
  /** Whether `total` is the whole trace's length (false while a debug session has not reached the end). */
  complete: boolean;
  /** What the step that led to `eventsStep` did (its `stepped` events); views use them only while `eventsStep` is `step`. */
  events: SteppedMessage['events'];
  eventsStep: number | null;
  selection: Selection;
  select(change: Partial<Selection>): void;
  seek(step: number): void;
  persist(): void;
}

export type Cell = string | number | boolean | null;
export interface ExportData { name: string; header: string[]; rows: Cell[][]; json: unknown }

export interface View {
  readonly id: ViewId;
  readonly section: HTMLElement;
  /** Fetch what is visible for the current step and draw it. */
  refresh(): Promise<void>;
  /** Redraw from what is held (theme change, resize, selection change). */
  repaint(): void;
  exportData(): ExportData;
  /** The view as a standalone SVG, with resolved colours. */
  exportSvg(): SVGSVGElement;
  /** Handles a key meant for this view; true when used. */
  onKey?(e: KeyboardEvent): boolean;
  /** Forget what belonged to the previous source (a new trace or session). */
  reset?(): void;
  saveState?(): unknown;
  restoreState?(s: unknown): void;
}

/** Find the framebuffer (and its domain) holding a gfn. */
export function fbOfGfn(summary: Summary | null, gfn: number): { dom: string; fb: string; page: number } | null {
  for (const d of summary?.domains ?? []) {
    for (const f of d.framebuffers) {
      if (gfn >= f.gfn && gfn < f.gfn + f.pages) {
        return { dom: d.name, fb: f.name, page: gfn - f.gfn };
      }
    }
  }
  return null;
}

export function findFb(summary: Summary | null, fb: string): { dom: string; gfn: number; pages: number; width: number; height: number; bpp: number } | null {
  for (const d of summary?.domains ?? []) {
    for (const f of d.framebuffers) {
      if (f.name === fb) {
        return { dom: d.name, gfn: f.gfn, pages: f.pages, width: f.width, height: f.height, bpp: f.bpp };
      }
    }
  }
  return null;
}

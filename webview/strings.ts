/** English defaults of the localized strings; the host sends translations in `init`. */
import type { StringKey } from '../src/shared/protocol';

export const DEFAULT_STRINGS: Record<StringKey, string> = {
  title: 'Xen Paging Lens',
  noSession: 'No xpl debug session and no trace open. Start debugging a .xpt trace, or run "Xen Paging Lens: Open Visualizer" on one.',
  step: 'Step',
  stepBack: 'Step back',
  stepForward: 'Step forward',
  play: 'Play',
  pause: 'Pause',
  first: 'First step',
  last: 'Last step',
  gpaMap: 'Guest-physical map',
  pageTables: 'Page tables',
  bitmaps: 'Dirty bitmaps',
  tlbs: 'TLBs',
  timeline: 'Timeline',
  screens: 'Screens',
  costs: 'Costs',
  compare: 'Compare trackers',
  guest: 'Guest tables',
  shadow: 'Shadow tables',
  ept: 'EPT entry',
  written: 'written',
  reported: 'reported',
  missed: 'missed',
  extra: 'extra',
  writable: 'writable',
  stale: 'stale',
  ram: 'RAM',
  framebuffer: 'framebuffer',
  ptFrame: 'page-table frame',
  shortcuts: 'Keyboard shortcuts',
  export: 'Export',
  close: 'Close',
  vcpu: 'vCPU',
  va: 'VA',
  noWalk: 'Select a VA (type it, or pick a TLB entry) to see its walk.',
  guestPixels: 'guest memory',
  dmScreen: 'device model screen',
  staleRegion: 'stale region',
  selectedPage: 'selected page',
  noData: 'nothing yet',
  following: 'following line {0}, the last statement run that names a VA; type a VA to keep one, or clear it to follow again',
};

export type Strings = Record<StringKey, string>;

export function mergeStrings(from: Record<string, string>): Strings {
  const out: Strings = { ...DEFAULT_STRINGS };
  for (const k of Object.keys(DEFAULT_STRINGS) as StringKey[]) {
    if (typeof from[k] === 'string' && from[k].length > 0) {
      out[k] = from[k];
    }
  }
  return out;
}

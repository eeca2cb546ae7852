/** Every id the extension contributes, in one place (package.json must match). */
export const LANGUAGE_ID = 'xpt';
export const DEBUG_TYPE = 'xpl';
export const OUTPUT_CHANNEL = 'Xen Paging Lens';
export const VISUALIZER_VIEW_TYPE = 'xpl.visualizer';
export const COMPARE_VIEW_TYPE = 'xpl.compare';

export const COMMANDS = {
  debugTrace: 'xpl.debugTrace',
  runTrace: 'xpl.runTrace',
  openVisualizer: 'xpl.openVisualizer',
  compareTrackers: 'xpl.compareTrackers',
  generateWorkload: 'xpl.generateWorkload',
  openLesson: 'xpl.openLesson',
  exportReport: 'xpl.exportReport',
  showOutput: 'xpl.showOutput',
} as const;

export const SETTINGS = {
  section: 'xpl',
  defaultTracker: 'defaultTracker',
  checkpointInterval: 'checkpointInterval',
  openVisualizerOnDebugStart: 'openVisualizerOnDebugStart',
  costs: 'costs',
} as const;

/** Context keys that complete the walkthrough's steps (package.json `completionEvents`). */
export const WALKTHROUGH_CONTEXT = {
  lessonOpened: 'xpl.walkthrough.lessonOpened',
  debugStarted: 'xpl.walkthrough.debugStarted',
  violationHit: 'xpl.walkthrough.violationHit',
  steppedBack: 'xpl.walkthrough.steppedBack',
  compareOpened: 'xpl.walkthrough.compareOpened',
} as const;

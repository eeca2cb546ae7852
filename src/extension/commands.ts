/**
 * The palette commands other than debugging: Run Trace, Compare Trackers, Generate Workload…,
 * Open Lesson…, Export Report, Show Output.
 */
import * as vscode from 'vscode';
import { parseTraceSliced } from '../trace/index';
import { TraceError, type BugId, type CounterName, type Paging, type Program, type RunOptions, type TrackerId } from '../sim/program';
import { PAGE_MISSED, PAGE_REPORTED, PAGE_WRITTEN } from '../sim/inspect';
import { BUGS, TRACKERS } from '../sim/program';
import { TRACKER_DOCS } from '../trace/keywords';
import { COMMANDS, COMPARE_VIEW_TYPE, DEBUG_TYPE, LANGUAGE_ID, SETTINGS, WALKTHROUGH_CONTEXT } from './constants';
import { comparePage, plainMessage, reportPage, type CompareStrings, type FbSnapshot } from './html';
import { compareTrackers, formatReport, runToEnd } from './runner';
import { generateWorkload, SHAPES, type WorkloadShape } from './workload';
import { GENERATORS, generate as xplGen } from '../trace/gen';
import { debugTrace } from './debug';

export class Commands {
  constructor(private readonly context: vscode.ExtensionContext, private readonly output: vscode.OutputChannel) {}

  register(): void {
    const reg = (id: string, fn: (...args: unknown[]) => unknown): void => {
      this.context.subscriptions.push(vscode.commands.registerCommand(id, async (...args: unknown[]) => {
        try {
          return await fn(...args);
        } catch (e) {
          this.fail(e);
          return undefined;
        }
      }));
    };
    reg(COMMANDS.debugTrace, (uri) => debugTrace(asUri(uri)));
    reg(COMMANDS.runTrace, (uri) => this.runTrace(asUri(uri)));
    reg(COMMANDS.compareTrackers, (uri) => this.compare(asUri(uri)));
    reg(COMMANDS.generateWorkload, () => this.generate());
    reg(COMMANDS.openLesson, (name) => this.openLesson(typeof name === 'string' ? name : undefined));
    reg(COMMANDS.exportReport, (uri, target) => this.exportReport(asUri(uri), asUri(target)));
    reg(COMMANDS.showOutput, () => this.output.show(true));
  }

  private fail(e: unknown): void {
    if (e instanceof Error && e.message === 'cancelled') {
      // The user cancelled the run: nothing went wrong.
      this.output.appendLine(vscode.l10n.t('Cancelled.'));
      return;
    }
    const msg = e instanceof TraceError ? e.message : e instanceof Error ? e.message : String(e);
    this.output.appendLine(msg);
    void vscode.window.showErrorMessage(plainMessage(msg));
  }

  /** The trace a command acts on: its argument, else the active editor's document. */
  private async traceDocument(uri?: vscode.Uri): Promise<vscode.TextDocument | undefined> {
    if (uri) {
      return vscode.workspace.openTextDocument(uri);
    }
    const doc = vscode.window.activeTextEditor?.document;
    if (doc && doc.languageId === LANGUAGE_ID) {
      return doc;
    }
    void vscode.window.showInformationMessage(vscode.l10n.t('Open a .xpt trace first.'));
    return undefined;
  }

  private parse(doc: vscode.TextDocument): Promise<Program> {
    const file = doc.uri.scheme === 'file' ? vscode.workspace.asRelativePath(doc.uri, false) : doc.uri.path;
    return parseTraceSliced(doc.getText(), file);
  }

  private options(doc: vscode.TextDocument): { program: (p: Program) => Program; run: RunOptions } {
    const settings = vscode.workspace.getConfiguration(SETTINGS.section, doc.uri);
    const tracker = settings.get<string>(SETTINGS.defaultTracker, 'auto');
    const costs = settings.get<Partial<Record<CounterName, number>>>(SETTINGS.costs, {});
    return {
      program: (p) => p,
      run: { tracker: tracker && tracker !== 'auto' ? (tracker as TrackerId) : undefined, checkpointInterval: 0, costs: costs ?? {} },
    };
  }

  async runTrace(uri?: vscode.Uri): Promise<void> {
    const doc = await this.traceDocument(uri);
    if (!doc) {
      return;
    }
    const opts = this.options(doc);
    const program = opts.program(await this.parse(doc));
    const engine = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Running {0}', program.file), cancellable: true },
      (progress, token) => runToEnd(program, opts.run, { cancelled: () => token.isCancellationRequested, progress: (n) => progress.report({ message: vscode.l10n.t('{0} steps', n) }) }),
    );
    const report = engine.report();
    this.output.appendLine(formatReport(report));
    this.output.show(true);
    const failed = report.expects.failed.length;
    const expects = report.expects.passed + failed;
    const summary = expects === 0
      ? vscode.l10n.t('{0}: {1} steps, {2} violations, no expects.', program.file, report.steps, report.violations.length)
      : vscode.l10n.t('{0}: {1} steps, {2} violations, {3} of {4} expects passed.', program.file, report.steps, report.violations.length, report.expects.passed, expects);
    if (failed > 0 || report.violations.length > 0) {
      void vscode.window.showWarningMessage(plainMessage(summary));
    } else {
      void vscode.window.showInformationMessage(plainMessage(summary));
    }
  }

  async compare(uri?: vscode.Uri): Promise<void> {
    const doc = await this.traceDocument(uri);
    if (!doc) {
      return;
    }
    const opts = this.options(doc);
    const program = opts.program(await this.parse(doc));
    const rows = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Comparing trackers on {0}', program.file), cancellable: true },
      (_p, token) => compareTrackers(program, { costs: opts.run.costs }, { cancelled: () => token.isCancellationRequested }),
    );
    const panel = vscode.window.createWebviewPanel(COMPARE_VIEW_TYPE, vscode.l10n.t('Compare: {0}', doc.uri.path.split('/').pop() ?? ''), vscode.ViewColumn.Beside, { enableScripts: false, localResourceRoots: [] });
    panel.webview.html = comparePage({ trace: program.file, rows, cspSource: panel.webview.cspSource, nonce: nonce(), strings: compareStrings() });
    void vscode.commands.executeCommand('setContext', WALKTHROUGH_CONTEXT.compareOpened, true);
    this.output.appendLine(vscode.l10n.t('Compared {0} trackers on {1}.', rows.length, program.file));
  }

  /** Generate Workload…: one of `xpl gen`'s workloads, or a small framebuffer workload built from answers. */
  async generate(): Promise<void> {
    const CUSTOM = 'framebuffer…';
    const kind = await vscode.window.showQuickPick(
      [...GENERATORS.map((g) => ({ label: g.name, description: g.summary })), { label: CUSTOM, description: vscode.l10n.t('One guest, one framebuffer: choose tracker, store pattern, size, refreshes and a bug') }],
      { title: vscode.l10n.t('Generate Workload'), matchOnDescription: true });
    if (!kind) {
      return;
    }
    const paging = await vscode.window.showQuickPick(
      [{ label: 'shadow', description: vscode.l10n.t('Shadow paging (sl1ma and the 2007 designs)') }, { label: 'hap', description: vscode.l10n.t('HAP/EPT (p2m-type, logdirty-2009)') }],
      { title: vscode.l10n.t('Generate Workload: paging mode') });
    if (!paging) {
      return;
    }
    if (kind.label !== CUSTOM) {
      const seed = await vscode.window.showInputBox({ title: vscode.l10n.t('Generate Workload: seed (the same seed gives the same trace)'), value: '1', validateInput: (v) => (/^[0-9]{1,9}$/.test(v) ? undefined : vscode.l10n.t('A whole number')) });
      if (seed === undefined) {
        return;
      }
      const text = xplGen(kind.label, { seed: Number(seed), paging: paging.label as Paging });
      await vscode.window.showTextDocument(await vscode.workspace.openTextDocument({ language: LANGUAGE_ID, content: text }));
      return;
    }
    const fits = TRACKERS.filter((t) => TRACKER_DOCS[t].paging === 'any' || TRACKER_DOCS[t].paging === paging.label);
    const tracker = await vscode.window.showQuickPick([{ label: 'default', description: vscode.l10n.t('Xen\'s own for this paging mode') }, ...fits.map((t) => ({ label: t, description: TRACKER_DOCS[t].xen.replace(/`/g, '') }))],
      { title: vscode.l10n.t('Generate Workload: tracker') });
    if (!tracker) {
      return;
    }
    const shape = await vscode.window.showQuickPick(SHAPES.map((s) => ({ label: s, description: shapeDescription(s) })), { title: vscode.l10n.t('Generate Workload: what the guest does') });
    if (!shape) {
      return;
    }
    const pages = await vscode.window.showQuickPick(['16', '64', '256', '4096', '65536'], { title: vscode.l10n.t('Generate Workload: framebuffer pages') });
    if (!pages) {
      return;
    }
    const frames = await vscode.window.showInputBox({ title: vscode.l10n.t('Generate Workload: display refreshes'), value: '100', validateInput: (v) => (/^[1-9][0-9]{0,4}$/.test(v) ? undefined : vscode.l10n.t('A whole number from 1 to 99999')) });
    if (!frames) {
      return;
    }
    const bug = await vscode.window.showQuickPick([{ label: 'none' }, ...BUGS.map((b) => ({ label: b }))], { title: vscode.l10n.t('Generate Workload: inject a historical bug?') });
    if (!bug) {
      return;
    }
    const text = generateWorkload({
      paging: paging.label as Paging,
      tracker: tracker.label === 'default' ? undefined : (tracker.label as TrackerId),
      pml: paging.label === 'hap',
      pages: Number(pages), frames: Number(frames), shape: shape.label as WorkloadShape,
      inject: bug.label === 'none' ? undefined : (bug.label as BugId),
    });
    const doc = await vscode.workspace.openTextDocument({ language: LANGUAGE_ID, content: text });
    await vscode.window.showTextDocument(doc);
  }

  /** Lessons ship inside the extension (examples/); a workspace's own examples/ are listed too. */
  async openLesson(name?: string): Promise<void> {
    const lessons: { label: string; description: string; uri: vscode.Uri }[] = [];
    const roots = [vscode.Uri.joinPath(this.context.extensionUri, 'examples'), ...(vscode.workspace.workspaceFolders ?? []).map((f) => vscode.Uri.joinPath(f.uri, 'examples'))];
    for (const root of roots) {
      let entries: [string, vscode.FileType][] = [];
      try {
        entries = await vscode.workspace.fs.readDirectory(root);
      } catch {
        continue;
      }
      for (const [file, type] of entries.sort((a, b) => a[0].localeCompare(b[0]))) {
        if (type !== vscode.FileType.File || !/\.xpt(\.jsonl)?$/.test(file) || lessons.some((l) => l.label === file)) {
          continue;
        }
        const uri = vscode.Uri.joinPath(root, file);
        lessons.push({ label: file, description: await firstComment(uri), uri });
      }
    }
    if (lessons.length === 0) {
      void vscode.window.showInformationMessage(vscode.l10n.t('No lessons found: they live in the examples/ folder.'));
      return;
    }
    const pick = name ? lessons.find((l) => l.label === name || l.label === `${name}.xpt`) : await vscode.window.showQuickPick(lessons, { title: vscode.l10n.t('Open Lesson'), matchOnDescription: true });
    if (!pick) {
      return;
    }
    await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(pick.uri), { preview: false });
    void vscode.commands.executeCommand('setContext', WALKTHROUGH_CONTEXT.lessonOpened, true);
  }

  /** A self-contained HTML file: the run's tables and the framebuffers' page states (from the debug session's current step when debugging this trace). */
  async exportReport(uri?: vscode.Uri, target?: vscode.Uri): Promise<vscode.Uri | undefined> {
    const session = vscode.debug.activeDebugSession?.type === DEBUG_TYPE ? vscode.debug.activeDebugSession : undefined;
    const sessionTrace = typeof session?.configuration.trace === 'string' ? session.configuration.trace : undefined;
    const doc = await this.traceDocument(uri ?? (sessionTrace && !vscode.window.activeTextEditor ? vscode.Uri.file(sessionTrace) : undefined));
    if (!doc) {
      return undefined;
    }
    const opts = this.options(doc);
    const program = opts.program(await this.parse(doc));
    const engine = await runToEnd(program, opts.run);
    const report = engine.report();
    let snapshots: FbSnapshot[] = [];
    let source = vscode.l10n.t('state at the end of the run');
    if (session && sessionTrace && vscode.Uri.file(sessionTrace).toString() === doc.uri.toString()) {
      try {
        snapshots = await sessionSnapshots(session);
        source = vscode.l10n.t('framebuffers from the debug session\'s current step');
      } catch (e) {
        this.output.appendLine(vscode.l10n.t('Could not read the debug session ({0}); using the end of the run.', e instanceof Error ? e.message : String(e)));
      }
    }
    if (snapshots.length === 0) {
      snapshots = engine.summary().domains.flatMap((d) => d.framebuffers).map((fb) => {
        const view = engine.bitmap(fb.name, 0, fb.pages);
        return { fb: fb.name, pages: fb.pages, state: view.state, step: engine.stepCount };
      });
    }
    const html = reportPage({ report, snapshots, bits: { written: PAGE_WRITTEN, reported: PAGE_REPORTED, missed: PAGE_MISSED }, generated: new Date().toISOString(), source });
    const dest = target ?? await vscode.window.showSaveDialog({
      defaultUri: vscode.Uri.joinPath(doc.uri, '..', (doc.uri.path.split('/').pop() ?? 'trace').replace(/\.xpt(\.jsonl)?$/, '') + '-report.html'),
      filters: { HTML: ['html'] },
      title: vscode.l10n.t('Export Report'),
    });
    if (!dest) {
      return undefined;
    }
    await vscode.workspace.fs.writeFile(dest, new TextEncoder().encode(html));
    this.output.appendLine(vscode.l10n.t('Report written to {0}', dest.toString(true)));
    void vscode.window.showInformationMessage(plainMessage(vscode.l10n.t('Report written to {0}', dest.path.split('/').pop() ?? '')));
    return dest;
  }
}

async function sessionSnapshots(session: vscode.DebugSession): Promise<FbSnapshot[]> {
  const summary = await session.customRequest('xpl/summary', {}) as { step?: number; domains: { framebuffers: { name: string; pages: number }[] }[] };
  const out: FbSnapshot[] = [];
  for (const fb of summary.domains.flatMap((d) => d.framebuffers)) {
    const bm = await session.customRequest('xpl/bitmap', { fb: fb.name, start: 0, count: fb.pages }) as { state: string; pages: number };
    out.push({ fb: fb.name, pages: fb.pages, state: Uint8Array.from(Buffer.from(bm.state, 'base64')), step: summary.step ?? 0 });
  }
  return out;
}

function asUri(v: unknown): vscode.Uri | undefined {
  return v instanceof vscode.Uri ? v : undefined;
}

async function firstComment(uri: vscode.Uri): Promise<string> {
  try {
    const bytes = await vscode.workspace.fs.readFile(uri);
    const head = new TextDecoder('utf-8').decode(bytes.subarray(0, 2048));
    const m = /^\s*#\s*(.+)$/m.exec(head);
    return m ? m[1].trim() : '';
  } catch {
    return '';
  }
}

function shapeDescription(s: WorkloadShape): string {
  switch (s) {
    case 'scroll': return vscode.l10n.t('Every page rewritten each frame (a scrolling terminal)');
    case 'cursor': return vscode.l10n.t('One page written between refreshes (a blinking cursor)');
    case 'idle-then-burst': return vscode.l10n.t('Idle for 3 s, then two stores (sl1ma\'s idle heuristic)');
    case 'two-mappings': return vscode.l10n.t('The framebuffer mapped twice (writable count 2)');
  }
}

function compareStrings(): CompareStrings {
  const t = vscode.l10n.t;
  return {
    title: t('Compare trackers'), tracker: t('Tracker'), paging: t('Paging'), answers: t('Answers'), missed: t('Missed pages'), extra: t('Extra pages'), violations: t('Violations'),
    expectsFailed: t('Failed expects'), hypercalls: t('Hypercalls'), vmexits: t('VM exits'), tlbFlushes: t('TLB flushes'), guestCycles: t('Guest cycles'),
    dom0Cycles: t('Dom0 cycles'), cycles: t('Total cycles'), chart: t('Cycles by tracker (guest + dom0)'), none: t('none'),
  };
}

function nonce(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return Buffer.from(bytes).toString('base64').replace(/[^A-Za-z0-9]/g, '');
}

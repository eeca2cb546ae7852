/**
 * The visualizer's host side: the command `xpl.openVisualizer`, the panel serializer for view type
 * `xpl.visualizer`, and which data source the panel shows — the active `xpl` debug session when
 * there is one, otherwise a trace opened without the debugger (the panel drives its own engine).
 */
import * as vscode from 'vscode';
import { TRACKERS, TraceError, type TrackerId } from '../../sim/program';
import { parseTraceSliced } from '../../trace/index';
import { plainMessage } from '../html';
import { DebugSource } from './debugSource';
import { EngineSource } from './engineSource';
import { VIEW_TYPE, VisualizerPanel } from './panel';
import type { VisualizerSource } from './source';

const DEBUG_TYPE = 'xpl';
export const OPEN_COMMAND = 'xpl.openVisualizer';
/**
 * Workspace state: the trace last shown without the debugger and the step shown, so that a panel
 * VS Code restores (a window reload, a restart) shows it again where it was.
 */
const LAST_TRACE = 'xpl.visualizer.lastTrace';
interface Remembered { uri: string; step: number }

class VisualizerController implements vscode.Disposable {
  private panel: VisualizerPanel | null = null;
  /** A trace opened without the debugger; shown whenever no xpl session is active. */
  private engine: EngineSource | null = null;
  private debug: DebugSource | null = null;
  /** The step to remember for the engine trace, written shortly after stepping stops. */
  private saveTimer: ReturnType<typeof setTimeout> | undefined;
  private unsaved: Remembered | undefined;
  private readonly output = vscode.window.createOutputChannel('Xen Paging Lens Visualizer', { log: true });

  constructor(private readonly context: vscode.ExtensionContext) {
    context.subscriptions.push(
      this.output,
      vscode.commands.registerCommand(OPEN_COMMAND, (arg?: unknown) => this.open(arg instanceof vscode.Uri ? arg : undefined)),
      vscode.window.registerWebviewPanelSerializer(VIEW_TYPE, {
        deserializeWebviewPanel: async (panel: vscode.WebviewPanel) => {
          this.adopt(panel);
          await this.restoreTrace();
        },
      }),
      vscode.debug.onDidChangeActiveDebugSession(() => this.follow()),
      vscode.debug.onDidStartDebugSession(() => this.follow()),
      vscode.debug.onDidTerminateDebugSession((s) => {
        if (this.debug?.session.id === s.id) {
          this.debug.dispose();
          this.debug = null;
        }
        this.follow();
      }),
      this,
    );
  }

  private log = (line: string): void => this.output.appendLine(line);

  private adopt(panel: vscode.WebviewPanel): VisualizerPanel {
    this.panel?.panel.dispose();
    const p = new VisualizerPanel(panel, this.context.extensionUri, this.log);
    p.onDidDispose(() => {
      if (this.panel === p) {
        this.panel = null;
        this.engine?.dispose();
        this.engine = null;
      }
    });
    this.panel = p;
    this.follow();
    return p;
  }

  /** The source to show now: the active xpl session, else the engine trace, else none. */
  private follow(): void {
    const s = vscode.debug.activeDebugSession;
    if (s && s.type === DEBUG_TYPE && this.debug?.session.id !== s.id) {
      this.debug?.dispose();
      this.debug = new DebugSource(s);
    }
    const want: VisualizerSource | null = s && s.type === DEBUG_TYPE ? this.debug : this.engine;
    this.panel?.setSource(want);
  }

  async open(uri?: vscode.Uri): Promise<void> {
    const session = vscode.debug.activeDebugSession;
    const following = session?.type === DEBUG_TYPE;
    const target = uri ?? (following ? undefined : vscode.window.activeTextEditor?.document.uri);
    if (!this.panel) {
      const panel = vscode.window.createWebviewPanel(VIEW_TYPE, vscode.l10n.t('Xen Paging Lens: Visualizer'), { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, {
        enableScripts: true,
        localResourceRoots: [vscode.Uri.joinPath(this.context.extensionUri, 'dist', 'webview')],
      });
      this.adopt(panel);
    } else {
      this.panel.reveal();
    }
    const sessionTrace = typeof session?.configuration.trace === 'string' ? session.configuration.trace : undefined;
    const isSessionTrace = !!target && !!sessionTrace && (target.fsPath === sessionTrace || target.toString() === sessionTrace);
    if (target && !isSessionTrace && /\.xpt(\.jsonl)?$/i.test(target.path)) {
      await this.openTrace(target);
    }
    this.follow();
  }

  /** A restored panel: the trace it showed without the debugger, at the step it showed, if still there. */
  private async restoreTrace(): Promise<void> {
    const saved = this.context.workspaceState.get<Partial<Remembered>>(LAST_TRACE);
    if (this.engine || typeof saved?.uri !== 'string') {
      return;
    }
    let uri: vscode.Uri;
    try {
      uri = vscode.Uri.parse(saved.uri, true);
      await vscode.workspace.fs.stat(uri);
    } catch {
      // Moved or deleted since: the panel shows what it would without it.
      return;
    }
    const step = typeof saved.step === 'number' && Number.isSafeInteger(saved.step) && saved.step > 0 ? saved.step : 0;
    this.log(`restoring the visualizer on ${uri.toString()} at step ${step}`);
    await this.openTrace(uri, step);
  }

  private remember(r: Remembered): void {
    this.unsaved = r;
    clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => this.save(), 250);
  }
  private save(): void {
    if (this.unsaved) {
      void this.context.workspaceState.update(LAST_TRACE, this.unsaved);
      this.unsaved = undefined;
    }
  }

  private async openTrace(uri: vscode.Uri, step = 0): Promise<void> {
    try {
      const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
      const text = doc ? doc.getText() : new TextDecoder('utf-8').decode(await vscode.workspace.fs.readFile(uri));
      const file = uri.scheme === 'file' ? vscode.workspace.asRelativePath(uri) : uri.toString();
      const program = await parseTraceSliced(text, file);
      const tracker = vscode.workspace.getConfiguration('xpl', uri).get<string>('defaultTracker', 'auto');
      const known = (TRACKERS as readonly string[]).includes(tracker) ? (tracker as TrackerId) : undefined;
      const source = new EngineSource(program, known ? { tracker: known } : {}, file);
      this.engine?.dispose();
      this.engine = source;
      const key = uri.toString();
      this.remember({ uri: key, step });
      source.onDidStep((e) => {
        if (this.engine === source) {
          this.remember({ uri: key, step: e.step });
        }
      });
      this.follow();
      await source.start();
      if (step > 0) {
        try {
          await source.request('xpl/seek', { step });
        } catch {
          // The trace is shorter now than when the step was remembered: it stays at the start.
        }
      }
    } catch (e) {
      const msg = e instanceof TraceError ? e.message : e instanceof Error ? e.message : String(e);
      void vscode.window.showErrorMessage(plainMessage(vscode.l10n.t('Cannot visualize {0}: {1}', uri.path.split('/').pop() ?? '', msg)));
    }
  }

  dispose(): void {
    clearTimeout(this.saveTimer);
    this.save();
    this.engine?.dispose();
    this.debug?.dispose();
    this.panel?.dispose();
  }
}

/** Registers the command, the serializer and the session following. Call once from `activate`. */
export function registerVisualizer(context: vscode.ExtensionContext): void {
  new VisualizerController(context);
}

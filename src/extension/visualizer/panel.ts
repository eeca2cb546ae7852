/**
 * The "Xen Paging Lens: Visualizer" panel: the webview's HTML (strict CSP with a nonce, resources
 * only from dist/webview), the message loop (every incoming message checked, hostile ones dropped),
 * and the requests the host answers itself (cost history, tracker comparison, export).
 */
import * as vscode from 'vscode';
import { compareTrackers, protocolCompareRows } from '../runner';
import {
  parseWebviewMessage, STRING_KEYS, type Args, type Costs, type HostMessage, type Method, type RequestMessage, type Result,
  type StringKey, type ThemeKind,
} from '../../shared/protocol';
import { costSeries, thinVisited } from './costHistory';
import type { VisualizerSource } from './source';

export const VIEW_TYPE = 'xpl.visualizer';

export function nonce(): string {
  const bytes = new Uint8Array(24);
  globalThis.crypto.getRandomValues(bytes);
  return Buffer.from(bytes).toString('base64').replace(/[+/=]/g, '');
}

/** The page. Nothing from a trace goes into it: all data arrives later as messages. */
export function webviewHtml(webview: vscode.Webview, extensionUri: vscode.Uri, title: string): string {
  const n = nonce();
  const root = vscode.Uri.joinPath(extensionUri, 'dist', 'webview');
  const js = webview.asWebviewUri(vscode.Uri.joinPath(root, 'visualizer.js'));
  const css = webview.asWebviewUri(vscode.Uri.joinPath(root, 'visualizer.css'));
  const csp = [
    "default-src 'none'",
    `img-src ${webview.cspSource} data: blob:`,
    `style-src ${webview.cspSource}`,
    `font-src ${webview.cspSource}`,
    `script-src 'nonce-${n}'`,
  ].join('; ');
  const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!DOCTYPE html>
<html lang="${esc(vscode.env.language || 'en')}">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${css.toString()}">
<title>${esc(title)}</title>
</head>
<body>
<script nonce="${n}" src="${js.toString()}"></script>
</body>
</html>`;
}

export function themeKind(kind: vscode.ColorThemeKind): ThemeKind {
  switch (kind) {
    case vscode.ColorThemeKind.Light: return 'light';
    case vscode.ColorThemeKind.HighContrast: return 'highContrast';
    case vscode.ColorThemeKind.HighContrastLight: return 'highContrastLight';
    default: return 'dark';
  }
}

function localizedStrings(): Record<StringKey, string> {
  const t = vscode.l10n.t;
  const s: Record<StringKey, string> = {
    title: t('Xen Paging Lens'), noSession: t('No xpl debug session and no trace open. Start debugging a .xpt trace, or run "Xen Paging Lens: Open Visualizer" on one.'),
    step: t('Step'), stepBack: t('Step back'), stepForward: t('Step forward'), play: t('Play'), pause: t('Pause'), first: t('First step'), last: t('Last step'),
    gpaMap: t('Guest-physical map'), pageTables: t('Page tables'), bitmaps: t('Dirty bitmaps'), tlbs: t('TLBs'), timeline: t('Timeline'), screens: t('Screens'),
    costs: t('Costs'), compare: t('Compare trackers'), guest: t('Guest tables'), shadow: t('Shadow tables'), ept: t('EPT entry'),
    written: t('written'), reported: t('reported'), missed: t('missed'), extra: t('extra'), writable: t('writable'), stale: t('stale'), ram: t('RAM'),
    framebuffer: t('framebuffer'), ptFrame: t('page-table frame'), shortcuts: t('Keyboard shortcuts'), export: t('Export'), close: t('Close'),
    vcpu: t('vCPU'), va: t('VA'), noWalk: t('Select a VA (type it, or pick a TLB entry) to see its walk.'), guestPixels: t('guest memory'),
    dmScreen: t('device model screen'), staleRegion: t('stale region'), selectedPage: t('selected page'), noData: t('nothing yet'),
    following: t('following line {0}, the last statement run that names a VA; type a VA to keep one, or clear it to follow again'),
  };
  return Object.fromEntries(STRING_KEYS.map((k) => [k, s[k]])) as Record<StringKey, string>;
}

const EXPORT_FILTERS: Record<'png' | 'svg' | 'csv' | 'json', Record<string, string[]>> = {
  png: { 'PNG image': ['png'] }, svg: { 'SVG image': ['svg'] }, csv: { CSV: ['csv'] }, json: { JSON: ['json'] },
};

/** A file name the webview suggests, reduced to a safe base name with the format's extension. */
export function safeFileName(name: string, format: string): string {
  const base = name.replace(/^.*[\\/]/, '').replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '').slice(0, 120) || 'xpl-view';
  return base.toLowerCase().endsWith(`.${format}`) ? base : `${base}.${format}`;
}

export class VisualizerPanel implements vscode.Disposable {
  private source: VisualizerSource | null = null;
  private sourceSub: vscode.Disposable | null = null;
  private ready = false;
  private costHistory = new Map<number, Costs>();
  /** The step of the last summary answered (the chart's current step). */
  private lastStep: number | null = null;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly onDisposeEmitter = new vscode.EventEmitter<void>();
  readonly onDidDispose = this.onDisposeEmitter.event;

  constructor(readonly panel: vscode.WebviewPanel, private readonly extensionUri: vscode.Uri, private readonly log: (line: string) => void) {
    panel.webview.options = { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist', 'webview')] };
    panel.webview.html = webviewHtml(panel.webview, extensionUri, panel.title);
    this.disposables.push(
      panel.webview.onDidReceiveMessage((m: unknown) => void this.receive(m)),
      vscode.window.onDidChangeActiveColorTheme((t) => this.post({ type: 'theme', theme: themeKind(t.kind) })),
      panel.onDidDispose(() => this.dispose()),
    );
  }

  /** Shows a new data source (or none); the webview starts over with it. */
  setSource(source: VisualizerSource | null): void {
    if (source === this.source) {
      return;
    }
    this.sourceSub?.dispose();
    this.source = source;
    this.costHistory = new Map();
    this.lastStep = null;
    this.sourceSub = source?.onDidStep((body) => this.post({ type: 'stepped', ...body })) ?? null;
    if (this.ready) {
      this.post({ type: 'source', source: source?.info ?? { mode: 'none', title: '' } });
    }
  }

  get currentSource(): VisualizerSource | null {
    return this.source;
  }

  private post(m: HostMessage): void {
    if (this.ready || m.type === 'init') {
      void this.panel.webview.postMessage(m);
    }
  }

  private async receive(raw: unknown): Promise<void> {
    const parsed = parseWebviewMessage(raw);
    if (!parsed.ok) {
      this.log(`visualizer: dropped a malformed message from the webview (${parsed.error})`);
      return;
    }
    const m = parsed.value;
    if (m.type === 'ready') {
      this.ready = true;
      this.post({ type: 'init', source: this.source?.info ?? { mode: 'none', title: '' }, theme: themeKind(vscode.window.activeColorTheme.kind), strings: localizedStrings() });
      return;
    }
    try {
      const result = await this.answer(m);
      this.post({ type: 'response', inReplyTo: m.requestId, ok: true, result });
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      this.log(`visualizer: ${m.method} failed: ${error}`);
      this.post({ type: 'response', inReplyTo: m.requestId, ok: false, error });
    }
  }

  private async answer(m: RequestMessage): Promise<unknown> {
    if (m.method === 'export') {
      return this.export(m.args);
    }
    const src = this.source;
    if (!src) {
      throw new Error(vscode.l10n.t('No trace is being visualized.'));
    }
    switch (m.method) {
      case 'costs': {
        // The source's samples fill in the steps between the ones shown (a seek, a jump); a source
        // that has none (an adapter without xpl/costs) leaves the shown steps alone.
        const sampled = await src.request('xpl/costs', {}).then((r) => r.series, () => []);
        return { series: costSeries(this.costHistory, sampled, this.lastStep) } satisfies Result<'costs'>;
      }
      case 'compare':
        return this.compare(src);
      case 'summary': {
        const s = await src.request('xpl/summary', {});
        this.costHistory.set(s.step, { ...s.costs });
        this.lastStep = s.step;
        thinVisited(this.costHistory, s.step);
        return s;
      }
      default:
        return src.request(`xpl/${m.method}`, m.args as never);
    }
  }

  private async compare(src: VisualizerSource): Promise<Result<'compare'>> {
    const { program, options } = await src.program();
    const rows = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Comparing trackers…'), cancellable: true },
      (_p, token) => compareTrackers(program, { inject: options.inject }, { cancelled: () => token.isCancellationRequested }));
    return { rows: protocolCompareRows(rows) };
  }

  /** Saves what the webview exported, where the user says (the dialog confirms any overwrite). */
  private async export(a: Args<'export'>): Promise<Result<'export'>> {
    const name = safeFileName(a.suggestedName, a.format);
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    const uri = await vscode.window.showSaveDialog({
      defaultUri: folder ? vscode.Uri.joinPath(folder, name) : undefined,
      filters: EXPORT_FILTERS[a.format],
      title: vscode.l10n.t('Export visualizer view'),
    });
    if (!uri) {
      return { saved: false };
    }
    let bytes: Uint8Array;
    if (a.format === 'png') {
      bytes = Buffer.from(a.data, 'base64');
      if (bytes.length < 8 || bytes[0] !== 0x89 || bytes[1] !== 0x50 || bytes[2] !== 0x4e || bytes[3] !== 0x47) {
        throw new Error(vscode.l10n.t('The exported image is not a PNG.'));
      }
    } else {
      bytes = new TextEncoder().encode(a.data);
    }
    await vscode.workspace.fs.writeFile(uri, bytes);
    return { saved: true, path: uri.scheme === 'file' ? uri.fsPath : uri.toString() };
  }

  reveal(): void {
    this.panel.reveal(undefined, true);
  }

  dispose(): void {
    this.sourceSub?.dispose();
    for (const d of this.disposables.splice(0)) {
      d.dispose();
    }
    this.onDisposeEmitter.fire();
    this.onDisposeEmitter.dispose();
  }
}

export type { Method };

/**
 * The `xpl` debugger in VS Code: the inline adapter (src/debug's XplDebugSession), launch
 * configurations (initial, dynamic, resolved with the user's settings), the walkthrough's completion
 * events read from the DAP traffic, and opening the visualizer when a session starts.
 */
import * as vscode from 'vscode';
import { XplDebugSession } from '../debug/session';
import type { FileAccessor } from '../debug/fileAccessor';
import { COMMANDS, DEBUG_TYPE, LANGUAGE_ID, SETTINGS, WALKTHROUGH_CONTEXT } from './constants';
import type { TrackerId } from '../sim/program';

/** Reads traces through VS Code: an open document's current text (unsaved edits), else the file system. */
export const workspaceFileAccessor: FileAccessor = {
  async readFile(path: string): Promise<string> {
    // A URI (`untitled:Untitled-1`, `vscode-remote://...`) or a file path; one-letter schemes are Windows drives.
    const uri = /^[a-zA-Z][a-zA-Z0-9+.-]+:/.test(path) ? vscode.Uri.parse(path) : vscode.Uri.file(path);
    const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
    if (open) {
      return open.getText();
    }
    return new TextDecoder('utf-8').decode(await vscode.workspace.fs.readFile(uri));
  },
};

export interface LaunchConfig extends vscode.DebugConfiguration {
  trace?: string;
  tracker?: TrackerId;
  inject?: string[];
  stopOnEntry?: boolean;
  checkpointInterval?: number;
  costs?: Record<string, number>;
}

/** The launch configuration for one trace, with the user's settings applied. */
export function launchConfigFor(uri: vscode.Uri, stopOnEntry: boolean): LaunchConfig {
  const config: LaunchConfig = {
    type: DEBUG_TYPE,
    request: 'launch',
    name: vscode.l10n.t('Debug {0}', uri.path.split('/').pop() ?? 'trace'),
    trace: uri.scheme === 'file' ? uri.fsPath : uri.toString(),
    stopOnEntry,
  };
  return applySettings(config, uri);
}

function applySettings(config: LaunchConfig, scope?: vscode.Uri): LaunchConfig {
  const settings = vscode.workspace.getConfiguration(SETTINGS.section, scope);
  const tracker = settings.get<string>(SETTINGS.defaultTracker, 'auto');
  if (config.tracker === undefined && tracker && tracker !== 'auto') {
    config.tracker = tracker as TrackerId;
  }
  if (config.checkpointInterval === undefined) {
    config.checkpointInterval = settings.get<number>(SETTINGS.checkpointInterval, 1000);
  }
  const costs = settings.get<Record<string, number>>(SETTINGS.costs, {});
  if (config.costs === undefined && costs && Object.keys(costs).length > 0) {
    config.costs = costs;
  }
  return config;
}

class XplConfigurationProvider implements vscode.DebugConfigurationProvider {
  provideDebugConfigurations(): vscode.DebugConfiguration[] {
    return [{ type: DEBUG_TYPE, request: 'launch', name: vscode.l10n.t('Debug trace'), trace: '${file}', stopOnEntry: true }];
  }

  resolveDebugConfiguration(_folder: vscode.WorkspaceFolder | undefined, config: LaunchConfig): vscode.ProviderResult<vscode.DebugConfiguration> {
    // F5 with no launch.json: debug the active trace.
    if (!config.type && !config.request && !config.name) {
      const editor = vscode.window.activeTextEditor;
      if (editor && editor.document.languageId === LANGUAGE_ID) {
        return launchConfigFor(editor.document.uri, true);
      }
    }
    if (!config.trace) {
      return vscode.window.showErrorMessage(vscode.l10n.t('Cannot find a trace to debug: set "trace" in the launch configuration or open a .xpt file.')).then(() => undefined);
    }
    return applySettings(config, vscode.window.activeTextEditor?.document.uri);
  }
}

class XplDynamicConfigurationProvider implements vscode.DebugConfigurationProvider {
  async provideDebugConfigurations(): Promise<vscode.DebugConfiguration[]> {
    const files = await vscode.workspace.findFiles('**/*.{xpt,xpt.jsonl}', '**/node_modules/**', 50);
    return files.map((uri) => launchConfigFor(uri, true));
  }
}

class InlineAdapterFactory implements vscode.DebugAdapterDescriptorFactory {
  createDebugAdapterDescriptor(): vscode.ProviderResult<vscode.DebugAdapterDescriptor> {
    return new vscode.DebugAdapterInlineImplementation(new XplDebugSession(workspaceFileAccessor));
  }
}

interface DapMessage { type?: string; command?: string; event?: string; body?: { reason?: string } }

/** Watches DAP traffic for the walkthrough: a violation stop, a step back. */
class WalkthroughTracker implements vscode.DebugAdapterTracker {
  onWillReceiveMessage(message: DapMessage): void {
    if (message.type === 'request' && (message.command === 'stepBack' || message.command === 'reverseContinue')) {
      void vscode.commands.executeCommand('setContext', WALKTHROUGH_CONTEXT.steppedBack, true);
    }
  }

  onDidSendMessage(message: DapMessage): void {
    if (message.type === 'event' && message.event === 'stopped' && message.body?.reason === 'exception') {
      void vscode.commands.executeCommand('setContext', WALKTHROUGH_CONTEXT.violationHit, true);
    }
  }
}

export function registerDebugger(context: vscode.ExtensionContext, output: vscode.OutputChannel): void {
  context.subscriptions.push(
    vscode.debug.registerDebugConfigurationProvider(DEBUG_TYPE, new XplConfigurationProvider()),
    vscode.debug.registerDebugConfigurationProvider(DEBUG_TYPE, new XplDynamicConfigurationProvider(), vscode.DebugConfigurationProviderTriggerKind.Dynamic),
    vscode.debug.registerDebugAdapterDescriptorFactory(DEBUG_TYPE, new InlineAdapterFactory()),
    vscode.debug.registerDebugAdapterTrackerFactory(DEBUG_TYPE, { createDebugAdapterTracker: () => new WalkthroughTracker() }),
    vscode.debug.onDidStartDebugSession((session) => {
      if (session.type !== DEBUG_TYPE) {
        return;
      }
      void vscode.commands.executeCommand('setContext', WALKTHROUGH_CONTEXT.debugStarted, true);
      if (vscode.workspace.getConfiguration(SETTINGS.section).get<boolean>(SETTINGS.openVisualizerOnDebugStart, true)) {
        vscode.commands.executeCommand(COMMANDS.openVisualizer).then(undefined, (e: unknown) => {
          output.appendLine(vscode.l10n.t('Could not open the visualizer: {0}', e instanceof Error ? e.message : String(e)));
        });
      }
    }),
  );
}

/** Debug Trace: the editor's run button, the code lens, the explorer menu. */
export async function debugTrace(uri?: vscode.Uri): Promise<boolean> {
  const target = uri instanceof vscode.Uri ? uri : vscode.window.activeTextEditor?.document.uri;
  if (!target) {
    void vscode.window.showInformationMessage(vscode.l10n.t('Open a .xpt trace to debug it.'));
    return false;
  }
  // With breakpoints in the file, run to them; without, stop on the first statement.
  const hasBreakpoints = vscode.debug.breakpoints.some((b) => b.enabled && b instanceof vscode.SourceBreakpoint && b.location.uri.toString() === target.toString());
  const folder = vscode.workspace.getWorkspaceFolder(target);
  return vscode.debug.startDebugging(folder, launchConfigFor(target, !hasBreakpoints));
}

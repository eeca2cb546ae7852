/**
 * The composition root: activation registers the language features, the debugger, the commands and
 * the visualizer, and measures itself (written to the output channel, read by the e2e tests).
 */
import * as vscode from 'vscode';
import { registerVisualizer } from './visualizer/index';
import { Commands } from './commands';
import { OUTPUT_CHANNEL } from './constants';
import { registerDebugger } from './debug';
import { registerLanguageFeatures } from './language/providers';
import { XPT_TABLE } from './language/xptTable';

export function activate(context: vscode.ExtensionContext): void {
  const t0 = performance.now();
  const output = vscode.window.createOutputChannel(OUTPUT_CHANNEL);
  context.subscriptions.push(output);
  registerLanguageFeatures(context, XPT_TABLE);
  registerDebugger(context, output);
  new Commands(context, output).register();
  try {
    registerVisualizer(context);
  } catch (e) {
    output.appendLine(vscode.l10n.t('The visualizer failed to register: {0}', e instanceof Error ? e.message : String(e)));
  }
  const ms = performance.now() - t0;
  output.appendLine(vscode.l10n.t('Xen Paging Lens {0} activated in {1} ms', String(context.extension.packageJSON.version ?? ''), ms.toFixed(1)));
}

export function deactivate(): void {
  // Everything is disposed through context.subscriptions.
}

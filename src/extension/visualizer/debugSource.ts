/** Follows an `xpl` debug session: state through its custom requests, moves through `xpl/stepped`. */
import * as vscode from 'vscode';
import { STEPPED_EVENT, type CustomRequests, type SteppedEventBody } from '../../debug/custom';
import type { BugId, Program, RunOptions, TrackerId } from '../../sim/program';
import { parseTraceSliced } from '../../trace/index';
import { steppedSchema, validate, type SourceInfo } from '../../shared/protocol';
import type { RequestName, VisualizerSource } from './source';

export class DebugSource implements VisualizerSource {
  readonly info: SourceInfo;
  private readonly emitter = new vscode.EventEmitter<SteppedEventBody>();
  readonly onDidStep = this.emitter.event;
  private readonly subscription: vscode.Disposable;

  constructor(readonly session: vscode.DebugSession) {
    const trace = typeof session.configuration.trace === 'string' ? session.configuration.trace : '';
    this.info = { mode: 'debug', title: `${session.name}${trace ? ` — ${trace}` : ''}` };
    this.subscription = vscode.debug.onDidReceiveDebugSessionCustomEvent((e) => {
      if (e.session.id !== this.session.id || e.event !== STEPPED_EVENT) {
        return;
      }
      // The adapter is trusted less than the type says: check the body before passing it on.
      const v = validate(steppedSchema, { type: 'stepped', ...(e.body as object) });
      if (v.ok) {
        this.emitter.fire({ step: v.value.step, line: v.value.line, done: v.value.done, events: v.value.events });
      }
    });
  }

  async request<K extends RequestName>(name: K, args: CustomRequests[K]['args']): Promise<CustomRequests[K]['result']> {
    return (await this.session.customRequest(name, args)) as CustomRequests[K]['result'];
  }

  /** The session's trace, parsed again (for `compare`), with its tracker and injected bugs. */
  async program(): Promise<{ program: Program; options: RunOptions }> {
    const c = this.session.configuration;
    if (typeof c.trace !== 'string' || !c.trace) {
      throw new Error(vscode.l10n.t('The debug session has no trace file.'));
    }
    const uri = c.trace.includes('://') ? vscode.Uri.parse(c.trace) : vscode.Uri.file(c.trace);
    const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
    const text = open ? open.getText() : new TextDecoder('utf-8').decode(await vscode.workspace.fs.readFile(uri));
    const options: RunOptions = {};
    if (typeof c.tracker === 'string') {
      options.tracker = c.tracker as TrackerId;
    }
    if (Array.isArray(c.inject)) {
      options.inject = c.inject.filter((b: unknown): b is BugId => typeof b === 'string');
    }
    return { program: await parseTraceSliced(text, c.trace), options };
  }

  dispose(): void {
    this.subscription.dispose();
    this.emitter.dispose();
  }
}

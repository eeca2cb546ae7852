/**
 * Where the visualizer's data comes from. Two sources share this interface and everything above it:
 * an `xpl` debug session (read through the custom DAP requests of src/debug/custom.ts) and an engine
 * the host drives itself (a trace opened without the debugger). Both answer the same requests with
 * the same shapes as the debug adapter does.
 */
import type * as vscode from 'vscode';
import type { CustomRequests, SteppedEventBody } from '../../debug/custom';
import type { Program, RunOptions } from '../../sim/program';
import type { Args, Result, SourceInfo } from '../../shared/protocol';

export type RequestName = keyof CustomRequests;

export interface VisualizerSource extends vscode.Disposable {
  readonly info: SourceInfo;
  /** Fires after every move of the model (step, seek, continue), like the adapter's `xpl/stepped`. */
  readonly onDidStep: vscode.Event<SteppedEventBody>;
  request<K extends RequestName>(name: K, args: CustomRequests[K]['args']): Promise<CustomRequests[K]['result']>;
  /** The parsed trace and run options (for `compare`). */
  program(): Promise<{ program: Program; options: RunOptions }>;
}

// Compile-time proof that what the model and the adapter send is what the webview accepts:
// if src/sim/inspect.ts or src/debug/custom.ts drift from src/shared/protocol.ts, this stops compiling.
type Same<A, B> = [A] extends [B] ? true : false;
type Assert<T extends true> = T;
export type ProtocolMatchesAdapter = [
  Assert<Same<CustomRequests['xpl/summary']['result'], Result<'summary'>>>,
  Assert<Same<CustomRequests['xpl/tlb']['result'], Result<'tlb'>>>,
  Assert<Same<CustomRequests['xpl/walk']['result'], Result<'walk'>>>,
  Assert<Same<CustomRequests['xpl/p2m']['result'], Result<'p2m'>>>,
  Assert<Same<CustomRequests['xpl/bitmap']['result'], Result<'bitmap'>>>,
  Assert<Same<CustomRequests['xpl/tracker']['result'], Result<'tracker'>>>,
  Assert<Same<CustomRequests['xpl/screen']['result'], Result<'screen'>>>,
  Assert<Same<CustomRequests['xpl/timeline']['result'], Result<'timeline'>>>,
  Assert<Same<CustomRequests['xpl/seek']['result'], Result<'seek'>>>,
  Assert<Same<CustomRequests['xpl/costs']['result'], Result<'costs'>>>,
  Assert<Same<Args<'walk'>, CustomRequests['xpl/walk']['args']>>,
  Assert<Same<Args<'bitmap'>, CustomRequests['xpl/bitmap']['args']>>,
];

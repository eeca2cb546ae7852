/**
 * Drives the standalone adapter (`node dist/debugAdapter.js`, built by
 * `npx webpack --mode development --env only=debugAdapter`) with DebugClient. DebugClient's requests
 * have no timeout of their own, so every request here goes through `within`: a crashed or hung
 * adapter fails the test instead of hanging it.
 */
import * as path from 'path';
import * as assert from 'node:assert/strict';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';

export const ROOT = path.resolve(__dirname, '..', '..', '..');
export const ADAPTER = path.join(ROOT, 'dist', 'debugAdapter.js');
export const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'debug');
export const fixture = (name: string): string => path.join(FIXTURES, name);

const LIMIT_MS = 60000;

export function within<T>(p: Promise<T>, what = 'request', ms = LIMIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms (adapter crashed or hung?)`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Expect a request to fail; returns the error message. */
export async function rejects(p: Promise<unknown>, what: string): Promise<string> {
  try {
    await within(p, what);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    assert.doesNotMatch(msg, /no answer within/, `${what} hung instead of failing`);
    return msg;
  }
  assert.fail(`${what} should have failed`);
}

export interface Session {
  dc: DebugClient;
  outputs: DebugProtocol.OutputEvent[];
  custom: DebugProtocol.Event[];
}

export async function open(): Promise<Session> {
  const dc = new DebugClient('node', ADAPTER, 'xpl', { cwd: ROOT }, true);
  dc.defaultTimeout = LIMIT_MS;
  await within(dc.start(), 'start');
  const outputs: DebugProtocol.OutputEvent[] = [];
  const custom: DebugProtocol.Event[] = [];
  dc.on('output', (e: DebugProtocol.OutputEvent) => outputs.push(e));
  dc.on('xpl/stepped', (e: DebugProtocol.Event) => custom.push(e));
  return { dc, outputs, custom };
}

export async function close(s: Session): Promise<void> {
  await within(s.dc.stop(), 'stop');
}

export interface LaunchOptions {
  trace: string;
  stopOnEntry?: boolean;
  breakpoints?: DebugProtocol.SourceBreakpoint[];
  functionBreakpoints?: string[];
  exceptions?: string[];
  tracker?: string;
  inject?: string[];
  checkpointInterval?: number;
  noDebug?: boolean;
  /** Tell the adapter the client shows progress events. */
  progress?: boolean;
}

/**
 * The VS Code start-up sequence: initialize, breakpoints, configurationDone, launch; resolves with the
 * first `stopped` event.
 */
export async function launch(s: Session, o: LaunchOptions): Promise<DebugProtocol.StoppedEvent> {
  const { dc } = s;
  const initialized = dc.waitForEvent('initialized');
  await within(dc.initializeRequest({
    adapterID: 'xpl', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path', supportsProgressReporting: o.progress,
  }), 'initialize');
  await within(initialized, 'initialized');
  if (o.breakpoints) {
    await within(dc.setBreakpointsRequest({ source: { path: o.trace }, breakpoints: o.breakpoints }), 'setBreakpoints');
  }
  if (o.functionBreakpoints) {
    await within(dc.setFunctionBreakpointsRequest({ breakpoints: o.functionBreakpoints.map((name) => ({ name })) }), 'setFunctionBreakpoints');
  }
  await within(dc.setExceptionBreakpointsRequest({ filters: o.exceptions ?? [] }), 'setExceptionBreakpoints');
  await within(dc.configurationDoneRequest(), 'configurationDone');
  const stopped = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
  stopped.catch(() => undefined);
  await within(dc.launchRequest({
    trace: o.trace, stopOnEntry: o.stopOnEntry, tracker: o.tracker, inject: o.inject,
    checkpointInterval: o.checkpointInterval, noDebug: o.noDebug,
  } as DebugProtocol.LaunchRequestArguments), 'launch');
  return within(stopped, 'first stop');
}

/** Send a request that resumes the model and wait for the next `stopped` event. */
export async function resume(s: Session, what: 'continue' | 'next' | 'stepIn' | 'stepOut' | 'stepBack' | 'reverseContinue', threadId = 1): Promise<DebugProtocol.StoppedEvent> {
  const stopped = s.dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
  stopped.catch(() => undefined);
  const args = { threadId };
  switch (what) {
    case 'continue': await within(s.dc.continueRequest(args), what); break;
    case 'next': await within(s.dc.nextRequest(args), what); break;
    case 'stepIn': await within(s.dc.stepInRequest(args), what); break;
    case 'stepOut': await within(s.dc.stepOutRequest(args), what); break;
    case 'stepBack': await within(s.dc.stepBackRequest(args), what); break;
    case 'reverseContinue': await within(s.dc.reverseContinueRequest(args), what); break;
  }
  return within(stopped, `stop after ${what}`);
}

/** The stack of the thread that stopped. */
export async function stack(s: Session, stopped: DebugProtocol.StoppedEvent): Promise<DebugProtocol.StackFrame[]> {
  const r = await within(s.dc.stackTraceRequest({ threadId: stopped.body.threadId ?? 1 }), 'stackTrace');
  return r.body.stackFrames;
}

export async function topLine(s: Session, stopped: DebugProtocol.StoppedEvent): Promise<number> {
  return (await stack(s, stopped))[0].line;
}

export async function scopes(s: Session, frameId: number): Promise<DebugProtocol.Scope[]> {
  return (await within(s.dc.scopesRequest({ frameId }), 'scopes')).body.scopes;
}

export async function vars(s: Session, ref: number, start?: number, count?: number): Promise<DebugProtocol.Variable[]> {
  return (await within(s.dc.variablesRequest({ variablesReference: ref, start, count }), 'variables')).body.variables;
}

export async function scopeVars(s: Session, frameId: number, scopeName: RegExp): Promise<{ scope: DebugProtocol.Scope; vars: DebugProtocol.Variable[] }> {
  const sc = (await scopes(s, frameId)).find((x) => scopeName.test(x.name));
  assert.ok(sc, `no scope matching ${scopeName}`);
  return { scope: sc, vars: await vars(s, sc.variablesReference) };
}

export function named(list: DebugProtocol.Variable[], name: string | RegExp): DebugProtocol.Variable {
  const v = list.find((x) => (typeof name === 'string' ? x.name === name : name.test(x.name)));
  assert.ok(v, `no variable ${String(name)} among ${list.map((x) => x.name).join(', ')}`);
  return v;
}

export async function evaluate(s: Session, expression: string, frameId?: number): Promise<DebugProtocol.EvaluateResponse['body']> {
  return (await within(s.dc.evaluateRequest({ expression, context: 'repl', frameId }), `evaluate ${expression}`)).body;
}

export async function custom<T>(s: Session, command: string, args: object): Promise<T> {
  return (await within(s.dc.customRequest(command, args), command)).body as T;
}

/**
 * Start-up, launch errors, malformed and out-of-order requests, restart after editing the trace,
 * and running without debugging.
 */
import { describe, it, beforeEach, afterEach } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { INVARIANTS } from '../../src/sim/program';
import { close, fixture, launch, open, rejects, resume, stack, topLine, within, type Session } from './harness';

describe('debug adapter: launch and robustness', () => {
  let s: Session;
  beforeEach(async () => {
    s = await open();
  });
  afterEach(async () => {
    await close(s);
  });

  it('advertises the invariants as exception filters and the features it implements', async () => {
    const r = await within(s.dc.initializeRequest({ adapterID: 'xpl', pathFormat: 'path' }), 'initialize');
    const caps = r.body ?? {};
    const filters = (caps.exceptionBreakpointFilters ?? []).map((f) => f.filter);
    assert.deepEqual(filters, [...INVARIANTS, 'any']);
    for (const k of ['supportsStepBack', 'supportsGotoTargetsRequest', 'supportsConditionalBreakpoints', 'supportsHitConditionalBreakpoints',
      'supportsLogPoints', 'supportsFunctionBreakpoints', 'supportsDataBreakpoints', 'supportsExceptionInfoRequest', 'supportsReadMemoryRequest',
      'supportsRestartRequest', 'supportsConfigurationDoneRequest'] as const) {
      assert.equal(caps[k], true, k);
    }
    assert.notEqual(caps.supportsWriteMemoryRequest, true);
    assert.notEqual(caps.supportsSetVariable, true);
  });

  it('fails the launch of a trace with an error with its FILE:LINE:COL message', async () => {
    const trace = fixture('broken-unknown-statement.xpt');
    await within(s.dc.initializeRequest({ adapterID: 'xpl', pathFormat: 'path' }), 'initialize');
    await within(s.dc.configurationDoneRequest(), 'configurationDone');
    const msg = await rejects(s.dc.launchRequest({ trace } as object), 'launch');
    assert.match(msg, /broken-unknown-statement\.xpt:3:1: error: .*frobnicate/);
    // The adapter is still alive and says why it cannot step.
    const next = await rejects(s.dc.nextRequest({ threadId: 1 }), 'next');
    assert.match(next, /launch first/);
  });

  it('rejects launch attributes that are missing or wrong', async () => {
    await within(s.dc.initializeRequest({ adapterID: 'xpl', pathFormat: 'path' }), 'initialize');
    await within(s.dc.configurationDoneRequest(), 'configurationDone');
    assert.match(await rejects(s.dc.launchRequest({} as object), 'launch without trace'), /"trace"/);
    assert.match(await rejects(s.dc.launchRequest({ trace: fixture('shadow-peek-after-one-store.xpt'), tracker: 'teleport' } as object), 'bad tracker'), /"tracker" must be one of/);
    assert.match(await rejects(s.dc.launchRequest({ trace: fixture('shadow-peek-after-one-store.xpt'), inject: ['no-such-bug'] } as object), 'bad inject'), /"inject"/);
    assert.match(await rejects(s.dc.launchRequest({ trace: fixture('no-such-file.xpt') } as object), 'missing file'), /cannot read/);
  });

  it('shows the user its own mistakes, not the errors of requests the client makes on its own', async () => {
    const raw = (command: string, args: object): Promise<DebugProtocol.Response> => new Promise((resolve) => {
      (s.dc as unknown as { doSend(c: string, a: object, cb: (r: DebugProtocol.Response) => void): void }).doSend(command, args, resolve);
    });
    const showUser = (r: DebugProtocol.Response): boolean | undefined => (r.body as { error?: { showUser?: boolean } } | undefined)?.error?.showUser;
    const stopped = await launch(s, { trace: fixture('shadow-peek-after-one-store.xpt'), stopOnEntry: true });
    const scopes = await raw('scopes', { frameId: (await stack(s, stopped))[0].id });
    const ref = (scopes.body as DebugProtocol.ScopesResponse['body']).scopes[0].variablesReference;
    await resume(s, 'next');
    // The Variables view may still expand a node of the previous stop: an error in the view, no notification.
    const stale = await raw('variables', { variablesReference: ref + 100000 });
    assert.equal(stale.success, false);
    assert.match(stale.message ?? '', /unknown variables reference/);
    assert.equal(showUser(stale), false);
    // A hover or watch that does not parse is answered in place, too.
    const hover = await raw('evaluate', { expression: 'dirtyCount(', context: 'hover' });
    assert.equal(hover.success, false);
    assert.equal(showUser(hover), false);
    // What the user typed in the debug console fails inline there (VS Code would also pop a
    // notification for showUser); a step they asked for is theirs to see.
    const repl = await raw('evaluate', { expression: 'dirtyCount(', context: 'repl' });
    assert.equal(repl.success, false);
    assert.equal(showUser(repl), false);
    const visualizer = await raw('xpl/seek', { step: -5 });
    assert.equal(visualizer.success, false);
    assert.equal(showUser(visualizer), false, 'the visualizer shows its own errors');
    const back = await raw('goto', { threadId: 1, targetId: 999 });
    assert.equal(showUser(back), true);
  });

  it('answers out-of-order and malformed requests with errors, and keeps working', async () => {
    assert.match(await rejects(s.dc.stackTraceRequest({ threadId: 1 }), 'stackTrace before launch'), /launch first/);
    assert.match(await rejects(s.dc.stepBackRequest({ threadId: 1 }), 'stepBack before launch'), /launch first/);
    assert.match(await rejects(s.dc.customRequest('xpl/summary', {}), 'summary before launch'), /launch first/);
    const stopped = await launch(s, { trace: fixture('shadow-peek-after-one-store.xpt'), stopOnEntry: true });
    assert.equal(stopped.body.reason, 'entry');
    assert.match(await rejects(s.dc.variablesRequest({ variablesReference: 987654 }), 'bad variables reference'), /unknown variables reference/);
    assert.match(await rejects(s.dc.stepBackRequest({ threadId: 1 }), 'stepBack at start'), /start of the trace/);
    assert.match(await rejects(s.dc.gotoRequest({ threadId: 1, targetId: 999 }), 'goto nowhere'), /no goto target/);
    assert.match(await rejects(s.dc.customRequest('xpl/bitmap', { fb: 'lfb', start: -1, count: 2 }), 'negative start'), /whole number/);
    assert.match(await rejects(s.dc.customRequest('xpl/walk', { va: 4096 }), 'walk without vcpu'), /"vcpu"/);
    assert.match(await rejects(s.dc.customRequest('frobnicate', {}), 'unknown request'), /unknown request/);
    assert.match(await rejects(s.dc.customRequest("readMemory", { memoryReference: "bogus", count: 4 }), 'readMemory bogus'), /not a memory reference/);
    assert.match(await rejects(s.dc.evaluateRequest({ expression: 'dirtyCount(' }), 'bad expression'), /ends too early|expected/);
    // Pause while stopped (a stop crossed the request): nothing to do, and no error to show.
    await within(s.dc.pauseRequest({ threadId: 1 }), 'pause while stopped');
    // Braces in messages arrive as written (the adapter does not treat them as placeholders).
    assert.match(await rejects(s.dc.evaluateRequest({ expression: 'bitmap {_x}' }), 'braces'), /no framebuffer '\{_x\}'/);
    assert.match(await rejects(s.dc.launchRequest({ trace: fixture('shadow-peek-after-one-store.xpt') } as object), 'second launch'), /already launched/);
    // Still alive and in the same place.
    const frames = await stack(s, stopped);
    assert.equal(frames[0].line, 2);
  });

  it('refuses the requests whose capabilities it does not advertise, instead of answering them as done', async () => {
    await launch(s, { trace: fixture('shadow-peek-after-one-store.xpt'), stopOnEntry: true });
    assert.match(await rejects(s.dc.setVariableRequest({ variablesReference: 1, name: 'x', value: '1' }), 'setVariable'), /does not support 'setVariable'.*running the trace/);
    assert.match(await rejects(s.dc.customRequest('writeMemory', { memoryReference: 'gfn:0', data: 'AAAA' }), 'writeMemory'), /does not support 'writeMemory'/);
    for (const c of ['setExpression', 'restartFrame', 'stepInTargets', 'terminateThreads', 'source', 'loadedSources', 'disassemble', 'setInstructionBreakpoints']) {
      assert.match(await rejects(s.dc.customRequest(c, {}), c), new RegExp(`does not support '${c}'`));
    }
    // Still stopped where it was, and still answering.
    const threads = await within(s.dc.threadsRequest(), 'threads after refusals');
    assert.ok(threads.body.threads.length >= 1);
  });

  it('survives every request sent with missing, null or wrongly typed arguments', async () => {
    await launch(s, { trace: fixture('shadow-peek-after-one-store.xpt'), stopOnEntry: true });
    const commands = ['setBreakpoints', 'setFunctionBreakpoints', 'setExceptionBreakpoints', 'dataBreakpointInfo', 'setDataBreakpoints',
      'continue', 'next', 'stepIn', 'stepOut', 'stepBack', 'reverseContinue', 'goto', 'gotoTargets', 'pause', 'stackTrace', 'scopes',
      'variables', 'evaluate', 'readMemory', 'exceptionInfo', 'breakpointLocations', 'restart', 'xpl/summary', 'xpl/tlb', 'xpl/walk',
      'xpl/p2m', 'xpl/bitmap', 'xpl/tracker', 'xpl/screen', 'xpl/timeline', 'xpl/seek', 'xpl/costs'];
    const garbage: unknown[] = [{}, { threadId: 'x', frameId: -1, variablesReference: 'a', expression: 7, memoryReference: 12, count: -5, source: 3,
      breakpoints: 'no', filters: [7], targetId: null, line: 'ten', fb: 4, vcpu: [], va: 'x', dom: {}, gfn: -1, step: 1e12, name: null, dataId: 5 }];
    for (const c of commands) {
      for (const a of garbage) {
        await within(s.dc.customRequest(c, a).then(() => undefined, () => undefined), c);
      }
    }
    const threads = await within(s.dc.threadsRequest(), 'threads after garbage');
    assert.ok(threads.body.threads.length >= 1);
    const r = await within(s.dc.evaluateRequest({ expression: 'step' }), 'evaluate after garbage');
    assert.match(r.body.result, /^\d+/);
  });

  it('stops with the FILE:LINE:COL error of a statement the model cannot carry out, and refuses to run past it', async () => {
    const stopped = await launch(s, { trace: fixture('store-to-unmapped-va.xpt') });
    assert.equal(stopped.body.reason, 'exception');
    assert.match(stopped.body.text ?? '', /store-to-unmapped-va\.xpt:5:16: error: guest page fault: 0x40000000 is not mapped/);
    assert.equal(await topLine(s, stopped), 5);
    const info = (await within(s.dc.exceptionInfoRequest({ threadId: stopped.body.threadId ?? 1 }), 'exceptionInfo')).body;
    assert.equal(info.exceptionId, 'trace-error');
    assert.ok(s.outputs.some((o) => o.body.category === 'stderr' && o.body.line === 5 && /guest page fault/.test(o.body.output)));
    assert.match(await rejects(s.dc.continueRequest({ threadId: 1 }), 'continue past the error'), /stopped at an error/);
    const back = await resume(s, 'stepBack', stopped.body.threadId);
    assert.equal(await topLine(s, back), 4);
    assert.ok(s.outputs.some((o) => o.body.output.includes('about to store')));
  });

  it('speaks 0-based lines and columns to a client that asks for them', async () => {
    const trace = fixture('shadow-peek-after-one-store.xpt');
    await within(s.dc.initializeRequest({ adapterID: 'xpl', pathFormat: 'path', linesStartAt1: false, columnsStartAt1: false }), 'initialize');
    // 0-based line 3 is the blank line 4: the breakpoint moves to the map on (1-based) line 5.
    const set = await within(s.dc.setBreakpointsRequest({ source: { path: trace }, breakpoints: [{ line: 3 }] }), 'setBreakpoints');
    assert.deepEqual([set.body.breakpoints[0].verified, set.body.breakpoints[0].line], [true, 4]);
    await within(s.dc.configurationDoneRequest(), 'configurationDone');
    const stopped = s.dc.waitForEvent('stopped');
    await within(s.dc.launchRequest({ trace } as object), 'launch');
    const ev = await within(stopped, 'stop');
    const top = (await within(s.dc.stackTraceRequest({ threadId: ev.body.threadId ?? 1 }), 'stackTrace')).body.stackFrames[0];
    assert.deepEqual([top.line, top.column], [4, 0]);
  });

  it('stops on entry at the first statement, not at the comment above it', async () => {
    const stopped = await launch(s, { trace: fixture('shadow-peek-after-one-store.xpt'), stopOnEntry: true });
    assert.equal(stopped.body.reason, 'entry');
    const frames = await stack(s, stopped);
    assert.equal(frames[0].line, 2);
    assert.match(frames[0].name, /^domain g paging=shadow/);
    assert.equal(frames[0].source?.path, fixture('shadow-peek-after-one-store.xpt'));
  });

  it('restart re-reads an edited trace', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xpl-debug-'));
    const trace = path.join(dir, 'edited.xpt');
    const original = fs.readFileSync(fixture('shadow-peek-after-one-store.xpt'), 'utf8');
    fs.writeFileSync(trace, original);
    try {
      const bpEvents: { line?: number; verified: boolean }[] = [];
      s.dc.on('breakpoint', (e: { body: { breakpoint: { line?: number; verified: boolean } } }) => bpEvents.push(e.body.breakpoint));
      // A breakpoint on the vram line, and one past the end of the file (unverified).
      const first = await launch(s, { trace, stopOnEntry: true, breakpoints: [{ line: 3 }, { line: 12 }] });
      assert.equal(await topLine(s, first), 2);
      // Two lines of comments pushed in at the top: every statement moves down by two.
      fs.writeFileSync(trace, '# edited\n# while debugging\n' + original.replace('note "the store', 'note "EDITED the store'));
      const stopped = s.dc.waitForEvent('stopped');
      await within(s.dc.restartRequest({ arguments: { trace, stopOnEntry: true } as DebugProtocolLaunch }), 'restart');
      const again = await within(stopped, 'stop after restart');
      assert.equal(again.body.reason, 'entry');
      assert.equal(await topLine(s, again as StoppedEvent), 4);
      // Line 3 is now a comment (the breakpoint moves to the domain on line 4); line 12 is now the expect.
      assert.deepEqual(bpEvents.map((b) => [b.line, b.verified]), [[4, true], [12, true]]);
      const atExpect = await resume(s, 'continue', again.body.threadId);
      assert.equal(atExpect.body.reason, 'breakpoint');
      assert.equal(await topLine(s, atExpect), 12);
      const end = await resume(s, 'continue', again.body.threadId);
      assert.equal(end.body.reason, 'end');
      assert.ok(s.outputs.some((o) => o.body.output.includes('EDITED the store') && o.body.line === 10), 'the edited note, at its new line');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('restart of a trace edited into an error fails with its position and keeps the old session', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xpl-debug-'));
    const trace = path.join(dir, 'broken-later.xpt');
    fs.writeFileSync(trace, fs.readFileSync(fixture('shadow-peek-after-one-store.xpt'), 'utf8'));
    try {
      const first = await launch(s, { trace, stopOnEntry: true });
      fs.writeFileSync(trace, 'domain g paging=shadow mem=16M vcpus=1\nwrite vcpu=g.0 va=oops\n');
      const msg = await rejects(s.dc.restartRequest({ arguments: { trace } as DebugProtocolLaunch }), 'restart');
      assert.match(msg, /broken-later\.xpt:2:\d+: error:/);
      assert.equal(await topLine(s, first), 2);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('debugs a trace saved with a UTF-8 byte-order mark: columns on line 1 do not count it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xpl-debug-'));
    const trace = path.join(dir, 'bom.xpt');
    fs.writeFileSync(trace, '\ufeffdomain g paging=shadow mem=16M vcpus=1\nflush dom=g\n');
    try {
      const stopped = await launch(s, { trace, stopOnEntry: true });
      const top = (await stack(s, stopped))[0];
      assert.deepEqual([top.line, top.column, top.name.startsWith('domain g paging=shadow')], [1, 1, true]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs without debugging to the end and terminates, printing notes', async () => {
    const terminated = s.dc.waitForEvent('terminated');
    await within(s.dc.initializeRequest({ adapterID: 'xpl', pathFormat: 'path' }), 'initialize');
    await within(s.dc.configurationDoneRequest(), 'configurationDone');
    await within(s.dc.launchRequest({ trace: fixture('shadow-peek-after-one-store.xpt'), noDebug: true } as object), 'launch');
    await within(terminated, 'terminated');
    assert.ok(s.outputs.some((o) => o.body.output.includes('set D in the shadow L1e')));
    assert.ok(s.outputs.some((o) => /end of trace: 8 steps, 0 violation\(s\), expects 1 passed, 0 failed/.test(o.body.output)));
  });
});

type DebugProtocolLaunch = { [key: string]: unknown };
type StoppedEvent = Parameters<typeof topLine>[1];

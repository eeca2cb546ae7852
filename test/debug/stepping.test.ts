/**
 * Stepping (over statements, into their hypervisor paths, out), time travel (step back, reverse
 * continue, goto, xpl/seek) and pause of a long run.
 */
import { describe, it, beforeEach, afterEach } from 'node:test';
import * as assert from 'node:assert/strict';
import type { DebugProtocol } from '@vscode/debugprotocol';
import {
  close, custom, evaluate, fixture, launch, open, rejects, resume, scopes, stack, topLine, vars, within, type Session,
} from './harness';
import type { StateSummary } from '../../src/sim/inspect';

const ONE = fixture('shadow-peek-after-one-store.xpt');
const LOOP = fixture('repeat-store-and-peek.xpt');
const LONG = fixture('long-loop-of-stores.xpt');

/** Every scope's variables, one level deep, as name → value: what the Variables view shows. */
async function snapshot(s: Session, stopped: DebugProtocol.StoppedEvent): Promise<string> {
  const frames = await stack(s, stopped);
  const out: string[] = [`line ${frames[0].line}`];
  for (const sc of await scopes(s, frames[0].id)) {
    for (const v of await vars(s, sc.variablesReference)) {
      out.push(`${sc.name} / ${v.name} = ${v.value}`);
      if (v.variablesReference && !/p2m/.test(sc.name)) {
        for (const c of await vars(s, v.variablesReference, 0, 64)) {
          out.push(`${sc.name} / ${v.name} / ${c.name} = ${c.value}`);
        }
      }
    }
  }
  const summary = await custom<StateSummary>(s, 'xpl/summary', {});
  out.push(JSON.stringify(summary));
  return out.join('\n');
}

describe('debug adapter: stepping and time travel', () => {
  let s: Session;
  beforeEach(async () => {
    s = await open();
  });
  afterEach(async () => {
    await close(s);
  });

  it('next executes one statement at a time, skipping comments and blank lines', async () => {
    let stopped = await launch(s, { trace: ONE, stopOnEntry: true });
    const seen = [await topLine(s, stopped)];
    for (let i = 0; i < 4; i++) {
      stopped = await resume(s, 'next', stopped.body.threadId);
      assert.equal(stopped.body.reason, 'step');
      seen.push(await topLine(s, stopped));
    }
    assert.deepEqual(seen, [2, 3, 5, 6, 7]);
    // The frame shows the statement as written, without its comment.
    stopped = await resume(s, 'stepBack', stopped.body.threadId);
    assert.equal((await stack(s, stopped))[0].name, 'peek fb=lfb  [next: step 4]');
  });

  it('steps over a repeat 0 (its body never runs; a breakpoint in it is never hit)', async () => {
    let stopped = await launch(s, { trace: fixture('repeat-zero.xpt'), stopOnEntry: true });
    assert.equal(await topLine(s, stopped), 2);
    stopped = await resume(s, 'next', stopped.body.threadId);
    assert.equal(await topLine(s, stopped), 7);
    stopped = await resume(s, 'next', stopped.body.threadId);
    assert.equal((await evaluate(s, 'step')).result, '2');
    stopped = await resume(s, 'stepBack', stopped.body.threadId);
    assert.equal(await topLine(s, stopped), 7);
    await close(s);
    s = await open();
    const end = await launch(s, { trace: fixture('repeat-zero.xpt'), breakpoints: [{ line: 4 }, { line: 5 }] });
    assert.equal(end.body.reason, 'end');
    assert.ok(!s.outputs.some((o) => o.body.output.includes('never')));
  });

  it('debugs the JSON Lines form of a trace: its lines, breakpoints and statements', async () => {
    const trace = fixture('shadow-peek-after-one-store.xpt.jsonl');
    const stopped = await launch(s, { trace, breakpoints: [{ line: 1 }, { line: 6 }] });
    assert.equal(stopped.body.reason, 'breakpoint');
    const frames = await stack(s, stopped);
    assert.equal(frames[0].line, 2, 'the comment line moved down to the domain');
    const write = await resume(s, 'continue', stopped.body.threadId);
    const top = (await stack(s, write))[0];
    assert.equal(top.line, 6);
    assert.match(top.name, /^\{"op":"write","vcpu":"g\.0","va":"0x10002000","byte":"0xab"\}/);
    const inside = await resume(s, 'stepIn', write.body.threadId);
    assert.match((await stack(s, inside))[0].name, /^tlb — 0x10002000/);
    const end = await resume(s, 'continue', inside.body.threadId);
    assert.equal(end.body.reason, 'end');
    assert.ok(s.outputs.some((o) => /expects 1 passed, 0 failed/.test(o.body.output)));
  });

  it('step in walks a store\'s hypervisor path one event at a time, then comes out after the statement', async () => {
    const at = await launch(s, { trace: ONE, breakpoints: [{ line: 7 }] });
    let stopped = await resume(s, 'stepIn', at.body.threadId);
    const names: string[] = [];
    for (let i = 0; i < 60; i++) {
      const frames = await stack(s, stopped);
      if (frames[0].line !== 7) {
        break;
      }
      assert.match(frames[frames.length - 1].name, /write vcpu=g\.0 va=0x10002000.*state shown is after it/);
      names.push(frames.slice(0, -1).map((f) => f.name.split(' — ')[0]).join(' < '));
      stopped = await resume(s, 'stepIn', stopped.body.threadId);
    }
    assert.equal(await topLine(s, stopped), 8, 'after the last event, step in comes out at the next statement');
    assert.ok(names.length >= 3, `several events: ${names.join(' | ')}`);
    assert.ok(names.some((n) => /sh_page_fault/.test(n)), `the shadow fault handler is on the path: ${names.join(' | ')}`);
    assert.ok(names.some((n) => / < /.test(n)), `some event is nested under another: ${names.join(' | ')}`);
  });

  it('step in on a peek goes through the pages it examines; step out leaves the statement', async () => {
    const at = await launch(s, { trace: ONE, breakpoints: [{ line: 9 }] });
    let stopped = await resume(s, 'stepIn', at.body.threadId);
    const tops: string[] = [];
    for (let i = 0; i < 200 && (await topLine(s, stopped)) === 9; i++) {
      tops.push((await stack(s, stopped))[0].name);
      stopped = await resume(s, 'stepIn', stopped.body.threadId);
    }
    assert.equal(await topLine(s, stopped), 10);
    // sl1ma looks at the pages it remembers a shadow L1e for: page 2, whose D it tests and clears.
    assert.deepEqual(tops.map((n) => n.split(' — ')[0]), [
      'xendevicemodel_track_dirty_vram', 'shadow_track_dirty_vram', 'guest_flush_tlb_mask', 'sl1ma',
    ]);
    assert.match(tops[1], /page 2: D set .*dirty, D cleared/);
    assert.match(tops[3], /dirty 2/);
    // Back before the peek, into its first event, out to the answer, out of the statement.
    const back = await resume(s, 'stepBack', stopped.body.threadId);
    assert.equal(await topLine(s, back), 9);
    const inside = await resume(s, 'stepIn', back.body.threadId);
    assert.equal((await stack(s, inside))[0].name, tops[0]);
    const answer = await resume(s, 'stepOut', inside.body.threadId);
    assert.equal((await stack(s, answer))[0].name, tops[3]);
    const out = await resume(s, 'stepOut', answer.body.threadId);
    assert.equal(await topLine(s, out), 10);
  });

  it('step back inside a statement walks its events backwards, then leaves before it', async () => {
    const at = await launch(s, { trace: ONE, breakpoints: [{ line: 7 }] });
    const first = await resume(s, 'stepIn', at.body.threadId);
    const firstName = (await stack(s, first))[0].name;
    const second = await resume(s, 'stepIn', first.body.threadId);
    assert.notEqual((await stack(s, second))[0].name, firstName);
    const back = await resume(s, 'stepBack', second.body.threadId);
    assert.equal((await stack(s, back))[0].name, firstName);
    const before = await resume(s, 'stepBack', back.body.threadId);
    const frames = await stack(s, before);
    assert.equal(frames.length, 1);
    assert.match(frames[0].name, /^write vcpu=g\.0 va=0x10002000 byte=0xab {2}\[next: step 5\]/);
  });

  it('next inside a statement steps over an event\'s children', async () => {
    const at = await launch(s, { trace: ONE, breakpoints: [{ line: 7 }] });
    const miss = await resume(s, 'stepIn', at.body.threadId);
    const missFrames = await stack(s, miss);
    assert.match(missFrames[0].name, /^tlb — 0x10002000/);
    assert.deepEqual([missFrames[0].line, missFrames[0].column], [7, 16], 'the event points at the va= argument');
    assert.deepEqual([missFrames[1].line, missFrames[1].column], [7, 1]);
    const fault = await resume(s, 'next', miss.body.threadId);
    assert.match((await stack(s, fault))[0].name, /^sh_page_fault — write 0x10002000/);
    const over = await resume(s, 'next', fault.body.threadId);
    assert.match((await stack(s, over))[0].name, /^cpu page walk — shadow L1e/);
    // Back to the fault and into it: its first child, with the fault handler as the caller frame.
    const fault2 = await resume(s, 'stepBack', over.body.threadId);
    assert.match((await stack(s, fault2))[0].name, /^sh_page_fault/);
    const inner = await resume(s, 'stepIn', fault2.body.threadId);
    const frames = (await stack(s, inner)).map((f) => f.name.split(' — ')[0]);
    assert.deepEqual(frames.slice(0, 2), ['set_ad_bits', 'sh_page_fault']);
    assert.equal(frames.length, 3);
  });

  it('next then step back restores exactly the same Variables and state', async () => {
    const at = await launch(s, { trace: ONE, breakpoints: [{ line: 7 }] });
    const before = await snapshot(s, at);
    const after = await resume(s, 'next', at.body.threadId);
    assert.notEqual(await snapshot(s, after), before, 'the store changed something');
    const back = await resume(s, 'stepBack', after.body.threadId);
    assert.equal(back.body.reason, 'step');
    assert.equal(await snapshot(s, back), before);
  });

  it('step back with checkpoints off replays from the start to the same state', async () => {
    const at = await launch(s, { trace: LOOP, breakpoints: [{ line: 8, hitCondition: '4' }], checkpointInterval: 0 });
    const before = await snapshot(s, at);
    const fwd = await resume(s, 'next', at.body.threadId);
    const back = await resume(s, 'stepBack', fwd.body.threadId);
    assert.equal(await snapshot(s, back), before);
  });

  it('reverse continue goes back to the previous breakpoint hit', async () => {
    const first = await launch(s, { trace: LOOP, breakpoints: [{ line: 8 }] });
    assert.equal((await evaluate(s, 'step')).result, '5');
    await resume(s, 'continue', first.body.threadId);
    const third = await resume(s, 'continue', first.body.threadId);
    assert.equal((await evaluate(s, 'step')).result, '9');
    const rev = await resume(s, 'reverseContinue', third.body.threadId);
    assert.equal(rev.body.reason, 'breakpoint');
    assert.equal(await topLine(s, rev), 8);
    assert.equal((await evaluate(s, 'step')).result, '7');
    const rev2 = await resume(s, 'reverseContinue', rev.body.threadId);
    assert.equal((await evaluate(s, 'step')).result, '5');
    const start = await resume(s, 'reverseContinue', rev2.body.threadId);
    assert.equal(start.body.reason, 'entry');
    assert.equal((await evaluate(s, 'step')).result, '0');
  });

  it('reverse continue finds an earlier invariant violation', async () => {
    const end = await launch(s, { trace: fixture('skip-flush-loses-update.xpt') });
    assert.equal(end.body.reason, 'end');
    await within(s.dc.setExceptionBreakpointsRequest({ filters: ['stale-tlb'] }), 'filters');
    const rev = await resume(s, 'reverseContinue', end.body.threadId);
    assert.equal(rev.body.reason, 'exception');
    assert.equal(rev.body.text, 'stale-tlb');
    assert.equal(await topLine(s, rev), 10);
  });

  it('goto travels in time to a later line and back to an earlier one', async () => {
    const entry = await launch(s, { trace: LOOP, stopOnEntry: true });
    const later = (await within(s.dc.gotoTargetsRequest({ source: { path: LOOP }, line: 10 }), 'gotoTargets')).body.targets;
    assert.equal(later.length, 1);
    let stopped = s.dc.waitForEvent('stopped');
    await within(s.dc.gotoRequest({ threadId: entry.body.threadId ?? 1, targetId: later[0].id }), 'goto');
    let ev = await within(stopped, 'goto stop') as DebugProtocol.StoppedEvent;
    assert.equal(ev.body.reason, 'goto');
    assert.equal(await topLine(s, ev), 10);
    assert.equal((await evaluate(s, 'step')).result, '14');
    const earlier = (await within(s.dc.gotoTargetsRequest({ source: { path: LOOP }, line: 5 }), 'gotoTargets')).body.targets;
    stopped = s.dc.waitForEvent('stopped');
    await within(s.dc.gotoRequest({ threadId: ev.body.threadId ?? 1, targetId: earlier[0].id }), 'goto');
    ev = await within(stopped, 'goto stop') as DebugProtocol.StoppedEvent;
    assert.equal(await topLine(s, ev), 5);
    assert.equal((await evaluate(s, 'step')).result, '3');
  });

  it('xpl/seek travels to a step and announces it', async () => {
    const entry = await launch(s, { trace: LOOP, stopOnEntry: true });
    const stopped = s.dc.waitForEvent('stopped');
    const r = await custom<{ step: number }>(s, 'xpl/seek', { step: 6 });
    assert.equal(r.step, 6);
    const ev = await within(stopped, 'seek stop') as DebugProtocol.StoppedEvent;
    assert.equal(ev.body.reason, 'goto');
    assert.equal(await topLine(s, ev), 7);
    const last = s.custom[s.custom.length - 1];
    assert.deepEqual([last.body.step, last.body.line, last.body.done], [6, 7, false]);
    // Past the end: an error, and the position does not change.
    const stayed = s.dc.waitForEvent('stopped');
    assert.match(await rejects(s.dc.customRequest('xpl/seek', { step: 1000 }), 'seek past the end'), /past the end of the trace \(16 steps\)/);
    await within(stayed, 'stopped where it was');
    assert.equal((await evaluate(s, 'step')).result, '6');
    // Back to a step already seen, then ahead again.
    await custom(s, 'xpl/seek', { step: 2 });
    assert.equal((await evaluate(s, 'step')).result, '2');
    await custom(s, 'xpl/seek', { step: 16 });
    assert.equal((await evaluate(s, 'done')).result, 'true');
    assert.equal(entry.body.reason, 'entry');
  });

  it('pause stops a long continue promptly, and the adapter answers while the model runs', async () => {
    const entry = await launch(s, { trace: LONG, stopOnEntry: true });
    await within(s.dc.continueRequest({ threadId: entry.body.threadId ?? 1 }), 'continue');
    // Requests are answered between slices of the run.
    const threads = await within(s.dc.threadsRequest(), 'threads while running');
    assert.ok(threads.body.threads.length >= 1);
    await new Promise((r) => setTimeout(r, 200));
    const stopped = s.dc.waitForEvent('stopped');
    await within(s.dc.pauseRequest({ threadId: 1 }), 'pause');
    const ev = await within(stopped, 'pause stop') as DebugProtocol.StoppedEvent;
    assert.equal(ev.body.reason, 'pause');
    const step = Number((await evaluate(s, 'step')).result.split(' ')[0]);
    assert.ok(step > 4 && step < 5_000_004, `paused in the middle (step ${step})`);
    assert.equal((await evaluate(s, 'done')).result, 'false');
    // And it can go on.
    const more = await resume(s, 'next', ev.body.threadId);
    assert.equal(await topLine(s, more), 6);
  });

  it('step out of a repeat body runs the remaining iterations and stops after end', async () => {
    const inLoop = await launch(s, { trace: LOOP, breakpoints: [{ line: 7 }] });
    assert.equal((await evaluate(s, 'step')).result, '4');
    const frames = await stack(s, inLoop);
    assert.deepEqual(frames.map((f) => f.line), [7, 6], 'the repeat encloses the statement');
    await within(s.dc.setBreakpointsRequest({ source: { path: LOOP }, breakpoints: [] }), 'clear breakpoints');
    const out = await resume(s, 'stepOut', inLoop.body.threadId);
    assert.equal(out.body.reason, 'step');
    assert.equal(await topLine(s, out), 10);
    assert.equal((await evaluate(s, 'step')).result, '14');
  });

  it('restart while a long continue runs starts over', async () => {
    const entry = await launch(s, { trace: LONG, stopOnEntry: true });
    await within(s.dc.continueRequest({ threadId: entry.body.threadId ?? 1 }), 'continue');
    await new Promise((r) => setTimeout(r, 100));
    const stopped = s.dc.waitForEvent('stopped');
    await within(s.dc.restartRequest({}), 'restart');
    const ev = await within(stopped, 'stop after restart') as DebugProtocol.StoppedEvent;
    assert.equal(ev.body.reason, 'entry');
    assert.equal((await evaluate(s, 'step')).result, '0');
    assert.equal(await topLine(s, ev), 2);
  });

  it('shows progress while running ahead to a far step and while replaying back from the start', async () => {
    const entry = await launch(s, { trace: LONG, stopOnEntry: true, progress: true });
    const events: string[] = [];
    for (const kind of ['progressStart', 'progressUpdate', 'progressEnd']) {
      s.dc.on(kind, (e: DebugProtocol.Event) => events.push(`${kind} ${(e.body as { title?: string }).title ?? ''}`.trim()));
    }
    await custom(s, 'xpl/seek', { step: 300_000 });
    assert.equal((await evaluate(s, 'step')).result.split(' ')[0], '300000');
    const rev = await resume(s, 'reverseContinue', entry.body.threadId);
    assert.equal(rev.body.reason, 'entry');
    const starts = events.filter((e) => e.startsWith('progressStart'));
    assert.deepEqual(starts, ['progressStart Running to step 300000', 'progressStart Replaying from the start']);
    assert.equal(events.filter((e) => e === 'progressEnd').length, 2);
    assert.ok(events.some((e) => e === 'progressUpdate'));
  });


  it('stepping onto the end prints the summary; a step at the end finishes with the exit status xpl check would give', async () => {
    let stopped = await launch(s, { trace: ONE, stopOnEntry: true });
    while (!s.outputs.some((o) => o.body.output.startsWith('end of trace'))) {
      stopped = await resume(s, 'next', stopped.body.threadId);
    }
    assert.match(s.outputs.find((o) => o.body.output.startsWith('end of trace'))!.body.output, /expects 1 passed, 0 failed/);
    const exited = s.dc.waitForEvent('exited') as Promise<DebugProtocol.ExitedEvent>;
    const terminated = s.dc.waitForEvent('terminated');
    await within(s.dc.nextRequest({ threadId: stopped.body.threadId ?? 1 }), 'next at the end');
    assert.equal((await within(exited, 'exited')).body.exitCode, 0);
    await within(terminated, 'terminated');
  });

  it('without checkpoints a far step back replays in slices: the adapter answers meanwhile, and lands one step back', async () => {
    await launch(s, { trace: LONG, stopOnEntry: true, checkpointInterval: 0 });
    const seeked = s.dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
    await custom(s, 'xpl/seek', { step: 300000 });
    await within(seeked, 'seek stop', 30000);
    const order: string[] = [];
    const back = (s.dc.waitForEvent('stopped', 30000) as Promise<DebugProtocol.StoppedEvent>).then((e) => {
      order.push('stopped');
      return e;
    });
    await within(s.dc.stepBackRequest({ threadId: 1 }), 'stepBack');
    await within(s.dc.threadsRequest(), 'threads during the replay');
    order.push('threads');
    const stopped = await back;
    assert.deepEqual(order, ['threads', 'stopped'], 'the threads request was answered while the replay ran');
    const summary = await custom<StateSummary>(s, 'xpl/summary', {});
    assert.equal(summary.step, 299999);
    assert.equal(stopped.body.reason, 'step');
  });

  it('pause during reverse continue goes back to where it started, not to wherever the replay had got', async () => {
    await launch(s, { trace: LONG, stopOnEntry: true, checkpointInterval: 0 });
    const seeked = s.dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
    await custom(s, 'xpl/seek', { step: 1500000 });
    await within(seeked, 'seek stop', 30000);
    const paused = s.dc.waitForEvent('stopped', 30000) as Promise<DebugProtocol.StoppedEvent>;
    await within(s.dc.reverseContinueRequest({ threadId: 1 }), 'reverseContinue');
    await within(s.dc.pauseRequest({ threadId: 1 }), 'pause');
    const stopped = await paused;
    assert.equal(stopped.body.reason, 'pause');
    assert.match(stopped.body.description ?? '', /stayed where reverse continue started/);
    assert.equal((await custom<StateSummary>(s, 'xpl/summary', {})).step, 1500000);
  });

  it('refuses a goto target that is not a statement number, and Jump to Cursor on the current line stays there', async () => {
    const stopped = await launch(s, { trace: ONE, stopOnEntry: true });
    assert.match(await rejects(s.dc.gotoRequest({ threadId: 1, targetId: 2.5 }), 'goto 2.5'), /no goto target 2\.5/);
    const line = await topLine(s, stopped);
    const targets = await within(s.dc.gotoTargetsRequest({ source: { path: ONE }, line }), 'gotoTargets');
    const again = s.dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
    await within(s.dc.gotoRequest({ threadId: 1, targetId: targets.body.targets[0].id }), 'goto here');
    const here = await within(again, 'stop');
    assert.match(here.body.description ?? '', /Already at line/);
    assert.equal(await topLine(s, here), line);
  });

  it('a variables reference of an earlier stop is refused, never answered with another container', async () => {
    let stopped = await launch(s, { trace: ONE, stopOnEntry: true });
    const old = (await scopes(s, (await stack(s, stopped))[0].id))[0].variablesReference;
    stopped = await resume(s, 'next', stopped.body.threadId);
    const fresh = await scopes(s, (await stack(s, stopped))[0].id);
    assert.ok(fresh.every((sc) => sc.variablesReference !== old), 'new references never reuse old numbers');
    assert.match(await rejects(s.dc.variablesRequest({ variablesReference: old }), 'old reference'), /unknown variables reference/);
  });
});

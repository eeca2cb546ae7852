/**
 * Line breakpoints (adjusted to statements), conditions over model state, hit counts, logpoints,
 * event-kind (function) breakpoints, invariant exception filters and data breakpoints.
 */
import { describe, it, beforeEach, afterEach } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  close, evaluate, fixture, launch, named, open, resume, scopes, stack, topLine, vars, within, type Session,
} from './harness';

const EIGHT = fixture('eight-stores-then-peek.xpt');
const LOOP = fixture('repeat-store-and-peek.xpt');
const ONE = fixture('shadow-peek-after-one-store.xpt');
const SKIP = fixture('skip-flush-loses-update.xpt');
const HAP = fixture('hap-store-after-arming-faults.xpt');

describe('debug adapter: breakpoints', () => {
  let s: Session;
  beforeEach(async () => {
    s = await open();
  });
  afterEach(async () => {
    await close(s);
  });

  it('moves a breakpoint on a comment to the next statement and refuses one past the end', async () => {
    await within(s.dc.initializeRequest({ adapterID: 'xpl', pathFormat: 'path' }), 'initialize');
    const r = await within(s.dc.setBreakpointsRequest({ source: { path: EIGHT }, breakpoints: [{ line: 1 }, { line: 9 }, { line: 200 }] }), 'setBreakpoints');
    const [a, b, c] = r.body.breakpoints;
    assert.deepEqual([a.verified, a.line], [true, 2]);
    assert.deepEqual([b.verified, b.line], [true, 9]);
    assert.equal(c.verified, false);
    assert.match(c.message ?? '', /no statement/);
    const bad = await within(s.dc.setBreakpointsRequest({ source: { path: EIGHT }, breakpoints: [{ line: 6, condition: 'dirtyCount(' }] }), 'bad condition');
    assert.equal(bad.body.breakpoints[0].verified, false);
  });

  it('stops where dirtyCount("lfb") > 3 first holds: before the fifth store, on vCPU g.1', async () => {
    const lines = [6, 7, 8, 9, 10, 11, 12, 13];
    const stopped = await launch(s, { trace: EIGHT, breakpoints: lines.map((line) => ({ line, condition: 'dirtyCount("lfb") > 3' })) });
    assert.equal(stopped.body.reason, 'breakpoint');
    assert.equal(await topLine(s, stopped), 10);
    const threads = (await within(s.dc.threadsRequest(), 'threads')).body.threads;
    const g1 = threads.find((t) => t.id === stopped.body.threadId);
    assert.match(g1?.name ?? '', /vCPU g\.1/);
    assert.ok(threads.some((t) => /vCPU g\.0/.test(t.name)));
    assert.equal((await evaluate(s, 'dirtyCount("lfb")')).result, '4');
  });

  it('stops where tlbSize(1) > 0 first holds: after vCPU g.1 stored once', async () => {
    const lines = [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];
    const stopped = await launch(s, { trace: EIGHT, breakpoints: lines.map((line) => ({ line, condition: 'tlbSize("g.1") > 0' })) });
    assert.equal(await topLine(s, stopped), 11);
    assert.equal((await evaluate(s, 'tlbSize(0) == 4')).result, 'true');
  });

  it('honours hit counts inside a repeat body', async () => {
    const first = await launch(s, { trace: LOOP, breakpoints: [{ line: 7, hitCondition: '3' }] });
    assert.equal(await topLine(s, first), 7);
    assert.equal((await evaluate(s, 'step')).result, '8');
    const again = await resume(s, 'continue', first.body.threadId);
    assert.equal(again.body.reason, 'breakpoint');
    assert.equal((await evaluate(s, 'step')).result, '10');
  });

  it('stops only on the exact hit for ==N', async () => {
    const first = await launch(s, { trace: LOOP, breakpoints: [{ line: 7, hitCondition: '==2' }] });
    assert.equal((await evaluate(s, 'step')).result, '6');
    const end = await resume(s, 'continue', first.body.threadId);
    assert.equal(end.body.reason, 'end');
  });

  it('prints logpoints with {expressions} linked to their line, without stopping', async () => {
    const end = await launch(s, { trace: LOOP, breakpoints: [{ line: 8, logMessage: 'before peek at step {step}: {dirtyCount("lfb")} dirty' }] });
    assert.equal(end.body.reason, 'end');
    const logs = s.outputs.filter((o) => o.body.output.startsWith('before peek'));
    assert.deepEqual(logs.map((o) => o.body.output.trim()), [5, 7, 9, 11, 13].map((n) => `before peek at step ${n}: 1 dirty`));
    assert.ok(logs.every((o) => o.body.line === 8 && o.body.source?.path === LOOP));
    const note = s.outputs.find((o) => o.body.output.includes('loop done'));
    assert.equal(note?.body.line, 10);
  });

  it('stops on an event kind (shadow-fault) inside the store that takes it', async () => {
    const stopped = await launch(s, { trace: ONE, functionBreakpoints: ['shadow-fault'] });
    assert.equal(stopped.body.reason, 'function breakpoint');
    const frames = await stack(s, stopped);
    assert.equal(frames[0].line, 7);
    assert.match(frames[frames.length - 1].name, /^write vcpu=g\.0 va=0x10002000.*state shown is after it/);
    assert.ok(frames.length >= 2);
  });

  it('stops on an EPT violation under HAP', async () => {
    const stopped = await launch(s, { trace: HAP, functionBreakpoints: ['ept-violation'] });
    assert.equal(stopped.body.reason, 'function breakpoint');
    assert.equal(await topLine(s, stopped), 7);
  });

  it('stops on a stale-tlb violation with exceptionInfo naming the store', async () => {
    const stopped = await launch(s, { trace: SKIP, exceptions: ['stale-tlb'] });
    assert.equal(stopped.body.reason, 'exception');
    assert.equal(stopped.body.text, 'stale-tlb');
    assert.equal(await topLine(s, stopped), 10);
    const info = (await within(s.dc.exceptionInfoRequest({ threadId: stopped.body.threadId ?? 1 }), 'exceptionInfo')).body;
    assert.equal(info.exceptionId, 'stale-tlb');
    assert.match(info.description ?? '', /caused by line 10: write vcpu=g\.0 va=0x10000000/);
    assert.ok(s.outputs.some((o) => o.body.category === 'stderr' && /violation stale-tlb/.test(o.body.output) && o.body.line === 10));
    const end = await resume(s, 'continue', stopped.body.threadId);
    assert.equal(end.body.reason, 'end');
  });

  it('stops on lost-update through the "any" filter with a condition', async () => {
    await within(s.dc.initializeRequest({ adapterID: 'xpl', pathFormat: 'path' }), 'initialize');
    await within(s.dc.setExceptionBreakpointsRequest({ filters: [], filterOptions: [{ filterId: 'any', condition: 'id == "lost-update"' }] }), 'filters');
    await within(s.dc.configurationDoneRequest(), 'configurationDone');
    const stopped = s.dc.waitForEvent('stopped');
    await within(s.dc.launchRequest({ trace: SKIP } as object), 'launch');
    const ev = await within(stopped, 'stop');
    assert.equal(ev.body.reason, 'exception');
    assert.equal(ev.body.text, 'lost-update');
    const info = (await within(s.dc.exceptionInfoRequest({ threadId: ev.body.threadId ?? 1 }), 'exceptionInfo')).body;
    assert.match(info.description ?? '', /pages \[0\]/);
    assert.match(info.description ?? '', /line 11: peek fb=lfb/);
  });

  it('breaks when the guest PTE D bit for a VA changes (data breakpoint from Variables)', async () => {
    const entry = await launch(s, { trace: ONE, breakpoints: [{ line: 7 }] });
    assert.equal(await topLine(s, entry), 7);
    const frameId = (await stack(s, entry))[0].id;
    const guest = (await scopes(s, frameId)).find((x) => /^Guest page tables \(0x10002000\)/.test(x.name));
    assert.ok(guest, 'guest page-table scope for the store\'s VA');
    const levels = await vars(s, guest.variablesReference);
    const l1 = named(levels, /^L1\[/);
    const fields = await vars(s, l1.variablesReference);
    assert.equal(named(fields, 'D').value, 'false');
    const info = (await within(s.dc.dataBreakpointInfoRequest({ variablesReference: l1.variablesReference, name: 'D' }), 'dataBreakpointInfo')).body;
    assert.ok(info.dataId);
    assert.match(info.description, /D bit of the guest L1 entry for 0x10002000/);
    const set = await within(s.dc.setDataBreakpointsRequest({ breakpoints: [{ dataId: info.dataId }] }), 'setDataBreakpoints');
    assert.equal(set.body.breakpoints[0].verified, true);
    const hit = await resume(s, 'continue', entry.body.threadId);
    assert.equal(hit.body.reason, 'data breakpoint');
    assert.match(hit.body.description ?? '', /false → true/);
    assert.equal(await topLine(s, hit), 8);
  });

  it('breaks when a framebuffer page\'s bitmap state changes', async () => {
    const entry = await launch(s, { trace: ONE, stopOnEntry: true });
    const info = (await within(s.dc.dataBreakpointInfoRequest({ name: 'bit:lfb:2' }), 'dataBreakpointInfo')).body;
    assert.equal(info.dataId, 'bit:lfb:2');
    await within(s.dc.setDataBreakpointsRequest({ breakpoints: [{ dataId: 'bit:lfb:2' }] }), 'setDataBreakpoints');
    const seen: string[] = [];
    let stop = entry;
    for (let i = 0; i < 10; i++) {
      stop = await resume(s, 'continue', stop.body.threadId);
      if (stop.body.reason !== 'data breakpoint') {
        break;
      }
      seen.push(`${await topLine(s, stop)}: ${(stop.body.description ?? '').replace(/^state of page 2 of lfb changed: /, '')}`);
    }
    assert.equal(stop.body.reason, 'end');
    assert.deepEqual(seen, [
      '5: absent → clean', // vram declared it
      '7: clean → reported', // the first peek answered enodata: every page
      '8: reported → written reported writable stale-screen differs', // the store
      '10: written reported writable stale-screen differs → reported writable stale-screen', // the second peek
    ]);
  });

  it('breaks when a p2m entry\'s type changes: arming, then the EPT violation', async () => {
    const entry = await launch(s, { trace: HAP, stopOnEntry: true });
    await within(s.dc.setDataBreakpointsRequest({ breakpoints: [{ dataId: 'p2m:h:0x803' }] }), 'setDataBreakpoints');
    const seen: string[] = [];
    let stop = entry;
    for (let i = 0; i < 10; i++) {
      stop = await resume(s, 'continue', stop.body.threadId);
      if (stop.body.reason !== 'data breakpoint') {
        break;
      }
      seen.push(`${await topLine(s, stop)}: ${(stop.body.description ?? '').replace(/^p2m type of gfn 0x803 in h changed: /, '')}`);
    }
    assert.deepEqual(seen, [
      '4: absent → ram_rw', // the domain's RAM
      '7: ram_rw → ram_logdirty', // the first peek arms the range
      '8: ram_logdirty → ram_rw', // the store's EPT violation
      '9: ram_rw → ram_logdirty', // the second peek re-arms it
    ]);
  });

  it('breaks when a TLB entry appears and when the tracker\'s flush drops it', async () => {
    const entry = await launch(s, { trace: ONE, stopOnEntry: true });
    await within(s.dc.setDataBreakpointsRequest({ breakpoints: [{ dataId: 'tlb:g.0:0x10002000' }] }), 'setDataBreakpoints');
    const filled = await resume(s, 'continue', entry.body.threadId);
    assert.equal(await topLine(s, filled), 8);
    assert.match(filled.body.description ?? '', /TLB entry for 0x10002000 on g\.0 changed: absent → mfn 0x[0-9a-f]+ W D/);
    const flushed = await resume(s, 'continue', filled.body.threadId);
    assert.equal(await topLine(s, flushed), 10);
    assert.match(flushed.body.description ?? '', /→ absent$/);
  });

  it('continue from inside a statement stops at the breakpoint on the very next line', async () => {
    // Stopped on the store's shadow fault (line 6): the boundary before line 7 comes next.
    let stopped = await launch(s, { trace: EIGHT, functionBreakpoints: ['shadow-fault'], breakpoints: [{ line: 7 }] });
    assert.equal(stopped.body.reason, 'function breakpoint');
    assert.equal(await topLine(s, stopped), 6);
    stopped = await resume(s, 'continue', stopped.body.threadId);
    assert.equal(stopped.body.reason, 'breakpoint');
    assert.equal(await topLine(s, stopped), 7);
  });

  it('several event breakpoints stop in the order of the events, naming every one that matches', async () => {
    const stopped = await launch(s, { trace: EIGHT, functionBreakpoints: ['set-l1e', 'shadow-fault'] });
    assert.match(stopped.body.description ?? '', /shadow-fault \(sh_page_fault\)/, 'sh_page_fault comes before shadow_set_l1e in the store');
    const next = await resume(s, 'continue', stopped.body.threadId);
    assert.equal(await topLine(s, next), 6, 'the same store\'s set-l1e is the next stop');
    assert.match(next.body.description ?? '', /set-l1e/);
  });

  it('stepping over lines prints their logpoints and counts their hits, and stops on an event breakpoint inside', async () => {
    let stopped = await launch(s, { trace: LOOP, stopOnEntry: true, breakpoints: [{ line: 8, logMessage: 'at {step}' }] });
    for (let i = 0; i < 8; i++) {
      stopped = await resume(s, 'next', stopped.body.threadId);
    }
    assert.ok(s.outputs.some((o) => /^at \d+/.test(o.body.output)), 'a logpoint reached by stepping prints');
    await close(s);
    s = await open();
    stopped = await launch(s, { trace: EIGHT, stopOnEntry: true, functionBreakpoints: ['shadow-fault'] });
    const reasons: string[] = [];
    for (let i = 0; i < 5; i++) {
      stopped = await resume(s, 'next', stopped.body.threadId);
      reasons.push(`${stopped.body.reason}@${await topLine(s, stopped)}`);
    }
    assert.ok(reasons.includes('function breakpoint@6'), reasons.join(' '));
  });

  it('a hit count of %0 is refused (it could never fire)', async () => {
    await within(s.dc.initializeRequest({ adapterID: 'xpl', pathFormat: 'path' }), 'initialize');
    const r = await within(s.dc.setBreakpointsRequest({ source: { path: EIGHT }, breakpoints: [{ line: 6, hitCondition: '%0' }] }), 'setBreakpoints');
    assert.equal(r.body.breakpoints[0].verified, false);
    assert.match(r.body.breakpoints[0].message ?? '', /%N needs N ≥ 1/);
  });

  it('a breakpoint in another trace file is unverified: only the debugged trace can hit it', async () => {
    await launch(s, { trace: ONE, stopOnEntry: true });
    const r = await within(s.dc.setBreakpointsRequest({ source: { path: EIGHT }, breakpoints: [{ line: 6 }] }), 'setBreakpoints');
    assert.equal(r.body.breakpoints[0].verified, false);
    assert.match(r.body.breakpoints[0].message ?? '', /not the trace being debugged/);
  });
});

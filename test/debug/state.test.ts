/**
 * What the debugger shows of the model: threads, scopes, paged tables, memory bytes, console
 * commands and expressions, and the visualizer's custom requests and events.
 */
import { describe, it, beforeEach, afterEach } from 'node:test';
import * as assert from 'node:assert/strict';
import type { DebugProtocol } from '@vscode/debugprotocol';
import {
  close, custom, evaluate, fixture, launch, named, open, resume, scopes, stack, vars, within, type Session,
} from './harness';
import type { StateSummary, TrackerView } from '../../src/sim/inspect';
import { PAGE_WRITTEN } from '../../src/sim/inspect';
import type { TimelineMark } from '../../src/debug/custom';

const ONE = fixture('shadow-peek-after-one-store.xpt');
const HAP = fixture('hap-store-after-arming-faults.xpt');

/** Launch ONE and stop before its second peek (line 9): the 0xab store to page 2 has happened. */
async function afterStore(s: Session): Promise<{ stopped: DebugProtocol.StoppedEvent; frameId: number }> {
  const stopped = await launch(s, { trace: ONE, breakpoints: [{ line: 9 }] });
  const frames = await stack(s, stopped);
  assert.equal(frames[0].line, 9);
  return { stopped, frameId: frames[0].id };
}

describe('debug adapter: model state', () => {
  let s: Session;
  beforeEach(async () => {
    s = await open();
  });
  afterEach(async () => {
    await close(s);
  });

  it('shows vCPUs as threads, and the machine for statements no vCPU performs', async () => {
    const { stopped } = await afterStore(s);
    const threads = (await within(s.dc.threadsRequest(), 'threads')).body.threads;
    assert.deepEqual(threads.map((t) => t.name), ['Xen + device model', 'vCPU g.0 (kernel)']);
    assert.equal(stopped.body.threadId, 1, 'a peek is the device model\'s');
  });

  it('offers the scopes of the issue and pages the p2m with indexedVariables', async () => {
    const { frameId } = await afterStore(s);
    const names = (await scopes(s, frameId)).map((x) => x.name);
    assert.deepEqual(names, ['vCPUs', 'Guest page tables', 'Shadow tables', 'p2m', 'Framebuffers', 'Costs', 'Violations']);
    const p2m = (await scopes(s, frameId)).find((x) => x.name === 'p2m');
    assert.ok(p2m?.expensive);
    const dom = named(await vars(s, p2m.variablesReference), 'g');
    assert.equal(dom.indexedVariables, 4096);
    const page = await vars(s, dom.variablesReference, 0x802, 1);
    assert.equal(page.length, 1);
    assert.equal(page[0].name, 'gfn 0x802');
    assert.match(page[0].value, /ram_rw/);
    const costs = await vars(s, (await scopes(s, frameId)).find((x) => x.name === 'Costs')?.variablesReference ?? 0);
    // The map's store to the (shadowed from the start) PML4, then the store's own fault.
    assert.equal(named(costs, 'shadowFaults').value, '2');
  });

  it('shows the framebuffer bitmap per page, the tracker and the last answer', async () => {
    const { frameId } = await afterStore(s);
    const fbs = await vars(s, (await scopes(s, frameId)).find((x) => x.name === 'Framebuffers')?.variablesReference ?? 0);
    const lfb = named(fbs, 'lfb');
    assert.match(lfb.value, /16 pages at gfn 0x800/);
    const fields = await vars(s, lfb.variablesReference);
    assert.equal(named(fields, 'tracker').value, 'sl1ma');
    assert.match(named(fields, 'last answer').value, /line 6: enodata/);
    const bitmap = named(fields, 'bitmap');
    assert.equal(bitmap.indexedVariables, 16);
    const pages = await vars(s, bitmap.variablesReference, 0, 16);
    assert.deepEqual(pages.map((p) => p.value.includes('written')), pages.map((_, i) => i === 2));
  });

  it('reads the stored bytes of a framebuffer page through its memoryReference', async () => {
    const { frameId } = await afterStore(s);
    const fbs = await vars(s, (await scopes(s, frameId)).find((x) => x.name === 'Framebuffers')?.variablesReference ?? 0);
    const ref = named(fbs, 'lfb').memoryReference;
    assert.ok(ref);
    const r = await within(s.dc.customRequest('readMemory', { memoryReference: ref, offset: 2 * 4096 - 2, count: 8 }), 'readMemory');
    const body = r.body as DebugProtocol.ReadMemoryResponse['body'];
    assert.equal(body?.address, '0x801ffe');
    assert.deepEqual([...Buffer.from(body?.data ?? '', 'base64')], [0, 0, 0xab, 0xab, 0xab, 0xab, 0, 0]);
  });

  it('reads a guest page-table frame: the L1 entry for the store is present, writable, accessed and dirty', async () => {
    await afterStore(s);
    const pte = await evaluate(s, 'pte 0x10002000');
    assert.match(pte.result, /guest L1e for 0x10002000: 0x[0-9a-f]+ P RW A D/);
    assert.ok(pte.memoryReference);
    const m = /table gfn (0x[0-9a-f]+)\[(\d+)\]/.exec(pte.result);
    assert.ok(m, pte.result);
    const r = await within(s.dc.customRequest('readMemory', { memoryReference: pte.memoryReference, offset: Number(m[2]) * 8, count: 8 }), 'readMemory');
    const bytes = Buffer.from((r.body as { data: string }).data, 'base64');
    const raw = bytes.readBigUInt64LE(0);
    assert.equal(raw & 0x1n, 0x1n, 'P');
    assert.equal(raw & 0x2n, 0x2n, 'RW');
    assert.equal(raw & 0x40n, 0x40n, 'D');
    assert.equal((raw >> 12n) & 0xfffffffffn, 0x802n, 'points at the framebuffer\'s page 2');
  });

  it('answers the Debug Console commands', async () => {
    await afterStore(s);
    assert.match((await evaluate(s, 'help')).result, /translate VA/);
    assert.match((await evaluate(s, 'translate 0x10002000')).result, /^0x10002000 on g\.0: gfn 0x802 → mfn 0x[0-9a-f]+ \(writable\)/);
    assert.match((await evaluate(s, 'p2m 0x802')).result, /g gfn 0x802: mfn 0x[0-9a-f]+, type ram_rw/);
    assert.match((await evaluate(s, 'bitmap lfb')).result, /written[^:]*: 2\b/);
    assert.match((await evaluate(s, 'tlb g.0')).result, /0x10002000 → mfn 0x[0-9a-f]+ W D/);
    assert.equal((await evaluate(s, 'dirtyCount("lfb") > 0 && tlbDirty(0, 0x10002000)')).result, 'true');
    assert.equal((await evaluate(s, 'pte("g.0", 0x10002000, "D")')).result, 'true');
    assert.equal((await evaluate(s, 'shadowFaults')).result, '2');
    assert.match((await evaluate(s, 'translate 0x7fff00000000')).result, /no gfn/);
  });

  it('serves the visualizer\'s custom requests', async () => {
    const { stopped } = await afterStore(s);
    const summary = await custom<StateSummary>(s, 'xpl/summary', {});
    assert.equal(summary.step, 6);
    assert.equal(summary.domains[0].framebuffers[0].name, 'lfb');
    const bm = await custom<{ state: string; pages: number }>(s, 'xpl/bitmap', { fb: 'lfb', start: 0, count: 16 });
    const state = Buffer.from(bm.state, 'base64');
    assert.equal(state.length, 16);
    assert.equal(state[2] & PAGE_WRITTEN, PAGE_WRITTEN);
    assert.equal(state[3] & PAGE_WRITTEN, 0);
    const tracker = await custom<TrackerView>(s, 'xpl/tracker', { fb: 'lfb' });
    assert.equal(tracker.tracker, 'sl1ma');
    const screen = await custom<{ width: number; height: number; guest: string }>(s, 'xpl/screen', { fb: 'lfb' });
    assert.equal(Buffer.from(screen.guest, 'base64').length, screen.width * screen.height * 4);
    const walk = await custom<{ gfn: number }>(s, 'xpl/walk', { vcpu: 'g.0', va: 0x10002000 });
    assert.equal(walk.gfn, 0x802);
    const tl = await custom<{ total: number; marks: TimelineMark[] }>(s, 'xpl/timeline', { from: 0, to: 100 });
    assert.equal(tl.total, 6);
    const storeMark = tl.marks.find((m) => m.line === 7);
    assert.ok(storeMark?.kinds.includes('shadow-fault'), JSON.stringify(tl.marks));
    // The stepped event followed the stop.
    const last = s.custom[s.custom.length - 1];
    assert.deepEqual([last.body.step, last.body.line], [6, 9]);
    // The summary names the translation of the last statement run that has one: line 7's store, past
    // line 8's note; stepped back over the note and the store, line 5's map.
    assert.deepEqual(summary.focus, { vcpu: 'g.0', va: 0x10002000, line: 7 });
    for (const want of [{ step: 5, line: 7, va: 0x10002000 }, { step: 4, line: 5, va: 0x10000000 }]) {
      await resume(s, 'stepBack');
      const back = await custom<StateSummary>(s, 'xpl/summary', {});
      assert.deepEqual([back.step, back.focus], [want.step, { vcpu: 'g.0', va: want.va, line: want.line }]);
    }
    // Stepping back lands after a step whose events the stepped event carries (the visualizer's
    // "what this step did"): step 5 is line 7's store, which faulted. (A request's answer comes
    // after the events sent before it: the round trip makes the stepped event the last one.)
    const lastStepped = async (): Promise<{ step: number; kinds: string[] }> => {
      await custom<StateSummary>(s, 'xpl/summary', {});
      const e = s.custom[s.custom.length - 1];
      return { step: e.body.step as number, kinds: (e.body.events as { kind: string }[]).map((x) => x.kind) };
    };
    await resume(s, 'next');
    const forward = await lastStepped();
    assert.equal(forward.step, 5);
    await resume(s, 'next');
    await resume(s, 'stepBack');
    const back = await lastStepped();
    assert.equal(back.step, 5);
    assert.deepEqual(back.kinds, forward.kinds);
    assert.ok(back.kinds.includes('shadow-fault'), back.kinds.join(','));
    assert.equal(stopped.body.reason, 'breakpoint');
  });

  it('shows EPT instead of shadow tables under HAP, with the p2m type of a written page back to ram_rw', async () => {
    const stopped = await launch(s, { trace: HAP, breakpoints: [{ line: 8 }] });
    const frameId = (await stack(s, stopped))[0].id;
    const names = (await scopes(s, frameId)).map((x) => x.name);
    assert.ok(names.includes('EPT') && !names.some((n) => n.startsWith('Shadow')), names.join(', '));
    const ept = await vars(s, (await scopes(s, frameId)).find((x) => x.name === 'EPT')?.variablesReference ?? 0);
    const lfb = named(ept, /^lfb/);
    const entries = await vars(s, lfb.variablesReference, 0, 8);
    assert.deepEqual(entries.map((e) => /ram_rw/.test(e.value)), entries.map((_, i) => i === 3));
    assert.ok(entries.filter((_, i) => i !== 3).every((e) => /ram_logdirty/.test(e.value)));
    const info = (await within(s.dc.dataBreakpointInfoRequest({ variablesReference: lfb.variablesReference, name: 'gfn 0x803' }), 'dataBreakpointInfo')).body;
    assert.equal(info.dataId, 'p2m:h:0x803');
  });

  it('reads a shadow page-table frame (machine memory): the shadow L1e points at the framebuffer\'s machine frame', async () => {
    await afterStore(s);
    const pte = await evaluate(s, 'pte 0x10002000');
    const m = /shadow L1e: 0x[0-9a-f]+ [A-Z ]+→ mfn (0x[0-9a-f]+) \(table mfn (0x[0-9a-f]+)\[(\d+)\]\)/.exec(pte.result);
    assert.ok(m, pte.result);
    const r = await within(s.dc.customRequest('readMemory', { memoryReference: `m:${m[2]}`, offset: Number(m[3]) * 8, count: 8 }), 'readMemory');
    const raw = Buffer.from((r.body as { data: string }).data, 'base64').readBigUInt64LE(0);
    assert.equal((raw >> 12n) & 0xfffffffffn, BigInt(m[1]));
    assert.equal(raw & 0x3n, 0x3n, 'present and writable');
    const translated = await evaluate(s, 'translate 0x10002000');
    assert.ok(translated.result.includes(`mfn ${m[1]}`), translated.result);
  });

  it('says when the timeline is complete', async () => {
    const end = await launch(s, { trace: ONE });
    assert.equal(end.body.reason, 'end');
    const tl = await custom<{ total: number; complete: boolean; marks: TimelineMark[] }>(s, 'xpl/timeline', { from: 0, to: 100 });
    assert.deepEqual([tl.total, tl.complete], [8, true]);
    assert.deepEqual(tl.marks.filter((m) => m.kinds.includes('answer')).map((m) => m.line), [6, 9]);
    const note = tl.marks.find((m) => m.line === 8);
    assert.ok(note?.kinds.includes('note'));
  });

  it('answers the cost counters of every step it ran (xpl/costs), for the visualizer\'s chart across jumps', async () => {
    await launch(s, { trace: ONE });
    const { series } = await custom<{ series: { step: number; costs: Record<string, number> }[] }>(s, 'xpl/costs', {});
    assert.deepEqual(series.map((p) => p.step), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
    const summary = await custom<StateSummary>(s, 'xpl/summary', {});
    assert.deepEqual(series[8].costs, summary.costs);
    assert.ok(series.every((p, i) => i === 0 || p.costs.cycles >= series[i - 1].costs.cycles), 'cycles never go down');
  });

  it('shows each vCPU\'s own TLB when its thread is selected', async () => {
    const stopped = await launch(s, { trace: fixture('eight-stores-then-peek.xpt'), breakpoints: [{ line: 11 }] });
    const threads = (await within(s.dc.threadsRequest(), 'threads')).body.threads;
    assert.deepEqual(threads.map((t) => t.name), ['Xen + device model', 'vCPU g.0 (kernel)', 'vCPU g.1 (kernel)']);
    const g0 = threads[1].id;
    assert.notEqual(stopped.body.threadId, g0, 'line 11 is g.1\'s store');
    const idle = (await within(s.dc.stackTraceRequest({ threadId: g0 }), 'stackTrace g.0')).body.stackFrames;
    assert.equal(idle.length, 1);
    assert.match(idle[0].name, /vCPU g\.0: not running this statement/);
    const sc = (await scopes(s, idle[0].id))[0];
    assert.equal(sc.name, 'vCPU g.0');
    const tlb = named(await vars(s, sc.variablesReference), 'TLB');
    assert.equal(tlb.indexedVariables, 4);
    const entries = await vars(s, tlb.variablesReference, 0, 4);
    assert.deepEqual(entries.map((e) => e.name), ['[0x10000000]', '[0x10001000]', '[0x10002000]', '[0x10003000]']);
    assert.match((await evaluate(s, 'tlb', idle[0].id)).result, /^TLB of g\.0: 4 entries/);
    const active = (await stack(s, stopped))[0];
    assert.match((await evaluate(s, 'tlb', active.id)).result, /^TLB of g\.1: 1 entry\n/);
  });

  it('completes console commands, functions and the trace\'s names', async () => {
    await afterStore(s);
    const complete = async (text: string): Promise<string[]> =>
      (await within(s.dc.completionsRequest({ text, column: text.length + 1 }), `completions ${text}`)).body.targets.map((t) => t.label).sort();
    assert.deepEqual(await complete('tr'), ['translate']);
    assert.deepEqual(await complete('dirt'), ['dirtyCount']);
    assert.deepEqual(await complete('bitmap l'), ['lfb']);
    assert.deepEqual(await complete('tlbSize("g.'), ['g.0']);
    assert.ok((await complete('shadow')).includes('shadowFaults'));
  });
});


/// <reference lib="dom" />
/**
 * The visualizer in real Chromium, fed by a fake host replaying a recorded session of
 * shadow-skip-flush-stale-screen.xpt (sl1ma with the final TLB flush skipped: a lost update).
 * Assertions are on what is drawn: pixels of canvases, rows of tables, marks of the timeline.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import type { Summary } from '../../src/shared/protocol';
import {
  cellCentre, FakeHost, hexRgb, launch, loadRecording, openVisualizer, pixel, seekAndWait, startServer, THEMES, type Server,
} from './harness';

const SHADOW = 'shadow-skip-flush-stale-screen.json';
/** Step after line 14's refresh: page 0 missed (stale TLB), page 5 reported. */
const AFTER_LOST_UPDATE = 11;

function near(actual: number[], expected: number[], tol = 2): boolean {
  return expected.every((v, i) => Math.abs(v - actual[i]) <= tol);
}

describe('visualizer webview in Chromium', { timeout: 180_000 }, () => {
  let browser: Browser;
  let server: Server;
  before(async () => {
    server = await startServer();
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it('colours the dirty bitmap by page: the missed page red, the reported page blue, the rest clean', async () => {
    const host = new FakeHost(loadRecording(SHADOW));
    const { page, errors, cspViolations } = await openVisualizer(browser, server, host, { atStep: AFTER_LOST_UPDATE });
    const dark = THEMES.dark.vars;
    const missed = await cellCentre(page, 'vga', 0);
    const reported = await cellCentre(page, 'vga', 5);
    const clean = await cellCentre(page, 'vga', 9);
    assert.ok(near(await pixel(page, missed.sel, missed.x, missed.y), hexRgb(dark['--vscode-charts-red'])), 'page 0 (missed) is drawn in the theme red');
    assert.ok(near(await pixel(page, reported.sel, reported.x, reported.y), hexRgb(dark['--vscode-charts-blue'])), 'page 5 (reported) is drawn in the theme blue');
    assert.ok(near(await pixel(page, clean.sel, clean.x, clean.y), hexRgb(dark['--vscode-input-background'])), 'page 9 is clean');
    const counts = await page.$$eval('.view-bitmaps .legend .key[data-count]', (ks) => ks.map((k) => k.textContent + '=' + (k as HTMLElement).dataset.count));
    assert.ok(counts.includes('missed 1=1'), counts.join(', '));
    assert.ok(counts.includes('reported 1=1'), counts.join(', '));
    // The legend keys are the four states and nothing else (the heat history, which never showed, is gone).
    assert.deepEqual(await page.$$eval('.view-bitmaps .legend .key', (ks) => ks.map((k) => k.textContent)), ['written 0', 'reported 1', 'missed 1', 'extra 0']);
    assert.match(await page.textContent('.view-bitmaps .tracker-fields') ?? '', /^sl1ma/);
    const requested = host.requests('bitmap').map((m) => m.args);
    assert.deepEqual(requested[requested.length - 1], { fb: 'vga', start: 0, count: 16 }, 'the webview asks for the framebuffer it shows');
    assert.deepEqual(await cspViolations(), []);
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('gives a page\'s details for the page pointed at and for the keyboard\'s selection: page, gfn, mfn and states', async () => {
    const rec = loadRecording(SHADOW);
    const host = new FakeHost(rec);
    // An answer that reported page 5 late (an earlier answer had missed it), as the tracker tells it.
    const tracker = rec.blobs[rec.steps[AFTER_LOST_UPDATE].responses['tracker {"fb":"vga"}']] as { lastAnswer: { late: number[] } };
    host.overrides.set('tracker {"fb":"vga"}', { ...tracker, lastAnswer: { ...tracker.lastAnswer, late: [5] } });
    const { page, errors } = await openVisualizer(browser, server, host, { atStep: AFTER_LOST_UPDATE });
    const info = '.page-info[data-fb="vga"]';
    const text = async (): Promise<string> => (await page.textContent(info)) ?? '';
    const mfnOf = (gfn: number): string => {
      const run = rec.steps[AFTER_LOST_UPDATE].p2m.xp.find((r) => gfn >= r[0] && gfn < r[0] + r[1]);
      assert.ok(run && run[3] !== null, `gfn ${gfn} is backed`);
      return `0x${(run[3] + gfn - run[0]).toString(16)}`;
    };
    assert.match(await text(), /Point at a page/, 'a hint while no page is pointed at or selected');
    // Pointing at page 0: the lost update.
    const c0 = await cellCentre(page, 'vga', 0);
    const box = await page.$eval(c0.sel, (e) => e.getBoundingClientRect().toJSON() as DOMRect);
    await page.mouse.move(box.x + c0.x, box.y + c0.y);
    await page.waitForFunction((s) => /mfn 0x/.test(document.querySelector(s)?.textContent ?? ''), info);
    assert.equal(await text(), `vga page 0 of 16 · gfn 0x800 · mfn ${mfnOf(0x800)} — missed: changed but not reported, writable mapping, screen stale, differs from the device model's copy`);
    const p2m = host.requests('p2m').map((m) => m.args);
    assert.deepEqual(p2m[p2m.length - 1], { dom: 'xp', gfn: 0x800, count: 1 }, 'the mfn of that one page is asked of the host');
    // Pointing elsewhere than the grid: the keyboard's selection is described instead.
    await page.mouse.move(2, 2);
    await page.waitForFunction((s) => /Point at a page/.test(document.querySelector(s)?.textContent ?? ''), info);
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press(']');
    await page.waitForFunction((s) => (document.querySelector(s) as HTMLElement | null)?.dataset.page === '5' && /mfn 0x/.test(document.querySelector(s)?.textContent ?? ''), info);
    assert.equal(await text(), `vga page 5 of 16 · gfn 0x805 · mfn ${mfnOf(0x805)} — reported by the last answer (line 14), late: missed before, reported by the last answer (line 14), writable mapping`);
    // The next step's states replace these (the page stays selected).
    await seekAndWait(page, host, 12);
    await page.waitForFunction((s) => /mfn 0x/.test(document.querySelector(s)?.textContent ?? ''), info);
    assert.match(await text(), /^vga page 5 of 16 · gfn 0x805/);
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('lists each vCPU\'s TLB with writable and dirty bits and marks the entries Xen made stale', async () => {
    const host = new FakeHost(loadRecording(SHADOW));
    const { page } = await openVisualizer(browser, server, host, { atStep: AFTER_LOST_UPDATE });
    const rows = await page.$$eval('table.tlb[data-vcpu="xp.0"] tbody tr', (trs) => trs.map((tr) => ({
      va: (tr as HTMLElement).dataset.va, stale: tr.classList.contains('stale-hypervisor'), cells: Array.from(tr.querySelectorAll('td')).map((td) => td.textContent),
    })));
    assert.deepEqual(rows.map((r) => r.va), ['0x10000000', '0x10005000']);
    assert.ok(rows.every((r) => r.stale), 'both of xp.0\'s entries were made stale by the peek without a flush');
    assert.deepEqual(rows[0].cells.slice(2, 4), ['W', 'D'], 'cached writable and dirty');
    assert.equal(rows[0].cells[5], 'stale (hypervisor)');
    await seekAndWait(page, host, 12);
    const xp1 = await page.$$eval('table.tlb[data-vcpu="xp.1"] tbody tr', (trs) => trs.map((tr) => [(tr as HTMLElement).dataset.va, tr.classList.contains('stale'), tr.querySelectorAll('td')[2].textContent]));
    assert.deepEqual(xp1, [['0x10002000', false, '-']], 'xp.1 read the page: a fresh read-only entry');
    await page.close();
  });

  it('says above a vCPU\'s TLB when the step flushed it, or owed a flush and skipped it', async () => {
    const host = new FakeHost(loadRecording(SHADOW));
    const { page, errors } = await openVisualizer(browser, server, host, { atStep: 5 });
    const notes = (): Promise<string[]> => page.$$eval('#view-tlbs .tlb-note', (ps) => ps.map((p) => `${p.className.replace('tlb-note ', '')} ${p.textContent ?? ''}`));
    assert.deepEqual(await notes(), [], 'step 5 flushed nothing');
    // Step 6 blew the shadow tables away and flushed the domain's TLBs: both tables are empty, and say why.
    await seekAndWait(page, host, 6);
    assert.deepEqual(await notes(), [
      'tlb-flushed xp.0: flushed at this step by guest_flush_tlb_mask: after shadow_blow_tables',
      'tlb-flushed xp.1: flushed at this step by guest_flush_tlb_mask: after shadow_blow_tables',
    ]);
    assert.equal(await page.$$eval('table.tlb[data-vcpu="xp.0"] tbody tr', (t) => t.length), 0);
    // Step 7 did not flush: the note goes.
    await seekAndWait(page, host, 7);
    assert.deepEqual(await notes(), []);
    // Step 11 owed a flush that skip-flush left out: the stale entries outlived it.
    await seekAndWait(page, host, AFTER_LOST_UPDATE);
    const skipped = await notes();
    assert.equal(skipped.length, 2, skipped.join(' | '));
    assert.match(skipped[0], /^tlb-skipped xp\.0: flush owed but skipped at this step \(shadow_track_dirty_vram: flush owed but skipped \(inject skip-flush\)\)/);
    assert.ok(await page.$eval('table.tlb[data-vcpu="xp.0"] tbody tr', (tr) => tr.classList.contains('stale')));
    // A flush of another domain says nothing about this one's TLBs.
    host.step = 6;
    const st = host.rec.steps[6].stepped;
    await host.post({ ...st, events: st.events.map((e) => (e.kind === 'tlb-flush' ? { ...e, dom: 'other' } : e)) });
    await page.waitForFunction(() => document.body.dataset.renderedStep === '6');
    assert.deepEqual(await notes(), []);
    // In a domain whose TLB is flushed on every exit, a VM exit of xp.0 emptied xp.0's TLB (and only its).
    const summary7 = host.rec.blobs[host.rec.steps[7].responses['summary {}']] as Summary;
    host.overrides.set('summary {}', { ...summary7, domains: summary7.domains.map((d) => ({ ...d, tlb: 'flush-on-exit' })) });
    host.step = 7;
    await host.post({ ...host.rec.steps[7].stepped, events: [{ kind: 'vmexit', fn: 'vmx_vmexit_handler', detail: 'domain_pause', vcpu: 'xp.0' }] });
    await page.waitForFunction(() => document.body.dataset.renderedStep === '7');
    assert.deepEqual(await notes(), ['tlb-flushed xp.0: emptied at this step by a VM exit (domain_pause): this domain\'s TLB is flushed on every exit']);
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('puts flushes, faults, peeks and violations on the timeline and seeks where it is clicked', async () => {
    const host = new FakeHost(loadRecording(SHADOW));
    const { page } = await openVisualizer(browser, server, host, { atStep: 0 });
    const marks = await page.$$eval('svg.timeline rect.mark', (rs) => rs.map((r) => `${r.getAttribute('data-lane')}@${r.getAttribute('data-step')}`));
    for (const m of ['flush@6', 'flush@8', 'flush@11', 'fault@7', 'fault@10', 'peek@6', 'peek@11', 'violation@9', 'violation@11', 'note@4']) {
      assert.ok(marks.includes(m), `${m} in ${marks.join(' ')}`);
    }
    assert.ok(!marks.includes('violation@8'), 'no violation at step 8');
    // Steps 8 and 11 owed a flush that skip-flush left out: hollow marks, not flushes.
    const skipped = await page.$$eval('svg.timeline rect.mark.skipped', (rs) => rs.map((r) => `${r.getAttribute('data-lane')}@${r.getAttribute('data-step')}:${r.getAttribute('fill')}`));
    assert.deepEqual(skipped, ['flush@8:none', 'flush@11:none']);
    assert.notEqual(await page.$eval('svg.timeline rect.mark[data-lane="flush"][data-step="6"]', (r) => r.getAttribute('fill')), 'none', 'step 6 flushed');
    // Click the violation at step 9: the webview asks the host to seek there.
    const box = await page.$eval('svg.timeline rect.mark[data-lane="violation"][data-step="9"]', (r) => {
      const b = r.getBoundingClientRect();
      return { x: b.right - 1, y: b.top + b.height / 2 };
    });
    await page.mouse.click(box.x, box.y);
    await page.waitForFunction(() => document.body.dataset.renderedStep === '9');
    const seeks = host.requests('seek').map((m) => m.args?.step);
    assert.equal(seeks[seeks.length - 1], 9);
    assert.equal(await page.$eval('svg.timeline line.cursor', (l) => l.getAttribute('data-step')), '9');
    await page.close();
  });

  it('shows the stale region of the screen: the device model kept red where the guest drew green', async () => {
    const host = new FakeHost(loadRecording(SHADOW));
    const { page } = await openVisualizer(browser, server, host, { atStep: AFTER_LOST_UPDATE });
    assert.equal(await page.$eval('.screen-row[data-fb="vga"] .stale-count', (e) => (e as HTMLElement).dataset.stale), '1');
    const guest = await pixel(page, 'canvas.screen-guest[data-fb="vga"]', 5, 2);
    const screen = await pixel(page, 'canvas.screen-dm[data-fb="vga"]', 5, 2);
    assert.deepEqual(guest.slice(0, 3), [0, 255, 0], 'the guest drew green');
    assert.deepEqual(screen.slice(0, 3), [255, 0, 0], 'the screen still shows the red of the previous frame');
    // Page 0 = pixels 0..1023 = rows 0..7 of a 128-pixel line: overlaid; row 8 (page 1) is not.
    const inStale = await pixel(page, 'canvas.screen-stale[data-fb="vga"]', 64, 4);
    const outside = await pixel(page, 'canvas.screen-stale[data-fb="vga"]', 64, 8);
    assert.ok(inStale[3] > 100, `stale overlay drawn on page 0 (alpha ${inStale[3]})`);
    assert.equal(outside[3], 0, 'nothing drawn over page 1');
    assert.ok(near(inStale.slice(0, 3), hexRgb(THEMES.dark.vars['--vscode-charts-red']), 3), 'in the theme\'s error colour');
    await page.close();
  });

  it('keeps the keyboard on a TLB row that Enter selected (the table is rebuilt with the selection)', async () => {
    const host = new FakeHost(loadRecording(SHADOW));
    const { page } = await openVisualizer(browser, server, host, { atStep: 9 });
    await page.focus('table.tlb[data-vcpu="xp.0"] tr[data-va="0x10000000"]');
    await page.keyboard.press('Enter');
    await page.waitForSelector('table.tlb[data-vcpu="xp.0"] tr.selected[data-va="0x10000000"]');
    await page.waitForSelector('table.walk-guest tbody tr');
    const active = await page.evaluate(() => {
      const a = document.activeElement as HTMLElement | null;
      return a ? `${a.tagName}:${a.closest('table')?.getAttribute('data-vcpu') ?? ''}:${a.dataset.va ?? ''}` : 'none';
    });
    assert.equal(active, 'TR:xp.0:0x10000000');
    await page.close();
  });

  it('walks a VA through guest and shadow tables, marks write-protected frames and what the step changed', async () => {
    const host = new FakeHost(loadRecording(SHADOW));
    const { page } = await openVisualizer(browser, server, host, { atStep: 9 });
    await page.click('table.tlb[data-vcpu="xp.0"] tr[data-va="0x10000000"]');
    await page.waitForSelector('table.walk-guest tbody tr');
    const guest = await page.$$eval('table.walk-guest tbody tr', (trs) => trs.map((tr) => [tr.getAttribute('data-level'), tr.classList.contains('write-protected')]));
    assert.deepEqual(guest, [['4', true], ['3', true], ['2', true], ['1', true]], 'every frame of the guest\'s walk holds a page table, write-protected by Xen');
    assert.equal(await page.$$eval('table.walk-shadow tbody tr', (t) => t.length), 4);
    // Select the page that the next step writes for the first time: its shadow L1e gets made.
    await page.fill('.va-input', '0x10005000');
    await page.press('.va-input', 'Enter');
    await page.waitForFunction(() => document.querySelector('.walk-summary')?.textContent?.includes('0x10005000'));
    await page.keyboard.press('Escape');
    await page.keyboard.press('ArrowRight');
    await page.waitForFunction(() => document.body.dataset.renderedStep === '10');
    await page.waitForSelector('table.walk tr.changed');
    const changed = await page.$$eval('table.walk tr.changed', (trs) => trs.map((tr) => `${tr.closest('table')?.classList.contains('walk-guest') ? 'guest' : 'shadow'} L${tr.getAttribute('data-level')}`));
    assert.ok(changed.includes('guest L1'), `guest L1 gained A and D: ${changed.join(', ')}`);
    assert.ok(changed.includes('shadow L1'), `the shadow L1e was propagated: ${changed.join(', ')}`);
    await page.close();
  });

  it('says in the walk\'s header whether the walked page is in the vCPU\'s TLB, with the cached W and D', async () => {
    const host = new FakeHost(loadRecording(SHADOW));
    const { page, errors } = await openVisualizer(browser, server, host, { atStep: 9 });
    const badge = (): Promise<string> => page.$eval('.view-pagetables .walk-summary .tlb-state', (b) => `${(b as HTMLElement).dataset.cached} ${b.textContent ?? ''}`);
    // The TLB row picked: cached writable and dirty, and stale (the peek cleared D without a flush).
    await page.click('table.tlb[data-vcpu="xp.0"] tr[data-va="0x10000000"]');
    await page.waitForFunction(() => /^xp\.0 0x10000000/.test(document.querySelector('.view-pagetables .walk-summary')?.textContent ?? ''));
    assert.equal(await badge(), 'yes in xp.0\'s TLB: mfn 0x1800 WD (stale: hypervisor)');
    // A page the vCPU has not touched yet.
    await page.fill('.va-input', '0x10005000');
    await page.press('.va-input', 'Enter');
    await page.waitForFunction(() => /0x10005000/.test(document.querySelector('.view-pagetables .walk-summary')?.textContent ?? ''));
    assert.equal(await badge(), 'no not in xp.0\'s TLB');
    // Following the statement: xp.1's load at step 12 cached a fresh read-only entry.
    await page.fill('.va-input', '');
    await page.press('.va-input', 'Enter');
    await seekAndWait(page, host, 12);
    await page.waitForFunction(() => /^xp\.1 0x10002000/.test(document.querySelector('.view-pagetables .walk-summary')?.textContent ?? ''));
    assert.equal(await badge(), 'yes in xp.1\'s TLB: mfn 0x1802 --');
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('shows trace text containing markup as text everywhere', async () => {
    const host = new FakeHost(loadRecording(SHADOW), { title: '<img src=x onerror="document.body.dataset.pwned=1">.xpt' });
    const { page, cspViolations } = await openVisualizer(browser, server, host, { atStep: 4 });
    assert.equal(await page.textContent('.step-events .note'), '<img src=x onerror=alert(1)> is text, not markup');
    assert.equal(await page.textContent('.source-title'), '<img src=x onerror="document.body.dataset.pwned=1">.xpt');
    assert.equal(await page.$$eval('img', (i) => i.length), 0, 'no element made from trace text');
    assert.equal(await page.evaluate(() => document.body.dataset.pwned), undefined);
    assert.deepEqual(await cspViolations(), []);
    await page.close();
  });

  it('names the debugger\'s line in its header, also at an invariant stop (the statement that broke it)', async () => {
    const host = new FakeHost(loadRecording(SHADOW));
    const { page } = await openVisualizer(browser, server, host, { atStep: 3 });
    // A stop on a violation: the debugger's stepped event names the statement just run (line 8),
    // while the summary of that state names the next statement (line 9).
    host.step = 5;
    await host.post({ ...host.rec.steps[5].stepped, line: 8 });
    await page.waitForFunction(() => document.body.dataset.renderedStep === '5');
    assert.match(await page.textContent('.step-label') ?? '', /· line 8$/);
    // A plain step afterwards takes its line from its own event again.
    host.step = 6;
    await host.post(host.rec.steps[6].stepped);
    await page.waitForFunction(() => document.body.dataset.renderedStep === '6');
    assert.match(await page.textContent('.step-label') ?? '', /· line 10$/);
    await page.close();
  });

  it('rejects hostile or malformed host messages without acting on them', async () => {
    const host = new FakeHost(loadRecording(SHADOW));
    const { page } = await openVisualizer(browser, server, host, { atStep: 3 });
    const before = await page.textContent('.step-label');
    await host.post({ type: 'stepped', step: -1, line: null, done: false, events: [] });
    await host.post({ type: 'stepped', step: 5, line: 9, done: false, events: [{ kind: 'rm -rf', fn: 'x', detail: '' }] });
    await host.post({ type: 'eval', code: 'document.body.dataset.pwned = 1' });
    await host.post({ type: 'init', source: { mode: 'root', title: 'x' }, theme: 'dark', strings: {} });
    await host.post({ type: 'response', inReplyTo: 999, ok: true });
    await page.waitForFunction(() => document.body.dataset.rejected === '4');
    assert.equal(await page.textContent('.step-label'), before, 'the step did not move');
    // A response whose result does not match the method's schema is refused, and reported.
    host.overrides.set('bitmap {"fb":"vga","start":0,"count":16}', { fb: 'vga', start: 0, count: 16, pages: 16, state: '<script>', lastAnswerLine: null });
    host.step = 4;
    await host.post(host.rec.steps[4].stepped);
    await page.waitForFunction(() => document.body.dataset.rejected === '5');
    assert.match(await page.textContent('.status') ?? '', /bad bitmap result/);
    assert.equal(await page.evaluate(() => document.body.dataset.pwned), undefined);
    await page.close();
  });

  it('has a key for every action and a shortcuts view', async () => {
    const host = new FakeHost(loadRecording(SHADOW));
    const { page } = await openVisualizer(browser, server, host, { atStep: 5 });
    await page.keyboard.press('ArrowRight');
    await page.waitForFunction(() => document.body.dataset.renderedStep === '6');
    await page.keyboard.press('k');
    await page.waitForFunction(() => document.body.dataset.renderedStep === '5');
    await page.keyboard.press('Shift+ArrowRight');
    await page.waitForFunction(() => document.body.dataset.renderedStep === '6');
    await page.keyboard.press('End');
    await page.waitForFunction(() => document.body.dataset.renderedStep === '13');
    await page.keyboard.press('Home');
    await page.waitForFunction(() => document.body.dataset.renderedStep === '0');
    assert.deepEqual(host.requests('seek').map((m) => m.args?.step), [6, 5, 6, 13, 0]);
    await page.keyboard.press('?');
    const keys = await page.$$eval('.help .shortcuts kbd', (k) => k.map((e) => e.textContent));
    assert.ok(keys.length >= 12 && keys.includes('Space') && keys.includes('?'), keys.join(' | '));
    await page.keyboard.press('Escape');
    assert.equal(await page.$eval('.help', (h) => (h as HTMLElement).hidden), true);
    await page.keyboard.press('3');
    assert.equal(await page.$eval('section.view.active', (s) => (s as HTMLElement).dataset.view), 'bitmaps');
    await page.close();
  });

  it('keeps the keyboard inside the open help, closes it on Escape and gives the keyboard back to where it was', async () => {
    const host = new FakeHost(loadRecording(SHADOW));
    const { page, errors } = await openVisualizer(browser, server, host, { atStep: 9 });
    const where = (): Promise<string> => page.evaluate(() => {
      const a = document.activeElement as HTMLElement | null;
      return a?.closest('.help') ? `help ${a.className}` : `${a?.tagName ?? 'none'} ${a?.getAttribute('aria-label') ?? a?.dataset.va ?? ''}`;
    });
    await page.focus('header.toolbar .controls button >> nth=3');
    assert.equal(await where(), 'BUTTON Step forward (→)');
    await page.keyboard.press('?');
    await page.waitForSelector('.help[role="dialog"][aria-modal="true"]:not([hidden])');
    assert.equal(await where(), 'help close');
    for (const k of ['Tab', 'Tab', 'Shift+Tab', 'Shift+Tab', 'Shift+Tab', 'Tab']) {
      await page.keyboard.press(k);
      assert.equal(await where(), 'help close', `after ${k} the keyboard is still in the help`);
    }
    // A click outside does not take the keyboard out either, and the panel's keys wait.
    await page.click('.step-label');
    assert.equal(await where(), 'help close');
    const seeks = host.requests('seek').length;
    await page.keyboard.press('ArrowRight');
    assert.equal(host.requests('seek').length, seeks, 'no step under the help');
    await page.keyboard.press('Escape');
    assert.equal(await page.$eval('.help', (h) => (h as HTMLElement).hidden), true);
    assert.equal(await where(), 'BUTTON Step forward (→)', 'the keyboard is back on the button it was on');
    // From a TLB row too, and with the help's own Close button.
    await page.focus('table.tlb[data-vcpu="xp.0"] tr[data-va="0x10000000"]');
    await page.keyboard.press('?');
    await page.waitForSelector('.help:not([hidden])');
    await page.keyboard.press('Enter');
    assert.equal(await page.$eval('.help', (h) => (h as HTMLElement).hidden), true);
    assert.equal(await where(), 'TR 0x10000000');
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('exports the active view as CSV, JSON, SVG and PNG through the host', async () => {
    const host = new FakeHost(loadRecording(SHADOW));
    const exported: Record<string, unknown>[] = [];
    host.onExport = (a) => exported.push(a);
    const { page } = await openVisualizer(browser, server, host, { atStep: AFTER_LOST_UPDATE });
    await page.click('.view-bitmaps .export-csv');
    await page.keyboard.press('Shift+J');
    await page.keyboard.press('Shift+S');
    await page.keyboard.press('Shift+P');
    await page.waitForFunction(() => document.querySelector('.status')?.textContent?.includes('.png'));
    assert.deepEqual(exported.map((e) => e.format), ['csv', 'json', 'svg', 'png']);
    assert.equal(exported[0].suggestedName, 'dirty-bitmaps-step-11.csv');
    const csv = String(exported[0].data).split('\r\n');
    assert.equal(csv[0], 'fb,page,gfn,written,reported,missed,extra,writable,staleScreen');
    assert.ok(csv.includes('vga,0,2048,false,false,true,false,true,true'), csv.join('\n'));
    const json = JSON.parse(String(exported[1].data)) as { framebuffers: { vga: { missed: number[]; reported: number[] } } };
    assert.deepEqual(json.framebuffers.vga.missed, [0]);
    assert.deepEqual(json.framebuffers.vga.reported, [5]);
    assert.match(String(exported[2].data), /^<\?xml[^]*<svg[^]*<image/);
    const png = Buffer.from(String(exported[3].data), 'base64');
    assert.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], 'a PNG');
    await page.close();
  });

  it('keeps the selection with setState and restores it in a new page (panel serializer)', async () => {
    const host = new FakeHost(loadRecording(SHADOW));
    const { page } = await openVisualizer(browser, server, host, { atStep: AFTER_LOST_UPDATE });
    const c = await cellCentre(page, 'vga', 5);
    const box = await page.$eval(c.sel, (e) => e.getBoundingClientRect().toJSON() as DOMRect);
    await page.mouse.click(box.x + c.x, box.y + c.y);
    await page.waitForFunction(() => (window as unknown as { __state?: { selection: { page: number } } }).__state?.selection.page === 5);
    const state = await page.evaluate(() => (window as unknown as { __state: unknown }).__state);
    await page.close();
    const host2 = new FakeHost(loadRecording(SHADOW));
    const again = await openVisualizer(browser, server, host2, { atStep: AFTER_LOST_UPDATE, state });
    const sel = JSON.parse(await again.page.evaluate(() => document.body.dataset.selection ?? 'null')) as { fb: string; page: number; gfn: number };
    assert.deepEqual([sel.fb, sel.page, sel.gfn], ['vga', 5, 0x805]);
    // The selected cell is outlined in the focus colour.
    const cell = Number(await again.page.$eval(c.sel, (e) => (e as HTMLElement).dataset.cell));
    const edge = await pixel(again.page, c.sel, c.x, c.y - Math.floor(cell / 2) - 1);
    assert.ok(near(edge.slice(0, 3), hexRgb(THEMES.dark.vars['--vscode-focusBorder']), 3), `outline ${edge}`);
    await again.page.close();
  });

  it('shows the walk of the last statement run that names a VA until a VA is chosen, and follows again when the VA is cleared', async () => {
    const host = new FakeHost(loadRecording(SHADOW));
    const { page, errors } = await openVisualizer(browser, server, host, { atStep: 10 });
    const summary = (): Promise<string> => page.textContent('.view-pagetables .walk-summary').then((t) => t ?? '');
    // Step 10 ran line 13's store by xp.0.
    await page.waitForSelector('.view-pagetables .walk-summary');
    assert.match(await summary(), /^xp\.0 0x10005000 → gfn 0x805/);
    assert.match(await page.textContent('.view-pagetables p.following') ?? '', /following line 13, the last statement run that names a VA/);
    assert.equal(await page.inputValue('.va-input'), '');
    // Step 11 ran line 14's refresh (no VA): the walk stays on line 13's store, now after the peek.
    await seekAndWait(page, host, 11);
    assert.match(await summary(), /^xp\.0 0x10005000/);
    // Step 12 ran line 15's load by xp.1: the view follows it, vCPU included.
    await seekAndWait(page, host, 12);
    assert.match(await summary(), /^xp\.1 0x10002000/);
    assert.equal(await page.$eval('.view-pagetables select', (e) => (e as HTMLSelectElement).value), 'xp.1', 'the list shows the vCPU whose walk is drawn');
    // A VA typed in is kept across steps.
    await page.fill('.va-input', '0x10000000');
    await page.press('.va-input', 'Enter');
    await page.waitForFunction(() => /0x10000000/.test(document.querySelector('.view-pagetables .walk-summary')?.textContent ?? ''));
    await seekAndWait(page, host, 10);
    assert.match(await summary(), /0x10000000/);
    assert.equal(await page.isVisible('.view-pagetables p.following'), false);
    // Cleared: it follows the statement again.
    await page.fill('.va-input', '');
    await page.press('.va-input', 'Enter');
    await page.waitForFunction(() => /0x10005000/.test(document.querySelector('.view-pagetables .walk-summary')?.textContent ?? ''));
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('shows only the notice once its session ends, and the views again when a session starts', async () => {
    const host = new FakeHost(loadRecording(SHADOW));
    const { page } = await openVisualizer(browser, server, host, { atStep: AFTER_LOST_UPDATE });
    assert.equal(await page.isVisible('main.views'), true);
    const source = { ...loadRecording(SHADOW).source };
    await host.post({ type: 'source', source: { mode: 'none', title: '' } });
    await page.waitForSelector('main.views', { state: 'hidden' });
    assert.match(await page.textContent('p.notice') ?? '', /No xpl debug session/);
    assert.equal(await page.isDisabled('header.toolbar button >> nth=0'), true, 'nothing to step through');
    assert.equal(await page.isVisible('header.toolbar .controls button >> nth=0'), false, 'and no controls shown');
    await host.post({ type: 'source', source });
    await page.waitForSelector('main.views', { state: 'visible' });
    assert.equal(await page.isVisible('header.toolbar .controls button >> nth=0'), true);
    assert.equal(await page.isVisible('p.notice'), false);
    await page.close();
  });

  it('says when the step total is only what the debug session has seen so far', async () => {
    const host = new FakeHost(loadRecording(SHADOW));
    host.complete = false;
    const { page } = await openVisualizer(browser, server, host, { atStep: 5 });
    await page.waitForFunction(() => /\/ ≥\d+/.test(document.querySelector('.step-label')?.textContent ?? ''));
    host.complete = true;
    await seekAndWait(page, host, 6);
    await page.waitForFunction(() => /\/ \d+/.test(document.querySelector('.step-label')?.textContent ?? ''));
    await page.close();
  });

  it('greys out a view whose data for the step did not come, with its own error, and recovers at the next step', async () => {
    const rec = loadRecording(SHADOW);
    for (const k of Object.keys(rec.steps[11].responses)) {
      if (k.startsWith('tlb ')) {
        delete rec.steps[11].responses[k];
      }
    }
    const host = new FakeHost(rec);
    const { page } = await openVisualizer(browser, server, host, { atStep: 10 });
    assert.equal(await page.$eval('#view-tlbs', (e) => e.classList.contains('failed')), false);
    await seekAndWait(page, host, 11);
    assert.equal(await page.$eval('#view-tlbs', (e) => e.classList.contains('failed')), true);
    assert.match(await page.$eval('#view-tlbs .view-error', (e) => e.textContent ?? ''), /no recorded answer for tlb .*\(step 11\)/);
    assert.equal(await page.$eval('#view-bitmaps', (e) => e.classList.contains('failed')), false, 'the other views are fine');
    await seekAndWait(page, host, 12);
    assert.equal(await page.$eval('#view-tlbs', (e) => e.classList.contains('failed')), false);
    assert.equal(await page.$$eval('#view-tlbs .view-error', (e) => e.length), 0);
    await page.close();
  });

  it('charts the costs of the steps a jump went over, from the samples the host took as steps ran', async () => {
    const points = (page: import('playwright-core').Page): Promise<number[]> => page.$$eval('svg.costs-chart path.series[data-counter="shadowFaults"]', (ps) => ps.map((p) => (p.getAttribute('d') ?? '').split(/[ML]/).length - 1));
    const host = new FakeHost(loadRecording(SHADOW));
    const { page, errors } = await openVisualizer(browser, server, host, { atStep: 0 });
    await page.keyboard.press('End');
    await page.waitForFunction(() => document.body.dataset.renderedStep === '13');
    // Steps 0 and 13 were shown; the host's samples give the twelve in between.
    assert.deepEqual(await points(page), [14]);
    const label = await page.$eval('svg.costs-chart text.series-label[data-counter="shadowFaults"]', (t) => t.textContent ?? '');
    const summary13 = host.rec.blobs[host.rec.steps[13].responses['summary {}']] as { costs: Record<string, number> };
    assert.equal(label, `shadowFaults ${summary13.costs.shadowFaults}`);
    assert.deepEqual(errors, []);
    await page.close();
    // A host without samples (an adapter that has no xpl/costs): only the steps shown.
    const bare = new FakeHost(loadRecording(SHADOW), { hostSamples: false });
    const again = await openVisualizer(browser, server, bare, { atStep: 0 });
    await again.page.keyboard.press('End');
    await again.page.waitForFunction(() => document.body.dataset.renderedStep === '13');
    assert.deepEqual(await points(again.page), [2]);
    await again.page.close();
  });

  it('charts costs over steps and the tracker comparison', async () => {
    const host = new FakeHost(loadRecording(SHADOW));
    const { page } = await openVisualizer(browser, server, host, { atStep: 6 });
    await seekAndWait(page, host, 7);
    await seekAndWait(page, host, 8);
    const series = await page.$$eval('svg.costs-chart path.series', (p) => p.map((e) => e.getAttribute('data-counter')));
    assert.ok(series.includes('shadowFaults') && series.includes('hypercalls'), series.join(','));
    await page.keyboard.press('c');
    await page.waitForSelector('svg.compare-chart rect.bar');
    const bars = await page.$$eval('svg.compare-chart rect.bar', (r) => r.map((e) => e.getAttribute('data-tracker')));
    // Every design ran (the 2009 and 2012 HAP designs with the guest switched to HAP): a bar each.
    assert.deepEqual(bars.sort(), ['dbit-2007', 'linear-2007', 'logdirty-2009', 'memcmp', 'multi-fb', 'p2m-type', 'sl1ma']);
    const labels = await page.$$eval('svg.compare-chart text', (t) => t.map((e) => e.textContent ?? ''));
    assert.ok(labels.some((l) => /violations \(hap\)$/.test(l)), labels.join(' | '));
    // Back at step 6, the labels give the counters there, not at the last step seen.
    const label = async (): Promise<string> => page.$eval('svg.costs-chart text.series-label[data-counter="shadowFaults"]', (t) => t.textContent ?? '');
    const at8 = await label();
    await seekAndWait(page, host, 6);
    const at6 = await label();
    const value = (l: string): number => Number(l.split(' ').pop());
    assert.ok(value(at6) < value(at8), `${at6} then ${at8}`);
    await page.close();
  });
});

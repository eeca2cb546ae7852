/**
 * End-to-end in real VS Code: code-server with the packed VSIX installed, driven by Playwright in
 * Debian's Chromium. One code-server and one page for the whole file; the tests run in order, as a
 * user would: open a trace, see it understood, debug it, break on an invariant, compare trackers.
 * Screenshots go to test-results/e2e/ (git-ignored).
 */
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import {
  EXTENSION_ID, RESULTS, ROOT, TOOLS, VSIX_LIMIT_BYTES, gotoLine, missingTools, openFile, openWorkbench, outputChannelLogs, packVsix,
  runCommand, screenshot, until, webview, type Server,
} from './harness';

const STATE = path.join(TOOLS, 'e2e');
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'e2e');
const skip = missingTools();


async function openWalkthrough(page: Page): Promise<void> {
  await runCommand(page, 'Welcome: Open Walkthrough...');
  const input = page.locator('.quick-input-widget input');
  await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'Learn Xen dirty tracking' }).first().waitFor({ timeout: 15_000 });
  await input.fill('Learn Xen dirty tracking');
  await input.press('Enter');
  await until('the walkthrough page', async () => ((await page.locator('.getting-started-step').count()) >= 5 ? true : undefined));
}

/** The text of the active editor group's editor (the visible lines). */
async function activeEditorText(page: Page): Promise<string> {
  // Monaco renders spaces as no-break spaces.
  return (await page.locator('.editor-group-container.active .editor-instance .view-lines').first().innerText()).replace(/\u00a0/g, ' ');
}

/** Pick the quick-pick row labelled exactly `label`. */
async function pick(page: Page, label: string): Promise<void> {
  const row = page.locator('.quick-input-widget .monaco-list-row').filter({ has: page.locator('.label-name', { hasText: new RegExp(`^\\s*${label}\\s*$`) }) }).first();
  await row.click({ timeout: 10_000 });
}

/** Stop the debug session if one is running (also after a failed assertion, so later tests start clean). */
async function stopDebugging(page: Page): Promise<void> {
  if ((await page.locator('.debug-toolbar:visible').count()) > 0) {
    await runCommand(page, 'Debug: Stop');
  }
  await until('the session to end', async () => ((await page.locator('.debug-toolbar:visible').count()) === 0 ? true : undefined), 20_000);
}

/** The walkthrough's steps in order: id (after the last `#`) and whether VS Code shows it done. */
async function walkthroughSteps(page: Page): Promise<{ id: string; done: boolean }[]> {
  return page.locator('.getting-started-step').evaluateAll((els) => els.map((e) => ({
    id: (e.getAttribute('data-step-id') ?? '').split('#').pop() ?? '',
    done: e.getAttribute('aria-checked') === 'true',
  })));
}

describe('Xen Paging Lens in real VS Code (code-server)', { skip, timeout: 600_000 }, () => {
  let server: Server | undefined;
  let browser: BrowserContext | undefined;
  let page: Page;
  let vsixBytes = 0;

  before(async () => {
    fs.mkdirSync(STATE, { recursive: true });
    fs.rmSync(RESULTS, { recursive: true, force: true });
    fs.mkdirSync(RESULTS, { recursive: true });
    const vsix = packVsix(TOOLS);
    vsixBytes = fs.statSync(vsix).size;
    ({ server, browser, page } = await openWorkbench(STATE, FIXTURES, vsix));
    // Every notification toast that appears, with its severity (checked by a test near the end).
    await page.evaluate(() => {
      const w = window as unknown as { __toasts: { severity: string; text: string }[] };
      w.__toasts = [];
      const seen = new WeakSet<Element>();
      new MutationObserver(() => {
        for (const item of Array.from(document.querySelectorAll('.notification-toast .notification-list-item'))) {
          if (seen.has(item)) {
            continue;
          }
          seen.add(item);
          const icon = item.querySelector('.notification-list-item-icon');
          const severity = ['error', 'warning', 'info'].find((k) => icon?.classList.contains(`codicon-${k}`)) ?? 'unknown';
          w.__toasts.push({ severity, text: item.querySelector('.notification-list-item-message')?.textContent ?? '' });
        }
      }).observe(document.body, { childList: true, subtree: true });
    });
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    server?.stop();
  });

  test('the VSIX holds the bundles only and stays under 2 MB', () => {
    assert.ok(vsixBytes > 0 && vsixBytes <= VSIX_LIMIT_BYTES, `VSIX is ${vsixBytes} bytes`);
  });

  test('opening a trace activates the extension, which reports its activation time, and sets the language', async () => {
    await openFile(page, 'shadow-store-then-peek.xpt');
    const mode = await until('the language mode', async () => {
      const t = await page.locator('[id="status.editor.mode"]').innerText();
      return t.includes('Xen Paging Trace') ? t : undefined;
    });
    assert.match(mode, /Xen Paging Trace/);
    await runCommand(page, 'Xen Paging Lens: Show Output');
    // The output channel is also written to the extension host's log folder: read it there (the
    // Output view virtualises its lines), and show it in the UI for the screenshot.
    const line = await until('the activation line in the output channel', async () => {
      const text = outputChannelLogs(path.join(STATE, 'ud', 'logs')).map((f) => fs.readFileSync(f, 'utf8')).join('\n');
      return /Xen Paging Lens [0-9.]+ activated in ([0-9.]+) ms/.exec(text)?.[0];
    });
    await page.locator('.output-view, [id="workbench.panel.output"]').first().waitFor({ timeout: 10_000 }).catch(() => undefined);
    const ms = Number(/([0-9.]+) ms/.exec(line)?.[1]);
    // The figure is printed beside its budget (100 ms), not asserted: timings are not test outcomes here.
    console.log(`# e2e: ${line} (budget 100 ms; VSIX ${vsixBytes} bytes)`);
    await screenshot(page, '01-activated');
    assert.ok(Number.isFinite(ms) && ms >= 0, `activate() reported ${line}`);
  });

  test('the walkthrough "Learn Xen dirty tracking" opens with its five steps to do', async () => {
    await openWalkthrough(page);
    const steps = await walkthroughSteps(page);
    await screenshot(page, '01b-walkthrough');
    assert.deepEqual(steps.map((st) => st.id), ['openLesson', 'startDebugging', 'hitViolation', 'stepBack', 'compare']);
    assert.ok(steps.every((st) => !st.done), JSON.stringify(steps));
  });

  test('hovering a keyword explains what it models in Xen', async () => {
    await openFile(page, 'shadow-store-then-peek.xpt');
    await page.locator('.editor-instance .monaco-editor .view-line', { hasText: 'peek fb=lfb' }).first().locator('span', { hasText: /^peek$/ }).first().hover();
    const hover = await until('the hover', async () => {
      const h = page.locator('.monaco-hover:not(.hidden)');
      const t = (await h.count()) > 0 ? await h.first().innerText() : '';
      return t.includes('track_dirty_vram') ? t : undefined;
    });
    await screenshot(page, '02-hover');
    assert.match(hover, /peek fb=NAME/);
    assert.match(hover, /hap_track_dirty_vram|shadow_track_dirty_vram|track_dirty_vram/);
  });

  test('hovering a bare flag or action word says what it does', async () => {
    await openFile(page, 'bare-words.xpt');
    const hoverOn = async (line: string, word: string, expect: RegExp): Promise<string> => {
      await page.locator('.editor-instance .monaco-editor .view-line', { hasText: line }).first().locator('span', { hasText: new RegExp(`^\\s*${word}$`) }).first().hover();
      return until(`the hover on ${word}`, async () => {
        const h = page.locator('.monaco-hover:not(.hidden)');
        const t = (await h.count()) > 0 ? await h.first().innerText() : '';
        return expect.test(t) ? t : undefined;
      });
    };
    assert.match(await hoverOn('pages=1 ro', 'ro', /read-only/), /\bro\b/);
    await page.keyboard.press('Escape');
    assert.match(await hoverOn('logdirty dom=g clean', 'clean', /SHADOW_OP_CLEAN/), /re-armed/);
  });

  test('the JSON Lines form is the same language, with hover on its ops', async () => {
    await openFile(page, 'json-lines-form.xpt.jsonl');
    await until('the language mode', async () => ((await page.locator('[id="status.editor.mode"]').innerText()).includes('Xen Paging Trace') ? true : undefined));
    await page.locator('.editor-group-container.active .view-line', { hasText: '"op":"peek"' }).first().locator('span', { hasText: /^"peek"$/ }).first().hover();
    const hover = await until('the hover', async () => {
      const h = page.locator('.monaco-hover:not(.hidden)');
      const t = (await h.count()) > 0 ? await h.first().innerText() : '';
      return t.includes('track_dirty_vram') ? t : undefined;
    });
    assert.match(hover, /peek fb=NAME/);
    assert.equal(await page.locator('.editor-group-container.active .squiggly-error').count(), 0);
    await openFile(page, 'shadow-store-then-peek.xpt');
  });

  test('completion offers keys, then the framebuffers the trace declared', async () => {
    await page.locator('.editor-instance .monaco-editor .view-lines').first().click();
    await page.keyboard.press('Control+End');
    await page.keyboard.type('\npeek f');
    await page.keyboard.press('Control+Space');
    await until('the key suggestion', async () => ((await page.locator('.suggest-widget .monaco-list-row', { hasText: 'fb=' }).count()) > 0 ? true : undefined));
    await page.keyboard.press('Enter');
    // Accepting `fb=` re-triggers suggestions: the declared framebuffer is offered.
    // ... with the statement that declared it.
    const row = await until('the framebuffer suggestion', async () => {
      const rows = await page.locator('.suggest-widget .monaco-list-row').allInnerTexts();
      return rows.find((r) => /\blfb\b/.test(r) && /line 3: vram lfb/.test(r.replace(/\u00a0/g, ' ')));
    });
    await screenshot(page, '02b-completion');
    assert.match(row, /lfb/);
    await page.keyboard.press('Escape');
    // A bare name still to come: `ioreq map` offers the servers declared above.
    // (Escape before each Enter: an open suggestion list would take the Enter.)
    await page.keyboard.press('End');
    for (const text of ['lfb', 'ioreq server gpu dom=g']) {
      await page.keyboard.type(text);
      await page.keyboard.press('Escape');
      await page.keyboard.press('Enter');
    }
    await page.keyboard.type('ioreq map ');
    await page.keyboard.press('Control+Space');
    const server = await until('the server suggestion', async () => {
      const rows = await page.locator('.suggest-widget .monaco-list-row').allInnerTexts();
      return rows.find((r) => /\bgpu\b/.test(r) && /ioreq server gpu/.test(r.replace(/\u00a0/g, ' ')));
    });
    assert.match(server, /gpu/);
    await page.keyboard.press('Escape');
    await runCommand(page, 'File: Revert File');
  });

  test('Go to Symbol lists the domain, the framebuffer and the repeat block', async () => {
    await openFile(page, 'hap-compare.xpt');
    await page.keyboard.press('Control+Shift+O');
    // Rows read `NAME (KIND)[, ...]` in their aria-label; wait for this picker's rows, not a previous one's.
    const rows = await until('the symbols', async () => {
      const r = await page.locator('.quick-input-widget .monaco-list-row').evaluateAll((els) => els.map((e) => e.getAttribute('aria-label') ?? ''));
      return r.some((x) => x.startsWith('repeat 4 (')) ? r.map((x) => x.replace(/ \(.*$/, '')) : undefined;
    });
    await screenshot(page, '02c-symbols');
    await page.keyboard.press('Escape');
    assert.deepEqual(rows, ['g', 'lfb', 'repeat 4']);
  });

  test('a broken line gets a diagnostic from the parser', async () => {
    await openFile(page, 'hap-compare.xpt');
    await page.locator('.editor-instance .monaco-editor .view-lines').first().click();
    await page.keyboard.press('Control+End');
    await page.keyboard.type('\nwrte vcpu=g.0 va=0x1000\n');
    const squiggle = page.locator('.editor-instance .squiggly-error').first();
    await squiggle.waitFor({ timeout: 15_000 });
    await runCommand(page, 'View: Focus Problems');
    const problem = await until('the problem entry', async () => {
      const t = await page.locator('.markers-panel .monaco-list-row').allInnerTexts();
      const hit = t.find((s) => /wrte/.test(s));
      return hit;
    });
    await screenshot(page, '03-diagnostic');
    assert.match(problem, /wrte/);
    // Leave the fixture as it was for later tests.
    await runCommand(page, 'File: Revert File');
    await until('the diagnostic to go away', async () => ((await page.locator('.editor-instance .squiggly-error').count()) === 0 ? true : undefined));
  });

  test('debugging from the run button: breakpoint, step, step back, visualizer follows', async (t) => {
    t.after(() => stopDebugging(page));
    await openFile(page, 'shadow-store-then-peek.xpt');
    // Breakpoint on line 7 (the second store).
    await gotoLine(page, 7);
    await page.keyboard.press('F9');
    await page.locator('.editor-instance .codicon-debug-breakpoint').first().waitFor({ timeout: 10_000 });
    await page.locator('.editor-actions .action-label[aria-label^="Debug Trace"]').first().click();
    await page.locator('.debug-toolbar').waitFor({ timeout: 30_000 });
    const stoppedAt = async (): Promise<number | undefined> => {
      const row = page.locator('.debug-call-stack .monaco-list-row.selected, .debug-call-stack .monaco-list-row.focused').first();
      if ((await row.count()) === 0) {
        return undefined;
      }
      const m = /:(\d+)(?::\d+)?\s*$/m.exec(await row.innerText()) ?? /(\d+)\s*$/.exec(await row.innerText());
      return m ? Number(m[1]) : undefined;
    };
    const currentLine = async (): Promise<number | undefined> => {
      // The editor's top-stack-frame decoration sits on the line the debugger stopped at.
      const deco = page.locator('.editor-instance .debug-top-stack-frame-line').first();
      if ((await deco.count()) === 0) {
        return undefined;
      }
      const box = await deco.boundingBox();
      const lines = page.locator('.editor-instance .margin-view-overlays .line-numbers');
      const n = await lines.count();
      for (let i = 0; i < n; i++) {
        const b = await lines.nth(i).boundingBox();
        if (b && box && Math.abs(b.y - box.y) < 3) {
          return Number(await lines.nth(i).innerText());
        }
      }
      return stoppedAt();
    };
    const atBreakpoint = await until('the stop at the breakpoint', async () => ((await currentLine()) === 7 ? 7 : undefined), 30_000);
    assert.equal(atBreakpoint, 7);
    await screenshot(page, '04-breakpoint');

    // The visualizer opened beside the editor (setting on by default) and shows this session.
    const vis = webview(page);
    const before = await until('the visualizer', async () => {
      const t = await vis.locator('body').innerText({ timeout: 2_000 });
      return t.trim().length > 0 ? t : undefined;
    }, 30_000);

    await page.locator('.debug-toolbar .codicon-debug-step-over').click();
    assert.equal(await until('the step to line 8', async () => ((await currentLine()) === 8 ? 8 : undefined)), 8);
    const afterStep = await until('the visualizer to follow the step', async () => {
      const t = await vis.locator('body').innerText({ timeout: 2_000 });
      return t !== before ? t : undefined;
    }, 20_000);
    assert.notEqual(afterStep, before);
    await screenshot(page, '05-step');

    await page.locator('.debug-toolbar .codicon-debug-step-back').click();
    assert.equal(await until('the step back to line 7', async () => ((await currentLine()) === 7 ? 7 : undefined)), 7);
    await screenshot(page, '06-step-back');

    await stopDebugging(page);
    // Remove the breakpoint again (F9 toggles it).
    await gotoLine(page, 7);
    await page.keyboard.press('F9');
    await until('the breakpoint to go', async () => ((await page.locator('.editor-instance .codicon-debug-breakpoint').count()) === 0 ? true : undefined));
  });

  test('an invariant exception breakpoint stops where skip-flush loses an update', async (t) => {
    t.after(() => stopDebugging(page));
    await openFile(page, 'skip-flush-loses-update.xpt');
    await page.locator('.editor-actions .action-label[aria-label^="Debug Trace"]').first().click();
    await page.locator('.debug-toolbar').waitFor({ timeout: 30_000 });
    // No breakpoints: the session stops on entry; continue until an invariant breaks.
    await until('the stop on entry', async () => ((await page.locator('.debug-toolbar .codicon-debug-continue').count()) > 0 ? true : undefined), 30_000);
    await page.locator('.debug-toolbar .codicon-debug-continue').click();
    const widget = await until('the exception widget', async () => {
      const w = page.locator('.exception-widget');
      return (await w.count()) > 0 ? w.first().innerText() : undefined;
    }, 30_000);
    assert.match(widget, /stale-tlb|lost-update/);
    // The visualizer follows the stop: it has drawn the step it shows, with the framebuffer's bitmap.
    const vis = webview(page);
    await until('the visualizer at the stop', async () => {
      const body = vis.locator('body');
      const [step, rendered] = await Promise.all([body.getAttribute('data-step', { timeout: 2_000 }), body.getAttribute('data-rendered-step', { timeout: 2_000 })]);
      return step !== null && step !== '0' && step === rendered && (await vis.locator('.view-bitmaps canvas').count()) > 0 ? true : undefined;
    }, 30_000);
    await screenshot(page, '07-invariant');
  });

  test('Start Debugging with no launch.json debugs the active trace, stopped on entry', async (t) => {
    t.after(() => stopDebugging(page));
    await openFile(page, 'hap-compare.xpt');
    await runCommand(page, 'Debug: Start Debugging');
    await page.locator('.debug-toolbar:visible').waitFor({ timeout: 30_000 });
    const frame = await until('the stop on entry', async () => {
      const rows = await page.locator('.debug-call-stack .monaco-list-row').allInnerTexts();
      return rows.find((r) => /domain g paging=hap/.test(r.replace(/\u00a0/g, ' ')));
    }, 30_000);
    assert.match(frame, /domain g paging=hap/);
  });

  test('Open Lesson… opens a lesson shipped in the VSIX', async () => {
    await runCommand(page, 'Xen Paging Lens: Open Lesson…');
    const input = page.locator('.quick-input-widget input');
    await page.locator('.quick-input-widget .monaco-list-row', { hasText: 's02-shadow-basic-cycle.xpt' }).first().waitFor({ timeout: 15_000 });
    await input.fill('s02-shadow');
    await input.press('Enter');
    await page.locator('.tabs-container .tab.active[aria-label*="s02-shadow-basic-cycle.xpt"]').waitFor({ timeout: 15_000 });
    const text = await activeEditorText(page);
    await screenshot(page, '07b-lesson');
    assert.match(text, /paging=shadow/);
  });

  test('Generate Workload… writes a new trace from the answers, which the parser accepts', async () => {
    await runCommand(page, 'Xen Paging Lens: Generate Workload…');
    await pick(page, 'framebuffer…');
    await pick(page, 'hap');
    await pick(page, 'p2m-type');
    await pick(page, 'cursor');
    await pick(page, '64');
    const input = page.locator('.quick-input-widget input');
    await until('the refresh count box', async () => ((await input.inputValue()) === '100' ? true : undefined));
    await input.fill('3');
    await input.press('Enter');
    await pick(page, 'none');
    const text = await until('the generated trace', async () => {
      const t = await activeEditorText(page);
      return /^domain g paging=hap/m.test(t) ? t : undefined;
    });
    await screenshot(page, '07c-workload');
    assert.match(text, /tracker=p2m-type/);
    assert.match(text, /repeat 3/);
    assert.match(await page.locator('[id="status.editor.mode"]').innerText(), /Xen Paging Trace/);
    // The parser accepts it: no squiggles after the diagnostics delay.
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(await page.locator('.editor-group-container.active .editor-instance .squiggly-error').count(), 0);
    await runCommand(page, 'View: Revert and Close Editor');
  });

  test('Generate Workload… offers xpl gen\'s workloads, deterministic by seed', async () => {
    await runCommand(page, 'Xen Paging Lens: Generate Workload…');
    await pick(page, 'typing');
    await pick(page, 'shadow');
    const input = page.locator('.quick-input-widget input');
    await until('the seed box', async () => ((await input.inputValue()) === '1' ? true : undefined));
    await input.press('Enter');
    const text = await until('the generated trace', async () => {
      const t = await activeEditorText(page);
      return t.includes('xpl gen typing') ? t : undefined;
    });
    assert.match(text, /paging=shadow/);
    await runCommand(page, 'View: Revert and Close Editor');
  });

  test('Run Trace prints the run\'s summary in the output channel', async () => {
    await openFile(page, 'shadow-store-then-peek.xpt');
    await runCommand(page, 'Xen Paging Lens: Run Trace');
    const summary = await until('the run summary', async () => {
      const text = outputChannelLogs(path.join(STATE, 'ud', 'logs')).map((f) => fs.readFileSync(f, 'utf8')).join('\n');
      return /shadow-store-then-peek\.xpt: \d+ steps, tracker sl1ma[\s\S]*?costs: .*/.exec(text)?.[0];
    });
    assert.match(summary, /line 9: peek lfb → \[5,7\]/);
  });

  test('Export Report writes a self-contained HTML file', async () => {
    await openFile(page, 'shadow-store-then-peek.xpt');
    await runCommand(page, 'Xen Paging Lens: Export Report');
    // code-server's save dialog is VS Code's simple file dialog: a quick input holding the path.
    const input = page.locator('.quick-input-widget input');
    await until('the save dialog', async () => ((await input.inputValue()).endsWith('shadow-store-then-peek-report.html') ? true : undefined));
    await input.press('Enter');
    const file = path.join(server!.workspace, 'shadow-store-then-peek-report.html');
    const html = await until('the report file', async () => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined));
    assert.match(html, /<h1>Xen Paging Lens report<\/h1>/);
    assert.match(html, /tracker sl1ma/);
    assert.ok(!/<script/i.test(html));
    assert.match(html, /<svg width="512"/);
  });

  test('Compare Trackers (from the code lens) runs every design, each in the paging it needs', async () => {
    await openFile(page, 'hap-compare.xpt');
    // From the code lens above the first statement.
    await page.locator('.editor-instance .codelens-decoration a', { hasText: 'Compare trackers' }).first().click();
    const frames = page.locator(`iframe.webview.ready[src*="extensionId=${EXTENSION_ID}"]`);
    const rows = await until('the comparison table', async () => {
      for (let i = 0; i < (await frames.count()); i++) {
        const table = webview(page, i).locator('table.compare tbody tr');
        if ((await table.count().catch(() => 0)) > 0) {
          return table.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-tracker') ?? ''));
        }
      }
      return undefined;
    }, 60_000);
    // The progress toast has closed (the README's screenshot is this one).
    await until('the progress notification to close', async () => ((await page.locator('.notification-toast', { hasText: 'Comparing trackers' }).count()) === 0 ? true : undefined));
    await screenshot(page, '08-compare');
    assert.deepEqual([...rows].sort(), ['dbit-2007', 'linear-2007', 'logdirty-2009', 'memcmp', 'multi-fb', 'p2m-type', 'sl1ma']);
    // Every tracker ran (no error row) and the chart has a bar per tracker.
    const frame = await until('the compare webview', async () => {
      for (let i = 0; i < (await frames.count()); i++) {
        if ((await webview(page, i).locator('table.compare').count().catch(() => 0)) > 0) {
          return webview(page, i);
        }
      }
      return undefined;
    });
    assert.equal(await frame.locator('table.compare td.error').count(), 0);
    assert.equal(await frame.locator('svg.chart g.bar').count(), 7);
    // The shadow designs ran with the guest switched to shadow paging, and the table says so.
    assert.equal(await frame.locator('table.compare tr[data-tracker="sl1ma"] td').first().textContent(), 'shadow');
  });

  test('the walkthrough\'s steps completed on the real events above', async () => {
    await openWalkthrough(page);
    const steps = await walkthroughSteps(page);
    await screenshot(page, '09-walkthrough');
    assert.deepEqual(steps, ['openLesson', 'startDebugging', 'hitViolation', 'stepBack', 'compare'].map((id) => ({ id, done: true })));
  });

  test('nothing so far showed an error notification (the Variables view, hovers and the visualizer fail quietly or not at all)', async () => {
    const toasts = await page.evaluate(() => (window as unknown as { __toasts: { severity: string; text: string }[] }).__toasts);
    console.log(`# e2e: notifications shown: ${toasts.map((t) => `${t.severity}: ${t.text}`).join(' | ') || 'none'}`);
    assert.deepEqual(toasts.filter((t) => t.severity === 'error'), []);
  });

  test('a reloaded window brings the visualizer back on the trace it showed without the debugger, at its step', async () => {
    await runCommand(page, 'View: Close All Editors');
    await openFile(page, 'shadow-store-then-peek.xpt');
    await runCommand(page, 'Xen Paging Lens: Open Visualizer');
    const stepShown = (): Promise<string | undefined> => webview(page).locator('body').getAttribute('data-step', { timeout: 2_000 }).then((v) => v ?? undefined, () => undefined);
    assert.equal(await until('the trace in the visualizer', async () => ((await stepShown()) === '0' ? '0' : undefined), 30_000), '0');
    const forward = webview(page).locator('header.toolbar button[aria-label^="Step forward"]').first();
    for (const want of ['1', '2', '3']) {
      await forward.click();
      await until(`step ${want}`, async () => ((await stepShown()) === want ? want : undefined));
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // the host saves the step 250 ms after the last one
    await runCommand(page, 'Developer: Reload Window');
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    const restored = await until('the visualizer restored at step 3', async () => ((await stepShown()) === '3' ? '3' : undefined), 60_000);
    assert.equal(restored, '3');
    assert.match(await webview(page).locator('.source-title').innerText(), /shadow-store-then-peek\.xpt/);
    // Drawn at that step, the page tables follow the statement step 3 ran: line 4's map of the framebuffer.
    const walk = await until('the walk of line 4', async () => {
      const vis = webview(page);
      const rendered = await vis.locator('body').getAttribute('data-rendered-step', { timeout: 2_000 }).catch(() => null);
      const text = rendered === '3' ? await vis.locator('.view-pagetables .walk-summary').innerText({ timeout: 2_000 }).catch(() => '') : '';
      return /0xffff880000000000/.test(text) ? text : undefined;
    }, 30_000);
    assert.match(walk, /^g\.0 0xffff880000000000 → gfn 0x3000/);
    await screenshot(page, '10-restored-visualizer');
  });
});

/**
 * Workspace trust in real VS Code: with trust on and the workspace not trusted, the window opens in
 * Restricted Mode, and the extension — which declares untrusted workspaces supported, since traces
 * are data and nothing from the workspace is executed — still understands a trace, reports its
 * errors and runs it.
 */
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import {
  ROOT, TOOLS, missingTools, openFile, openWorkbench, outputChannelLogs, packVsix, runCommand, screenshot, until, type Server,
} from './harness';

const STATE = path.join(TOOLS, 'e2e-restricted');
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'e2e');
const skip = missingTools();

describe('Xen Paging Lens in Restricted Mode (an untrusted workspace)', { skip, timeout: 300_000 }, () => {
  let server: Server | undefined;
  let browser: BrowserContext | undefined;
  let page: Page;

  before(async () => {
    fs.mkdirSync(STATE, { recursive: true });
    ({ server, browser, page } = await openWorkbench(STATE, FIXTURES, packVsix(TOOLS), {
      trust: true,
      settings: {
        'security.workspace.trust.enabled': true,
        'security.workspace.trust.startupPrompt': 'never',
        'security.workspace.trust.banner': 'always',
      },
    }));
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    server?.stop();
  });

  test('the window is in Restricted Mode, and a trace is still understood and run', async () => {
    await until('the Restricted Mode indication', async () => ((await page.locator('body').innerText()).includes('Restricted Mode') ? true : undefined), 30_000);
    await openFile(page, 'shadow-store-then-peek.xpt');
    const mode = await until('the language mode', async () => {
      const t = await page.locator('[id="status.editor.mode"]').innerText();
      return t.includes('Xen Paging Trace') ? t : undefined;
    }, 30_000);
    assert.match(mode, /Xen Paging Trace/);
    await runCommand(page, 'Xen Paging Lens: Run Trace');
    const summary = await until('the run summary', async () => {
      const text = outputChannelLogs(path.join(STATE, 'ud', 'logs')).map((f) => fs.readFileSync(f, 'utf8')).join('\n');
      return /shadow-store-then-peek\.xpt: \d+ steps, tracker sl1ma/.exec(text)?.[0];
    }, 30_000);
    assert.ok(summary);
    await screenshot(page, '20-restricted-mode');
  });
});

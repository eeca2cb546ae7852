/**
 * The command's last line of defence, in-process: an unexpected exception still ends as one line
 * and exit status 2; XPL_DEBUG=1 shows the stack instead.
 */
import { describe, it, afterEach } from 'node:test';
import * as assert from 'node:assert/strict';
import { main } from '../../src/cli/main';

describe('unexpected exceptions', () => {
  const saved = process.env['XPL_DEBUG'];
  afterEach(() => {
    if (saved === undefined) {
      delete process.env['XPL_DEBUG'];
    } else {
      process.env['XPL_DEBUG'] = saved;
    }
  });
  const broken = (errs: string[]): { out: (s: string) => void; err: (s: string) => void } => ({
    out: () => {
      throw new Error('stdout went away\nwith a second line');
    },
    err: (s) => errs.push(s),
  });

  it('end as one line and exit 2', () => {
    delete process.env['XPL_DEBUG'];
    const errs: string[] = [];
    assert.equal(main(['help'], broken(errs)), 2);
    assert.deepEqual(errs, ['xpl: internal error: stdout went away (set XPL_DEBUG=1 for details)\n']);
  });
  it('show the stack with XPL_DEBUG=1', () => {
    process.env['XPL_DEBUG'] = '1';
    const errs: string[] = [];
    assert.equal(main(['--version'], broken(errs)), 2);
    assert.match(errs.join(''), /^Error: stdout went away\nwith a second line\n\s+at /);
  });
  it('never reach the caller, whatever the command line', () => {
    delete process.env['XPL_DEBUG'];
    const out: string[] = [];
    const err: string[] = [];
    for (const argv of [[], ['run'], ['check'], ['convert', 'a'], ['run', '--tracker'], ['help', 'x'.repeat(10000)], ['run', '\u0000']]) {
      const code = main(argv, { out: (s) => out.push(s), err: (s) => err.push(s) });
      assert.equal(code, 2, argv.join(' '));
    }
    for (const e of err) {
      assert.ok(!e.includes('\n    at '), e);
    }
  });
});

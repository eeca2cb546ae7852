/**
 * The expression language of breakpoint conditions, logpoints and the Debug Console, on its own:
 * precedence, model lookups through the environment, kernel addresses, and errors with columns.
 */
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { ExprError, evalExpr, parseExpr, parseLogMessage, type ExprEnv, type Value } from '../../src/debug/expr';

/** A guest with a framebuffer whose pages 1 and 3 are dirty, seen through the environment. */
const env: ExprEnv = {
  name: (id: string): Value => {
    if (id === 'step') {
      return 12;
    }
    throw new ExprError(`unknown name '${id}'`);
  },
  call: (fn: string, args: Value[]): Value => {
    if (fn === 'dirtyCount' && args[0] === 'lfb') {
      return 2;
    }
    if (fn === 'tlbSize') {
      return args[0] === 0 ? 0 : 5;
    }
    throw new ExprError(`unknown function '${fn}'`);
  },
};
const run = (src: string): Value => evalExpr(parseExpr(src), env);

describe('debug expressions', () => {
  it('reads model state through calls and names', () => {
    assert.equal(run('dirtyCount("lfb") > 1'), true);
    assert.equal(run('tlbSize(0) == 0 && tlbSize(1) == 5'), true);
    assert.equal(run('step % 5'), 2);
  });

  it('binds * before +, comparisons before &&, && before ||', () => {
    assert.equal(run('1 + 2 * 3'), 7);
    assert.equal(run('(1 + 2) * 3'), 9);
    assert.equal(run('1 < 2 && 3 > 4 || !false'), true);
    assert.equal(run('-step + 2'), -10);
    assert.equal(run('0x1_000 == 4096'), true);
  });

  it('holds canonical kernel addresses as 48-bit VAs, like the model', () => {
    assert.equal(run('0xffff800000001234 == 0x800000001234'), true);
    assert.throws(() => parseExpr('0x1234567812345678'), /not a canonical address/);
  });

  it('compares strings only for equality', () => {
    assert.equal(run('"sl1ma" == "sl1ma"'), true);
    assert.throws(() => run('"a" < 2'), /needs numbers/);
  });

  it('reports syntax errors with their column', () => {
    assert.throws(() => parseExpr('dirtyCount("lfb" > 3'), /expected '\)' at column 21/);
    assert.throws(() => parseExpr('1 < 2 < 3'), /comparisons do not chain \(column 7\)/);
    assert.throws(() => parseExpr('step @ 2'), /unexpected '@' at column 6/);
    assert.throws(() => run('nope'), /unknown name 'nope'/);
    assert.throws(() => run('1 / 0'), /division by zero/);
  });

  it('splits logpoint messages into text and holes, with {{ }} as braces', () => {
    const parts = parseLogMessage('step {step}: {{dirty}} {dirtyCount("lfb")}');
    assert.equal(parts.length, 4);
    assert.equal(parts[0], 'step ');
    assert.equal(evalExpr(parts[1] as Exclude<typeof parts[1], string>, env), 12);
    assert.equal(parts[2], ': {dirty} ');
    assert.throws(() => parseLogMessage('oops {step'), /not closed/);
  });
});

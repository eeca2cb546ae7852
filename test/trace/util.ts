import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { parseTrace, TraceError } from '../../src/trace/index';
import type { Statement } from '../../src/sim/program';

/** test/fixtures/trace, from out/test/trace at run time. */
export const FIXTURES = path.resolve(__dirname, '../../../test/fixtures/trace');
export const REPO = path.resolve(__dirname, '../../..');

/** The error `parseTrace` throws for this text, as `LINE:COL: error: MESSAGE`. */
export function errorOf(text: string, file = 't.xpt'): string {
  try {
    parseTrace(text, file);
  } catch (e) {
    assert.ok(e instanceof TraceError, `expected a TraceError, got ${String(e)}`);
    assert.equal(e.message, `${file}:${e.line}:${e.col}: error: ${e.detail}`);
    return `${e.line}:${e.col}: ${e.detail}`;
  }
  assert.fail(`expected an error for:\n${text}`);
}

/** Assert the error's position exactly and its message by pattern. */
export function assertError(text: string, where: string, message: RegExp): void {
  const got = errorOf(text);
  assert.ok(got.startsWith(where + ': '), `expected an error at ${where}, got "${got}"`);
  assert.match(got.slice(where.length + 2), message);
}

export function ok(text: string, file = 't.xpt'): Statement[] {
  return [...parseTrace(text, file).statements];
}

/** Statements without positions (to compare text and JSON Lines forms). */
export function shapes(st: Statement[]): unknown[] {
  return st.map((s) => {
    const { pos, ...rest } = s;
    return { ...rest, line: pos.line };
  });
}

/**
 * The spec's promise for `xpl convert`: a trace and its JSON Lines conversion give the same report
 * (except `trace`), for every example lesson. Runs the engine in-process through the CLI's runner.
 */
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runProgram } from '../../src/cli/run';
import { parseTrace, textToJsonl, jsonlToText } from '../../src/trace/index';

const REPO = path.resolve(__dirname, '../../..');
const EXAMPLES = path.join(REPO, 'examples');

describe('text and JSON Lines give the same report', () => {
  const files = fs.existsSync(EXAMPLES) ? fs.readdirSync(EXAMPLES).filter((f) => f.endsWith('.xpt')).sort() : [];
  it('has example lessons to compare', () => {
    assert.ok(files.length > 0);
  });
  for (const name of files) {
    it(name, () => {
      const text = fs.readFileSync(path.join(EXAMPLES, name), 'utf8');
      const jsonl = textToJsonl(text, name);
      assert.equal(jsonlToText(jsonl, name + '.jsonl'), text);
      const a = runProgram(parseTrace(text, name), { inject: [] });
      const b = runProgram(parseTrace(jsonl, name + '.jsonl'), { inject: [] });
      assert.equal(b.trace, name + '.jsonl');
      assert.deepEqual({ ...b, trace: name }, a);
    });
  }
});

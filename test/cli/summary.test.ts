/** The readable summary's page lists use the trace's own list syntax (ranges end-exclusive). */
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { formatPages } from '../../src/cli/summary';
import { parseTrace } from '../../src/trace/index';

describe('formatPages', () => {
  it('writes runs of three or more as end-exclusive ranges', () => {
    assert.equal(formatPages([9, 0, 1, 2, 3]), '0..4,9');
    assert.equal(formatPages([1, 2]), '1,2');
    assert.equal(formatPages([5]), '5');
    assert.equal(formatPages([]), 'none');
    assert.equal(formatPages([0, 1, 2, 4, 5, 6, 7, 10]), '0..3,4..8,10');
  });
  it('reads back as the same pages in an expect line', () => {
    const pages = [0, 1, 2, 4, 5, 6, 7, 10, 15];
    const st = [...parseTrace(`domain g paging=hap mem=64M vcpus=1\nvram lfb dom=g gfn=0 pages=16\nexpect fb=lfb dirty=${formatPages(pages)}`, 't.xpt').statements];
    assert.deepEqual(st[2]?.op === 'expect-fb' && st[2].dirty, pages);
  });
});

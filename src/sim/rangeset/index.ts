/** Xen's rangesets: the sorted list Xen has, and the balanced tree proposed in 2015 (docs/rangesets.md). */
import { RangeSetBase } from './base';
import { ListRangeSet } from './list';
import { TreeRangeSet } from './tree';
import type { RangeSet, RangesetImpl } from './types';

export * from './types';
export { NIL, RANGE_MAX, RangeSetBase, formatRange } from './base';
export { ListRangeSet } from './list';
export { TreeRangeSet } from './tree';

/** `rangeset_new`: an empty, unlimited set of the given implementation. */
export function createRangeSet(impl: RangesetImpl, name: string): RangeSetBase {
  return impl === 'list' ? new ListRangeSet(name) : new TreeRangeSet(name);
}

/** The same set (ranges, allowance, limit, visit count) in another implementation. */
export function convertRangeSet(src: RangeSet, impl: RangesetImpl): RangeSetBase {
  const out = createRangeSet(impl, src.name);
  out.copyFrom(src);
  return out;
}

/**
 * The rangeset contract shared by Xen's sorted linked list (`ListRangeSet`) and the balanced tree
 * proposed in 2015 (`TreeRangeSet`). Ranges are inclusive `[s, e]`, as in `xen/common/rangeset.c`;
 * the trace language's `S..E` is end-exclusive and the caller converts (`e = E - 1`).
 */

export type RangesetImpl = 'list' | 'tree';
export const RANGESET_IMPLS: readonly RangesetImpl[] = ['list', 'tree'];

/** An inclusive range. */
export interface Range {
  s: number;
  e: number;
}

/** What a mutating call returns: 0 in Xen, or `-ENOMEM` when a range had to be allocated at the limit. */
export type RangesetResult = 'ok' | 'ENOMEM';

/**
 * A callback of `rangeset_report_ranges`: it is called on each intersecting range, clipped to the
 * query; a non-zero return value stops the walk and is returned.
 */
export type ReportCallback = (s: number, e: number) => number;

/** A callback of `rangeset_consume_ranges`: how much of the front of `[s, e]` it consumed, and its rc. */
export type ConsumeCallback = (s: number, e: number) => { rc: number; consumed: number };

/** The sink a state hash is fed to (structurally the model's `Hasher`). */
export interface HashSink {
  num(n: number): void;
  str(s: string): void;
}

export interface RangeSet {
  readonly impl: RangesetImpl;
  /** Pretty-printing name, e.g. `ioreq_server 0 port`. */
  readonly name: string;
  /** Cumulative count of nodes visited by every operation (the `rangesetNodesVisited` cost). */
  nodesVisited: number;
  /** Number of ranges held. */
  readonly count: number;
  /** Remaining allowance set by `rangeset_limit` (Xen's `nr_ranges`), or -1 if never limited. */
  readonly allowance: number;
  /** The most ranges the set may hold (allowance plus ranges held when the limit was set), or -1. */
  readonly cap: number;

  /** `rangeset_add_range`: merges overlapping and adjacent ranges. */
  addRange(s: number, e: number): RangesetResult;
  /** `rangeset_remove_range`: may split a range, which allocates and so can fail at the limit. */
  removeRange(s: number, e: number): RangesetResult;
  /** `rangeset_contains_range`: one range covers all of `[s, e]`. */
  containsRange(s: number, e: number): boolean;
  /** `rangeset_overlaps_range`: some range intersects `[s, e]`. */
  overlapsRange(s: number, e: number): boolean;
  /** `rangeset_report_ranges`. */
  reportRanges(s: number, e: number, cb: ReportCallback): number;
  /** `rangeset_consume_ranges`: hands out ranges from the front until empty or cb returns non-zero. */
  consumeRanges(cb: ConsumeCallback): number;
  addSingleton(s: number): RangesetResult;
  removeSingleton(s: number): RangesetResult;
  containsSingleton(s: number): boolean;
  isEmpty(): boolean;
  /** `rangeset_limit`: sets the allowance (Xen's `nr_ranges = limit`). */
  setLimit(limit: number): void;
  /** `rangeset_purge`: removes every range (returning them to the allowance). */
  purge(): void;
  /** `rangeset_merge(this, other)`: adds every range of other. */
  merge(other: RangeSet): RangesetResult;
  /** `rangeset_subtract(this, other)`: removes every range of other. */
  subtract(other: RangeSet): RangesetResult;

  /** The ranges in ascending order (not counted as visits: this is the inspector's view). */
  ranges(): Range[];
  /** The spec's `rangeset` invariant plus the structure's own (links, colours): a message or null. */
  checkInvariant(): string | null;
  /** Feed the logical content (impl, ranges, allowance, cap) to a state hash. */
  hashInto(h: HashSink): void;
}

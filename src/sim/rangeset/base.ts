/**
 * Xen's rangeset algorithms (`xen/common/rangeset.c`, as of c447b7308b), written once over five
 * private primitives, exactly as the C file hides its linked list behind `find_range`,
 * `first_range`, `next_range`, `insert_range` and `destroy_range`. The 2015 rb-tree series
 * (seeds/004, patch 3/3) replaced only those primitives; so do `ListRangeSet` and `TreeRangeSet`.
 *
 * Nodes live in a pool of parallel number arrays indexed by node number (0 is the nil sentinel),
 * so the state is plain data without object cycles: the engine's checkpoints deep-clone it.
 */
import type {
  ConsumeCallback, HashSink, Range, RangeSet, RangesetImpl, RangesetResult, ReportCallback,
} from './types';

/** The nil node (list head sentinel, tree leaf sentinel). */
export const NIL = 0;

/** Stand-in for `~0UL` (the largest value a query may name; the model's values stay below 2^53). */
export const RANGE_MAX = Number.MAX_SAFE_INTEGER;

const ENOMEM = -12;

function hex(n: number): string {
  return '0x' + n.toString(16);
}

/** `[s, e]` in hex, the way `rangeset_printk` prints a `RANGESETF_prettyprint_hex` set. */
export function formatRange(s: number, e: number): string {
  return s === e ? `[${hex(s)}]` : `[${hex(s)}-${hex(e)}]`;
}

function checkArgs(s: number, e: number): void {
  if (!Number.isSafeInteger(s) || !Number.isSafeInteger(e) || s < 0 || s > e) {
    // Xen: ASSERT(s <= e). The callers (ioreq, the trace checker) never pass such a range.
    throw new RangeError(`rangeset: bad range [${s}, ${e}] (need 0 <= s <= e, integers)`);
  }
}

export abstract class RangeSetBase implements RangeSet {
  abstract readonly impl: RangesetImpl;
  nodesVisited = 0;
  /** Xen's `nr_ranges`: -1 on creation, decremented per allocation, incremented per free; 0 = full. */
  nrRanges = -1;
  /** The most ranges the set may hold, or -1 (no `rangeset_limit` yet). */
  cap = -1;
  count = 0;
  /** Node pool: start and end of node i (slot 0 is the sentinel). */
  protected ns: number[] = [0];
  protected ne: number[] = [0];
  /** Freed node slots, reused before the pool grows. */
  protected freeSlots: number[] = [];

  constructor(readonly name: string) {}

  get allowance(): number {
    return this.cap < 0 ? -1 : this.nrRanges;
  }

  // ---- the primitives each structure supplies (each counts the nodes it visits) -----------------

  /** Highest range whose start is <= s, or NIL. */
  protected abstract findRange(s: number): number;
  /** Lowest range, or NIL. */
  protected abstract firstRange(): number;
  /** Range after x in ascending order, or NIL. */
  protected abstract nextRange(x: number): number;
  /** Link node y in right after x (as the first range if x is NIL). */
  protected abstract link(x: number, y: number): void;
  /** Unlink node x (its slot is then freed by the caller). */
  protected abstract unlink(x: number): void;
  /** Reset the structure's own fields of a fresh slot. */
  protected abstract initNode(x: number): void;
  /** Nodes in ascending order, without counting visits. */
  protected abstract order(): number[];
  /** The structure's own consistency (links, colours), or null. */
  protected abstract structureProblem(): string | null;

  // ---- allocation, as alloc_range / destroy_range ------------------------------------------------

  private allocRange(s: number, e: number): number {
    if (this.nrRanges === 0) {
      return NIL;
    }
    const x = this.takeSlot(s, e);
    this.nrRanges--;
    return x;
  }

  private takeSlot(s: number, e: number): number {
    let x = this.freeSlots.pop();
    if (x === undefined) {
      x = this.ns.length;
    }
    this.ns[x] = s;
    this.ne[x] = e;
    this.initNode(x);
    this.count++;
    return x;
  }

  private destroyRange(x: number): void {
    this.nrRanges++;
    this.count--;
    this.unlink(x);
    this.freeSlots.push(x);
  }

  // ---- the public API, line by line as rangeset.c -------------------------------------------------

  addRange(s: number, e: number): RangesetResult {
    checkArgs(s, e);
    const ns = this.ns;
    const ne = this.ne;
    let x = this.findRange(s);
    let y = this.findRange(e);
    if (x === y) {
      if (x === NIL || (ne[x] < s && ne[x] + 1 !== s)) {
        const n = this.allocRange(s, e);
        if (n === NIL) {
          return 'ENOMEM';
        }
        this.link(y, n);
        x = n;
      } else if (ne[x] < e) {
        ne[x] = e;
      }
    } else {
      if (x === NIL) {
        x = this.firstRange();
        ns[x] = s;
      } else if (ne[x] < s && ne[x] + 1 !== s) {
        x = this.nextRange(x);
        ns[x] = s;
      }
      ne[x] = ne[y] > e ? ne[y] : e;
      for (;;) {
        y = this.nextRange(x);
        if (y === NIL || ne[y] > ne[x]) {
          break;
        }
        this.destroyRange(y);
      }
    }
    y = this.nextRange(x);
    if (y !== NIL && ne[x] + 1 === ns[y]) {
      ne[x] = ne[y];
      this.destroyRange(y);
    }
    return 'ok';
  }

  removeRange(s: number, e: number): RangesetResult {
    checkArgs(s, e);
    const ns = this.ns;
    const ne = this.ne;
    let x = this.findRange(s);
    const y = this.findRange(e);
    if (x === y) {
      if (x === NIL || ne[x] < s) {
        return 'ok';
      }
      if (ns[x] < s && ne[x] > e) {
        const n = this.allocRange(e + 1, ne[x]);
        if (n === NIL) {
          return 'ENOMEM';
        }
        ne[x] = s - 1;
        this.link(x, n);
      } else if (ns[x] === s && ne[x] <= e) {
        this.destroyRange(x);
      } else if (ns[x] === s) {
        ns[x] = e + 1;
      } else if (ne[x] <= e) {
        ne[x] = s - 1;
      }
    } else {
      if (x === NIL) {
        x = this.firstRange();
      }
      if (ns[x] < s) {
        // e118fc98e7 (2025): only trim x if it reaches s; before, a range wholly below s grew.
        if (ne[x] >= s) {
          ne[x] = s - 1;
        }
        x = this.nextRange(x);
      }
      while (x !== y) {
        const t = x;
        x = this.nextRange(x);
        this.destroyRange(t);
      }
      ns[x] = e + 1;
      if (ns[x] > ne[x]) {
        this.destroyRange(x);
      }
    }
    return 'ok';
  }

  containsRange(s: number, e: number): boolean {
    checkArgs(s, e);
    const x = this.findRange(s);
    return x !== NIL && this.ne[x] >= e;
  }

  overlapsRange(s: number, e: number): boolean {
    checkArgs(s, e);
    const x = this.findRange(e);
    return x !== NIL && s <= this.ne[x];
  }

  /** The callback must not modify this set (Xen holds the read lock across it). */
  reportRanges(s: number, e: number, cb: ReportCallback): number {
    let rc = 0;
    for (let x = this.firstRange(); x !== NIL && this.ns[x] <= e && rc === 0; x = this.nextRange(x)) {
      if (this.ne[x] >= s) {
        rc = cb(Math.max(this.ns[x], s), Math.min(this.ne[x], e));
      }
    }
    return rc;
  }

  consumeRanges(cb: ConsumeCallback): number {
    let rc = 0;
    while (!this.isEmpty()) {
      const x = this.firstRange();
      const r = cb(this.ns[x], this.ne[x]);
      rc = r.rc;
      if (!Number.isSafeInteger(r.consumed) || r.consumed < 0 || r.consumed > this.ne[x] - this.ns[x] + 1) {
        throw new RangeError(`rangeset_consume_ranges: consumed ${r.consumed} of ${formatRange(this.ns[x], this.ne[x])}`);
      }
      if (r.consumed === 0 && rc === 0) {
        // Xen would spin here for ever; the model refuses instead.
        throw new RangeError('rangeset_consume_ranges: the callback consumed nothing and did not stop');
      }
      this.ns[x] += r.consumed;
      if (this.ns[x] > this.ne[x]) {
        this.destroyRange(x);
      }
      if (rc !== 0) {
        break;
      }
    }
    return rc;
  }

  addSingleton(s: number): RangesetResult {
    return this.addRange(s, s);
  }

  removeSingleton(s: number): RangesetResult {
    return this.removeRange(s, s);
  }

  containsSingleton(s: number): boolean {
    return this.containsRange(s, s);
  }

  isEmpty(): boolean {
    return this.count === 0;
  }

  setLimit(limit: number): void {
    if (!Number.isSafeInteger(limit) || limit < 0 || limit > 0xffffffff) {
      throw new RangeError(`rangeset_limit: bad limit ${limit} (unsigned int)`);
    }
    this.nrRanges = limit;
    this.cap = limit + this.count;
  }

  purge(): void {
    for (let x = this.firstRange(); x !== NIL; x = this.firstRange()) {
      this.destroyRange(x);
    }
  }

  merge(other: RangeSet): RangesetResult {
    if (other === this) {
      throw new RangeError('rangeset_merge of a set with itself (Xen would deadlock on its lock)');
    }
    const rc = other.reportRanges(0, RANGE_MAX, (s, e) => (this.addRange(s, e) === 'ok' ? 0 : ENOMEM));
    return rc === 0 ? 'ok' : 'ENOMEM';
  }

  subtract(other: RangeSet): RangesetResult {
    if (other === this) {
      throw new RangeError('rangeset_subtract of a set with itself (Xen would deadlock on its lock)');
    }
    const rc = other.reportRanges(0, RANGE_MAX, (s, e) => (this.removeRange(s, e) === 'ok' ? 0 : ENOMEM));
    return rc === 0 ? 'ok' : 'ENOMEM';
  }

  // ---- views, checks, copies ------------------------------------------------------------------

  ranges(): Range[] {
    return this.order().map((x) => ({ s: this.ns[x], e: this.ne[x] }));
  }

  checkInvariant(): string | null {
    const structural = this.structureProblem();
    if (structural !== null) {
      return `${this.name}: ${structural}`;
    }
    const rs = this.ranges();
    for (let i = 0; i < rs.length; i++) {
      const { s, e } = rs[i];
      if (!Number.isSafeInteger(s) || !Number.isSafeInteger(e) || s > e) {
        return `${this.name}: range ${i} has start ${hex(s)} after end ${hex(e)}`;
      }
      if (i > 0) {
        const p = rs[i - 1];
        if (p.e >= s) {
          return `${this.name}: ranges ${formatRange(p.s, p.e)} and ${formatRange(s, e)} overlap or are out of order`;
        }
        if (p.e + 1 === s) {
          return `${this.name}: adjacent ranges ${formatRange(p.s, p.e)} and ${formatRange(s, e)} were not merged`;
        }
      }
    }
    if (rs.length !== this.count) {
      return `${this.name}: holds ${rs.length} ranges but counts ${this.count}`;
    }
    if (this.cap < 0) {
      if (this.nrRanges !== -1 - this.count) {
        return `${this.name}: unlimited, but nr_ranges is ${this.nrRanges} with ${this.count} ranges (expected ${-1 - this.count})`;
      }
    } else {
      if (this.count > this.cap) {
        return `${this.name}: holds ${this.count} ranges, more than its limit of ${this.cap}`;
      }
      if (this.nrRanges !== this.cap - this.count) {
        return `${this.name}: allowance ${this.nrRanges} does not match limit ${this.cap} minus ${this.count} ranges`;
      }
    }
    return null;
  }

  hashInto(h: HashSink): void {
    h.str(this.impl);
    h.num(this.count);
    for (const x of this.order()) {
      h.num(this.ns[x]);
      h.num(this.ne[x]);
    }
    h.num(this.nrRanges);
    h.num(this.cap);
  }

  /**
   * Load the ranges, allowance and visit count of another (valid) set into this empty one, without
   * counting visits: switching implementation is a modelling choice, not work Xen does.
   */
  copyFrom(src: RangeSet): void {
    if (this.count !== 0) {
      throw new RangeError('copyFrom needs an empty set');
    }
    let last = NIL;
    for (const r of src.ranges()) {
      const x = this.takeSlot(r.s, r.e);
      this.link(last, x);
      last = x;
    }
    this.cap = src.cap;
    this.nrRanges = src.cap < 0 ? -1 - this.count : src.allowance;
    this.nodesVisited = src.nodesVisited;
  }
}

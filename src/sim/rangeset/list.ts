/**
 * Xen's rangeset as it is: a sorted, circular, doubly linked list (`struct list_head range_list`),
 * searched by `find_range` with a linear scan from the lowest range. Slot 0 plays the list head.
 */
import { NIL, RangeSetBase } from './base';

export class ListRangeSet extends RangeSetBase {
  readonly impl = 'list' as const;
  /** `list.next` / `list.prev` of each slot; slot 0 is `r->range_list` (empty: it points to itself). */
  private nx: number[] = [NIL];
  private pv: number[] = [NIL];

  /** `list_for_each_entry` until a range starts above s: every range examined is a visit. */
  protected findRange(s: number): number {
    let x = NIL;
    for (let y = this.nx[NIL]; y !== NIL; y = this.nx[y]) {
      this.nodesVisited++;
      if (this.ns[y] > s) {
        break;
      }
      x = y;
    }
    return x;
  }

  protected firstRange(): number {
    const y = this.nx[NIL];
    if (y !== NIL) {
      this.nodesVisited++;
    }
    return y;
  }

  protected nextRange(x: number): number {
    const y = this.nx[x];
    if (y !== NIL) {
      this.nodesVisited++;
    }
    return y;
  }

  /** `list_add(&y->list, x ? &x->list : &r->range_list)`: O(1), no walk. */
  protected link(x: number, y: number): void {
    const n = this.nx[x];
    this.nx[y] = n;
    this.pv[y] = x;
    this.pv[n] = y;
    this.nx[x] = y;
  }

  /** `list_del`: O(1). */
  protected unlink(x: number): void {
    const p = this.pv[x];
    const n = this.nx[x];
    this.nx[p] = n;
    this.pv[n] = p;
    this.nx[x] = NIL;
    this.pv[x] = NIL;
  }

  protected initNode(x: number): void {
    this.nx[x] = NIL;
    this.pv[x] = NIL;
  }

  protected order(): number[] {
    const out: number[] = [];
    const limit = this.ns.length;
    for (let y = this.nx[NIL]; y !== NIL && out.length <= limit; y = this.nx[y]) {
      out.push(y);
    }
    return out;
  }

  protected structureProblem(): string | null {
    const limit = this.ns.length;
    let n = 0;
    for (let y = this.nx[NIL]; y !== NIL; y = this.nx[y]) {
      if (++n > limit) {
        return 'the list has a cycle that skips its head';
      }
      if (this.pv[this.nx[y]] !== y) {
        return `list links broken after slot ${y}`;
      }
    }
    if (this.pv[this.nx[NIL]] !== NIL) {
      return 'list head links broken';
    }
    return null;
  }
}

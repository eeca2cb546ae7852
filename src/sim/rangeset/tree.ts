/**
 * The rangeset of the 2015 series "Refactor ioreq server for better performance" (seeds/004,
 * patch 3/3 "Refactor rangeset structure for better performance"): the same algorithms over a
 * red-black tree ordered by range start, as Xen's `xen/lib/rbtree.c` (Linux's) would give it.
 * The patch was never merged; this is the model's version of it.
 *
 * The tree is the textbook one (Cormen et al., "Introduction to Algorithms", ch. 13): a nil
 * sentinel (slot 0), parent links, and deletion by transplanting nodes rather than copying keys, so
 * a node number the algorithm holds stays valid while another node is destroyed (Xen's code keeps
 * `x` while it destroys `next_range(x)`). Nodes are placed by position ("after x"), which is what
 * `insert_range(r, x, y)` asks for; ranges are disjoint, so this is also key order.
 *
 * Visits counted: each node on a search path (`find_range`, leftmost walk, successor walk, the
 * placement walk of an insertion), each step of the rebalancing loops, and the successor walk of a
 * deletion.
 */
import { NIL, RangeSetBase } from './base';

export class TreeRangeSet extends RangeSetBase {
  readonly impl = 'tree' as const;
  private lc: number[] = [NIL];
  private rc: number[] = [NIL];
  private pa: number[] = [NIL];
  /** 1 = red, 0 = black; the sentinel is black. */
  private red: number[] = [0];
  private root = NIL;

  /** Descend from the root, remembering the last range that starts at or below s. */
  protected findRange(s: number): number {
    let x = this.root;
    let best = NIL;
    while (x !== NIL) {
      this.nodesVisited++;
      if (this.ns[x] > s) {
        x = this.lc[x];
      } else {
        best = x;
        x = this.rc[x];
      }
    }
    return best;
  }

  protected firstRange(): number {
    let x = this.root;
    if (x === NIL) {
      return NIL;
    }
    this.nodesVisited++;
    while (this.lc[x] !== NIL) {
      x = this.lc[x];
      this.nodesVisited++;
    }
    return x;
  }

  /** `rb_next`: leftmost of the right subtree, or up to the first ancestor reached from the left. */
  protected nextRange(x: number): number {
    if (this.rc[x] !== NIL) {
      let y = this.rc[x];
      this.nodesVisited++;
      while (this.lc[y] !== NIL) {
        y = this.lc[y];
        this.nodesVisited++;
      }
      return y;
    }
    let y = this.pa[x];
    while (y !== NIL && x === this.rc[y]) {
      this.nodesVisited++;
      x = y;
      y = this.pa[y];
    }
    if (y !== NIL) {
      this.nodesVisited++;
    }
    return y;
  }

  protected link(x: number, z: number): void {
    let p: number;
    let left: boolean;
    if (x === NIL) {
      // First range: leftmost position of the whole tree.
      if (this.root === NIL) {
        p = NIL;
        left = true;
      } else {
        p = this.root;
        this.nodesVisited++;
        while (this.lc[p] !== NIL) {
          p = this.lc[p];
          this.nodesVisited++;
        }
        left = true;
      }
    } else if (this.rc[x] === NIL) {
      p = x;
      left = false;
    } else {
      p = this.rc[x];
      this.nodesVisited++;
      while (this.lc[p] !== NIL) {
        p = this.lc[p];
        this.nodesVisited++;
      }
      left = true;
    }
    this.pa[z] = p;
    if (p === NIL) {
      this.root = z;
    } else if (left) {
      this.lc[p] = z;
    } else {
      this.rc[p] = z;
    }
    this.lc[z] = NIL;
    this.rc[z] = NIL;
    this.red[z] = 1;
    this.insertFixup(z);
  }

  protected unlink(z: number): void {
    const { lc, rc, pa, red } = this;
    let y = z;
    let yRed = red[y];
    let x: number;
    if (lc[z] === NIL) {
      x = rc[z];
      this.transplant(z, rc[z]);
    } else if (rc[z] === NIL) {
      x = lc[z];
      this.transplant(z, lc[z]);
    } else {
      y = rc[z];
      this.nodesVisited++;
      while (lc[y] !== NIL) {
        y = lc[y];
        this.nodesVisited++;
      }
      yRed = red[y];
      x = rc[y];
      if (pa[y] === z) {
        pa[x] = y;
      } else {
        this.transplant(y, rc[y]);
        rc[y] = rc[z];
        pa[rc[y]] = y;
      }
      this.transplant(z, y);
      lc[y] = lc[z];
      pa[lc[y]] = y;
      red[y] = red[z];
    }
    if (yRed === 0) {
      this.deleteFixup(x);
    }
    lc[z] = NIL;
    rc[z] = NIL;
    pa[z] = NIL;
    // The sentinel's parent is scratch space during a deletion; leave it clean.
    pa[NIL] = NIL;
    red[NIL] = 0;
  }

  protected initNode(x: number): void {
    this.lc[x] = NIL;
    this.rc[x] = NIL;
    this.pa[x] = NIL;
    this.red[x] = 1;
  }

  private rotateLeft(x: number): void {
    const { lc, rc, pa } = this;
    const y = rc[x];
    rc[x] = lc[y];
    if (lc[y] !== NIL) {
      pa[lc[y]] = x;
    }
    pa[y] = pa[x];
    if (pa[x] === NIL) {
      this.root = y;
    } else if (x === lc[pa[x]]) {
      lc[pa[x]] = y;
    } else {
      rc[pa[x]] = y;
    }
    lc[y] = x;
    pa[x] = y;
  }

  private rotateRight(x: number): void {
    const { lc, rc, pa } = this;
    const y = lc[x];
    lc[x] = rc[y];
    if (rc[y] !== NIL) {
      pa[rc[y]] = x;
    }
    pa[y] = pa[x];
    if (pa[x] === NIL) {
      this.root = y;
    } else if (x === rc[pa[x]]) {
      rc[pa[x]] = y;
    } else {
      lc[pa[x]] = y;
    }
    rc[y] = x;
    pa[x] = y;
  }

  private insertFixup(z: number): void {
    const { lc, rc, pa, red } = this;
    while (red[pa[z]] === 1) {
      this.nodesVisited++;
      const p = pa[z];
      const g = pa[p];
      if (p === lc[g]) {
        const u = rc[g];
        if (red[u] === 1) {
          red[p] = 0;
          red[u] = 0;
          red[g] = 1;
          z = g;
        } else {
          if (z === rc[p]) {
            z = p;
            this.rotateLeft(z);
          }
          red[pa[z]] = 0;
          red[pa[pa[z]]] = 1;
          this.rotateRight(pa[pa[z]]);
        }
      } else {
        const u = lc[g];
        if (red[u] === 1) {
          red[p] = 0;
          red[u] = 0;
          red[g] = 1;
          z = g;
        } else {
          if (z === lc[p]) {
            z = p;
            this.rotateRight(z);
          }
          red[pa[z]] = 0;
          red[pa[pa[z]]] = 1;
          this.rotateLeft(pa[pa[z]]);
        }
      }
    }
    red[this.root] = 0;
  }

  private transplant(u: number, v: number): void {
    const { lc, pa } = this;
    if (pa[u] === NIL) {
      this.root = v;
    } else if (u === lc[pa[u]]) {
      lc[pa[u]] = v;
    } else {
      this.rc[pa[u]] = v;
    }
    pa[v] = pa[u];
  }

  private deleteFixup(x: number): void {
    const { lc, rc, pa, red } = this;
    while (x !== this.root && red[x] === 0) {
      this.nodesVisited++;
      if (x === lc[pa[x]]) {
        let w = rc[pa[x]];
        if (red[w] === 1) {
          red[w] = 0;
          red[pa[x]] = 1;
          this.rotateLeft(pa[x]);
          w = rc[pa[x]];
        }
        if (red[lc[w]] === 0 && red[rc[w]] === 0) {
          red[w] = 1;
          x = pa[x];
        } else {
          if (red[rc[w]] === 0) {
            red[lc[w]] = 0;
            red[w] = 1;
            this.rotateRight(w);
            w = rc[pa[x]];
          }
          red[w] = red[pa[x]];
          red[pa[x]] = 0;
          red[rc[w]] = 0;
          this.rotateLeft(pa[x]);
          x = this.root;
        }
      } else {
        let w = lc[pa[x]];
        if (red[w] === 1) {
          red[w] = 0;
          red[pa[x]] = 1;
          this.rotateRight(pa[x]);
          w = lc[pa[x]];
        }
        if (red[rc[w]] === 0 && red[lc[w]] === 0) {
          red[w] = 1;
          x = pa[x];
        } else {
          if (red[lc[w]] === 0) {
            red[rc[w]] = 0;
            red[w] = 1;
            this.rotateLeft(w);
            w = lc[pa[x]];
          }
          red[w] = red[pa[x]];
          red[pa[x]] = 0;
          red[lc[w]] = 0;
          this.rotateRight(pa[x]);
          x = this.root;
        }
      }
    }
    red[x] = 0;
  }

  /** In-order walk without counting (inspection and checks). */
  protected order(): number[] {
    const out: number[] = [];
    const stack: number[] = [];
    let x = this.root;
    const limit = this.ns.length;
    while ((x !== NIL || stack.length > 0) && out.length <= limit) {
      while (x !== NIL && stack.length <= limit) {
        stack.push(x);
        x = this.lc[x];
      }
      const y = stack.pop();
      if (y === undefined) {
        break;
      }
      out.push(y);
      x = this.rc[y];
    }
    return out;
  }

  /** Height of the tree (nodes on the longest root-to-leaf path), not counted as visits. */
  height(): number {
    const h = (x: number): number => (x === NIL ? 0 : 1 + Math.max(h(this.lc[x]), h(this.rc[x])));
    return h(this.root);
  }

  /** Red-black properties and parent links; returns the first problem found. */
  protected structureProblem(): string | null {
    const { lc, rc, pa, red } = this;
    if (red[NIL] !== 0) {
      return 'the nil sentinel is red';
    }
    if (this.root !== NIL && (pa[this.root] !== NIL || red[this.root] !== 0)) {
      return 'the root has a parent or is red';
    }
    let seen = 0;
    const limit = this.ns.length;
    let problem: string | null = null;
    // Returns the black height of the subtree, or -1 after recording a problem.
    const walk = (x: number, depth: number): number => {
      if (x === NIL) {
        return 1;
      }
      if (++seen > limit || depth > limit) {
        problem = 'the tree has a cycle';
        return -1;
      }
      for (const c of [lc[x], rc[x]]) {
        if (c !== NIL && pa[c] !== x) {
          problem = `slot ${c} does not point back to its parent ${x}`;
          return -1;
        }
        if (red[x] === 1 && red[c] === 1) {
          problem = `red slot ${x} has a red child ${c}`;
          return -1;
        }
      }
      const l = walk(lc[x], depth + 1);
      if (l < 0) {
        return -1;
      }
      const r = walk(rc[x], depth + 1);
      if (r < 0) {
        return -1;
      }
      if (l !== r) {
        problem = `black heights differ under slot ${x} (${l} and ${r})`;
        return -1;
      }
      return l + (red[x] === 1 ? 0 : 1);
    };
    walk(this.root, 0);
    return problem;
  }
}

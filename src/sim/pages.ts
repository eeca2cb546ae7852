/**
 * Machine memory: one store of 4 KiB frames for every byte the model holds (guest RAM, VRAM),
 * allocated on first write, shared copy-on-write. A `Page` is frozen as soon as anything else keeps
 * a reference to it (a checkpoint, the device model's copy, the screen); a write to a frozen page
 * replaces it in the store by a private copy. So a checkpoint costs what changed since the
 * previous one, and comparing a page with the device model's copy is a pointer test until the
 * guest writes it.
 */
import type { Hasher } from './util';

export const PAGE_SIZE = 4096;
export const ZERO_PAGE = new Uint8Array(PAGE_SIZE);

export class Page {
  frozen = false;
  constructor(readonly data: Uint8Array) {}
  /** Sharing a page freezes it: both holders then see immutable bytes. */
  cloneShared(): Page {
    this.frozen = true;
    return this;
  }
  hashInto(h: Hasher): void {
    h.bytes(this.data);
  }
}

export class PageStore {
  pages = new Map<number, Page>();
  /** Frames whose bytes changed since the last `takeDirty()` (the checkpoint delta). */
  private copies = 0;

  get(mfn: number): Page | undefined {
    return this.pages.get(mfn);
  }
  /** Bytes of a frame for reading (the shared zero page if never written). */
  read(mfn: number): Uint8Array {
    const p = this.pages.get(mfn);
    return p ? p.data : ZERO_PAGE;
  }
  /** Bytes of a frame for writing: allocated or un-shared as needed. */
  writable(mfn: number): Uint8Array {
    let p = this.pages.get(mfn);
    if (p === undefined) {
      p = new Page(new Uint8Array(PAGE_SIZE));
      this.pages.set(mfn, p);
      this.copies++;
    } else if (p.frozen) {
      p = new Page(p.data.slice());
      this.pages.set(mfn, p);
      this.copies++;
    }
    return p.data;
  }
  /** A frozen reference to the current bytes (undefined = zero page). */
  share(mfn: number): Page | undefined {
    const p = this.pages.get(mfn);
    if (p) {
      p.frozen = true;
    }
    return p;
  }
  /** Pages allocated or copied since the last call: the bytes a checkpoint newly holds. */
  takeCopies(): number {
    const c = this.copies;
    this.copies = 0;
    return c;
  }
  cloneShared(): PageStore {
    const s = new PageStore();
    for (const [k, p] of this.pages) {
      p.frozen = true;
      s.pages.set(k, p);
    }
    return s;
  }
  hashInto(h: Hasher): void {
    const keys = [...this.pages.keys()].sort((a, b) => a - b);
    for (const k of keys) {
      const d = this.pages.get(k)!.data;
      let zero = true;
      for (let i = 0; i < d.length; i++) {
        if (d[i] !== 0) {
          zero = false;
          break;
        }
      }
      if (!zero) {
        h.num(k);
        h.bytes(d);
      }
    }
  }
}

/** Equal bytes? Pointer equality first, then a native comparison. */
export function samePage(a: Page | undefined, b: Page | undefined): boolean {
  if (a === b) {
    return true;
  }
  const da = a ? a.data : ZERO_PAGE;
  const db = b ? b.data : ZERO_PAGE;
  return Buffer.compare(da, db) === 0;
}

/** Small deterministic building blocks: a seeded PRNG, a seeded bijection, cloning and hashing. */

/** splitmix32: a tiny seeded PRNG; the state is one number, so it snapshots trivially. */
export function splitmix32(state: number): [value: number, next: number] {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [z >>> 0, next];
}

/**
 * A seeded permutation of [0, n) that needs no table: a 4-round Feistel network on the smallest
 * even-width power of two ≥ n, with cycle-walking back into range. Used for `mfns=scatter`, so a
 * 1 TiB guest gets shuffled frames without a 2^28-entry array.
 */
export class Scatter {
  private readonly halfBits: number;
  private readonly mask: number;
  private readonly keys: number[];
  constructor(readonly n: number, seed: number) {
    let bits = 2;
    while (2 ** bits < n) {
      bits += 2;
    }
    this.halfBits = bits / 2;
    this.mask = 2 ** this.halfBits - 1;
    const keys: number[] = [];
    let s = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      const [v, next] = splitmix32(s);
      keys.push(v);
      s = next;
    }
    this.keys = keys;
  }
  private round(x: number, k: number): number {
    let z = Math.imul(x ^ k, 0x45d9f3b);
    z = Math.imul(z ^ (z >>> 16), 0x45d9f3b);
    return (z ^ (z >>> 16)) & this.mask;
  }
  private enc(x: number): number {
    let l = Math.floor(x / 2 ** this.halfBits);
    let r = x & this.mask;
    for (const k of this.keys) {
      const t = r;
      r = l ^ this.round(r, k);
      l = t;
    }
    return l * 2 ** this.halfBits + r;
  }
  private dec(x: number): number {
    let l = Math.floor(x / 2 ** this.halfBits);
    let r = x & this.mask;
    for (let i = this.keys.length - 1; i >= 0; i--) {
      const t = l;
      l = r ^ this.round(l, this.keys[i]);
      r = t;
    }
    return l * 2 ** this.halfBits + r;
  }
  forward(i: number): number {
    let x = this.enc(i);
    while (x >= this.n) {
      x = this.enc(x);
    }
    return x;
  }
  inverse(j: number): number {
    let x = this.dec(j);
    while (x >= this.n) {
      x = this.dec(x);
    }
    return x;
  }
}

/** Objects that clone themselves share structure on purpose (immutable pages); see deepClone. */
export interface SelfCloning {
  cloneShared(): unknown;
}

function isSelfCloning(v: object): v is SelfCloning {
  return typeof (v as { cloneShared?: unknown }).cloneShared === 'function';
}

/**
 * Deep copy of model state: plain objects and class instances (prototype kept), arrays, Maps, Sets
 * and typed arrays. The state is a tree (no cycles, references between parts are by number), so
 * this is a checkpoint. Objects with `cloneShared()` decide for themselves (pages share bytes).
 */
export function deepClone<T>(v: T): T {
  if (v === null || typeof v !== 'object') {
    return v;
  }
  if (ArrayBuffer.isView(v)) {
    return (v as unknown as Uint8Array).slice() as unknown as T;
  }
  if (Array.isArray(v)) {
    const out = new Array(v.length);
    for (let i = 0; i < v.length; i++) {
      out[i] = deepClone(v[i]);
    }
    return out as unknown as T;
  }
  if (v instanceof Map) {
    const m = new Map();
    for (const [k, x] of v) {
      m.set(k, deepClone(x));
    }
    return m as unknown as T;
  }
  if (v instanceof Set) {
    return new Set(v) as unknown as T;
  }
  if (isSelfCloning(v)) {
    return v.cloneShared() as T;
  }
  const out = Object.create(Object.getPrototypeOf(v));
  for (const k of Object.keys(v)) {
    out[k] = deepClone((v as Record<string, unknown>)[k]);
  }
  return out;
}

/** FNV-1a over a stream of numbers and strings, for state hashes. */
export class Hasher {
  private h1 = 0x811c9dc5;
  private h2 = 0x01000193;
  num(n: number): void {
    const lo = n >>> 0;
    const hi = Math.floor(n / 4294967296) >>> 0;
    this.word(lo);
    this.word(hi);
  }
  word(w: number): void {
    this.h1 = Math.imul(this.h1 ^ w, 0x01000193) >>> 0;
    this.h2 = Math.imul(this.h2 ^ (w + 0x9e3779b9), 0x85ebca6b) >>> 0;
  }
  str(s: string): void {
    for (let i = 0; i < s.length; i++) {
      this.word(s.charCodeAt(i));
    }
    this.word(0xffff);
  }
  bytes(b: Uint8Array): void {
    const n = b.length >> 2;
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    for (let i = 0; i < n; i++) {
      this.word(dv.getUint32(i * 4, true));
    }
    for (let i = n * 4; i < b.length; i++) {
      this.word(b[i]);
    }
  }
  hex(): string {
    return this.h1.toString(16).padStart(8, '0') + this.h2.toString(16).padStart(8, '0');
  }
}

/** Stable JSON for hashing structured state (Maps and Sets in insertion order, typed arrays as lists). */
export function hashValue(h: Hasher, v: unknown): void {
  if (v === null || v === undefined) {
    h.word(0xdead);
    return;
  }
  switch (typeof v) {
    case 'number':
      h.num(v);
      return;
    case 'boolean':
      h.word(v ? 1 : 2);
      return;
    case 'string':
      h.str(v);
      return;
    case 'object':
      break;
    default:
      return;
  }
  if (v instanceof Uint8Array) {
    h.bytes(v);
    return;
  }
  if (ArrayBuffer.isView(v)) {
    const a = v as unknown as ArrayLike<number>;
    h.word(a.length);
    for (let i = 0; i < a.length; i++) {
      h.num(a[i]);
    }
    return;
  }
  if (Array.isArray(v)) {
    h.word(v.length);
    for (const x of v) {
      hashValue(h, x);
    }
    return;
  }
  if (v instanceof Map) {
    h.word(v.size);
    for (const [k, x] of v) {
      hashValue(h, k);
      hashValue(h, x);
    }
    return;
  }
  if (v instanceof Set) {
    h.word(v.size);
    for (const x of v) {
      hashValue(h, x);
    }
    return;
  }
  const hv = (v as { hashInto?: (h: Hasher) => void }).hashInto;
  if (typeof hv === 'function') {
    hv.call(v, h);
    return;
  }
  for (const k of Object.keys(v)) {
    h.str(k);
    hashValue(h, (v as Record<string, unknown>)[k]);
  }
}

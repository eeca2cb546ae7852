/** DOM helpers. Text is always set with textContent: trace text never becomes markup. */

type Attrs = Record<string, string | number | boolean | undefined>;

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) {
      continue;
    }
    if (k === 'class') {
      e.className = String(v);
    } else if (k === 'text') {
      e.textContent = String(v);
    } else {
      e.setAttribute(k, v === true ? '' : String(v));
    }
  }
  for (const c of children) {
    e.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return e;
}

export function clear(e: Element): void {
  while (e.firstChild) {
    e.removeChild(e.firstChild);
  }
}

export function hex(n: number): string {
  return '0x' + n.toString(16);
}

/** A 48-bit VA in canonical (sign-extended) form. */
export function vaText(va: number): string {
  return va >= 2 ** 47 ? '0xffff' + va.toString(16).padStart(12, '0') : '0x' + va.toString(16);
}

/** Parses `0x...` or decimal, canonical 64-bit accepted; null if not a valid 48-bit VA. */
export function parseVa(text: string): number | null {
  const t = text.trim().replace(/_/g, '');
  if (!/^(0x[0-9a-fA-F]{1,16}|[0-9]{1,20})$/.test(t)) {
    return null;
  }
  const v = BigInt(t);
  const top = v >> 47n;
  if (top === 0n || top === 0x1ffffn) {
    return Number(v & 0xffff_ffff_ffffn);
  }
  return null;
}

export function decodeBase64(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) {
    out[i] = bin.charCodeAt(i);
  }
  return out;
}

export function encodeBase64(bytes: Uint8Array): string {
  let s = '';
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) {
    s += String.fromCharCode(...bytes.subarray(i, i + chunk));
  }
  return btoa(s);
}

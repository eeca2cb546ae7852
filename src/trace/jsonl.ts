/**
 * The JSON Lines form of a trace (`.xpt.jsonl`): one object per line, `"op"` the keyword, `"args"`
 * the bare words, every key=value a member; comments and blank lines are `{"op":"#","text":LINE}`.
 *
 * A small JSON reader that remembers the column of every top-level member's value (and of each
 * element of `"args"`), so errors point at the offending member; and the two converters that make
 * text → JSON Lines → text byte-for-byte (layout members `#indent`, `#ws`, `#order`, `#comment`,
 * `#cr`, `#noeol`; see docs/trace-format.md).
 */
import { LexError, LINE_TOO_LONG, bomLength, lexLine, lineSpans, type LexedLine, type Token } from './lexer';
import type { RawPair, RawStmt, RawWord } from './parser';

/** A JSON value as read, keeping the spelling of numbers. */
export type JValue =
  | { t: 'string'; v: string; col: number }
  | { t: 'number'; raw: string; col: number }
  | { t: 'bool'; v: boolean; col: number }
  | { t: 'null'; col: number }
  | { t: 'array'; items: JValue[]; col: number }
  | { t: 'object'; col: number };

export interface JMember { key: string; keyCol: number; value: JValue }

/**
 * Reads one JSON object from a line; only arrays of scalars may nest inside it. Throws LexError:
 * an error inside a member's value is at the column of that value; any other (bad JSON between
 * members, a missing `}`, text after the object) concerns no member and is at column 1.
 */
class JsonLine {
  private i = 0;
  private col = 1;
  /** Column of the member value being read (0: none is). */
  private valueCol = 0;

  constructor(private readonly s: string, private readonly line: number) {}

  private err(message: string, col = this.valueCol || 1): never {
    throw new LexError(this.line, col, message);
  }

  private peek(): number {
    return this.i < this.s.length ? this.s.charCodeAt(this.i) : -1;
  }

  private adv(): void {
    const c = this.s.charCodeAt(this.i);
    this.i += c >= 0xd800 && c < 0xdc00 ? 2 : 1;
    this.col++;
  }

  private ws(): void {
    for (;;) {
      const c = this.peek();
      if (c === 32 || c === 9 || c === 13) {
        this.adv();
      } else {
        return;
      }
    }
  }

  private expect(ch: string): void {
    if (this.s[this.i] !== ch) {
      this.err(this.i >= this.s.length ? `unexpected end of line in JSON (expected '${ch}')` : `bad JSON: expected '${ch}'`);
    }
    this.adv();
  }

  object(): JMember[] {
    this.ws();
    if (this.peek() !== 123) {
      this.err(`a JSON Lines trace line must be an object starting with '{'`);
    }
    this.adv();
    const members: JMember[] = [];
    this.ws();
    if (this.peek() === 125) {
      this.adv();
    } else {
      for (;;) {
        this.ws();
        const keyCol = this.col;
        if (this.peek() !== 34) {
          this.err(`bad JSON: expected a member name in double quotes`);
        }
        const key = this.string();
        this.ws();
        this.expect(':');
        this.ws();
        this.valueCol = this.col;
        const value = this.value(0);
        this.valueCol = 0;
        if (members.some((m) => m.key === key)) {
          this.err(`duplicate member "${key}"`, value.col);
        }
        members.push({ key, keyCol, value });
        this.ws();
        if (this.peek() === 44) {
          this.adv();
          continue;
        }
        this.expect('}');
        break;
      }
    }
    this.ws();
    if (this.i < this.s.length) {
      this.err(`unexpected text after the JSON object (one object per line)`);
    }
    return members;
  }

  private value(depth: number): JValue {
    const col = this.col;
    const c = this.peek();
    if (c === 34) {
      return { t: 'string', v: this.string(), col };
    }
    if (c === 91) {
      if (depth > 0) {
        this.err(`nested arrays are not allowed in a trace line`);
      }
      this.adv();
      const items: JValue[] = [];
      this.ws();
      if (this.peek() === 93) {
        this.adv();
        return { t: 'array', items, col };
      }
      for (;;) {
        this.ws();
        items.push(this.value(depth + 1));
        this.ws();
        if (this.peek() === 44) {
          this.adv();
          continue;
        }
        this.expect(']');
        return { t: 'array', items, col };
      }
    }
    if (c === 123) {
      this.err(`nested objects are not allowed in a trace line`);
    }
    if (c === 45 || (c >= 48 && c <= 57)) {
      const m = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/.exec(this.s.slice(this.i, this.i + 400));
      if (!m) {
        this.err(`bad JSON number`);
      }
      for (let k = 0; k < m[0].length; k++) {
        this.adv();
      }
      return { t: 'number', raw: m[0], col };
    }
    for (const [word, v] of [['true', true], ['false', false], ['null', null]] as const) {
      if (this.s.startsWith(word, this.i)) {
        for (let k = 0; k < word.length; k++) {
          this.adv();
        }
        return v === null ? { t: 'null', col } : { t: 'bool', v, col };
      }
    }
    this.err(this.i >= this.s.length ? 'unexpected end of line in JSON' : `bad JSON value`);
  }

  private string(): string {
    this.adv(); // opening quote
    let out = '';
    for (;;) {
      if (this.i >= this.s.length) {
        this.err(`unterminated JSON string`);
      }
      const c = this.s.charCodeAt(this.i);
      if (c === 34) {
        this.adv();
        return out;
      }
      if (c < 32) {
        this.err(c === 0 ? 'NUL byte in trace (binary file?)' : `control character in JSON string (escape it)`);
      }
      if (c === 92) {
        const e = this.s[this.i + 1];
        const map: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
        if (e !== undefined && map[e] !== undefined) {
          out += map[e];
          this.adv();
          this.adv();
          continue;
        }
        if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(this.s.slice(this.i + 2, this.i + 6))) {
          out += String.fromCharCode(parseInt(this.s.slice(this.i + 2, this.i + 6), 16));
          for (let k = 0; k < 6; k++) {
            this.adv();
          }
          continue;
        }
        this.err(`bad escape in JSON string`);
      }
      const cp = this.s.codePointAt(this.i) ?? 0;
      out += String.fromCodePoint(cp);
      this.adv();
    }
  }
}

/** Parse one JSON Lines line into members. Throws LexError. */
export function readJsonLine(text: string, line: number): JMember[] {
  return new JsonLine(text, line).object();
}

/** The text spelling of a scalar member value; undefined if it is not a string or an integer. */
function scalarText(v: JValue): string | undefined {
  if (v.t === 'string') {
    return v.v;
  }
  if (v.t === 'number' && /^(0|[1-9][0-9]*)$/.test(v.raw)) {
    return v.raw;
  }
  return undefined;
}

/**
 * A JSON Lines object as a raw statement, or null for a comment/blank line. Layout members (`#...`)
 * are ignored. Throws LexError.
 */
export function jsonToRaw(members: JMember[], line: number): RawStmt | null {
  const op = members.find((m) => m.key === 'op');
  if (!op) {
    throw new LexError(line, 1, `missing "op" member (the keyword)`);
  }
  if (op.value.t !== 'string') {
    throw new LexError(line, op.value.col, `"op" must be a string (the keyword)`);
  }
  if (op.value.v === '#') {
    for (const m of members) {
      if (m.key !== 'op' && m.key !== 'text' && !m.key.startsWith('#')) {
        throw new LexError(line, m.value.col, `unexpected member "${m.key}" in a comment line`);
      }
      // The line as written (`# …`, or blank), or the comment's body without its `#`.
      if (m.key === 'text' && (m.value.t !== 'string' || !(COMMENT_LINE.test(m.value.v) || COMMENT_LINE.test('#' + m.value.v)))) {
        throw new LexError(line, m.value.col, `"text" of a comment line must be a comment on one line (with or without its #), or blank`);
      }
    }
    checkLayout(members, line, 0);
    return null;
  }
  const raw: RawStmt = { line, col: op.value.col, missingCol: 1, keyword: op.value.v, words: [], pairs: [] };
  for (const m of members) {
    if (m.key === 'op' || m.key.startsWith('#')) {
      continue;
    }
    const v = m.value;
    if (m.key === 'args') {
      if (v.t !== 'array') {
        throw new LexError(line, v.col, `"args" must be an array of bare words`);
      }
      for (const it of v.items) {
        const s = scalarText(it);
        if (s === undefined) {
          throw new LexError(line, it.col, it.t === 'number' ? `numbers must be integers (write other spellings as strings, e.g. "0x1000")` : `"args" items must be strings or integers`);
        }
        const w: RawWord = { text: s, col: it.col, quoted: it.t === 'string', json: true };
        raw.words.push(w);
      }
      continue;
    }
    let value: string | undefined;
    let emptyList = false;
    if (v.t === 'array') {
      const parts: string[] = [];
      for (const it of v.items) {
        const s = scalarText(it);
        if (s === undefined) {
          throw new LexError(line, v.col, `list items must be strings or integers`);
        }
        parts.push(s);
      }
      // An empty array is the empty list: `none` where the text allows it (the parser checks).
      emptyList = parts.length === 0;
      value = emptyList ? 'none' : parts.join(',');
    } else {
      value = scalarText(v);
      if (value === undefined) {
        throw new LexError(line, v.col, v.t === 'number' ? `numbers must be integers (write other spellings as strings, e.g. "64M")` : `"${m.key}" must be a string, an integer or an array`);
      }
      if (value === '') {
        throw new LexError(line, v.col, `missing value for "${m.key}"`);
      }
    }
    const p: RawPair = { key: m.key, value, keyCol: v.col, valueCol: v.col, json: true };
    if (emptyList) {
      p.emptyList = true;
    }
    raw.pairs.push(p);
  }
  checkLayout(members, line, raw.words.length + raw.pairs.length, raw);
  return raw;
}

// eslint-disable-next-line no-control-regex
const COMMENT_LINE = /^[ \t]*(#[^\u0000-\u0008\u000a-\u001f\u007f\ufeff]*)?$/;
const BLANKS = /^[ \t]*$/;

/**
 * The layout members must describe a line that reads back as the same statement: white space only
 * where white space goes, a separator between tokens, every token once in `#order`.
 */
function checkLayout(members: JMember[], line: number, tokens: number, raw?: RawStmt): void {
  const bad = (m: JMember, why: string): never => {
    throw new LexError(line, m.value.col, `bad layout member "${m.key}": ${why}`);
  };
  for (const m of members) {
    if (!m.key.startsWith('#')) {
      continue;
    }
    const v = m.value;
    switch (m.key) {
      case '#indent':
        if (v.t !== 'string' || !BLANKS.test(v.v)) {
          bad(m, 'spaces and tabs only');
        }
        break;
      case '#ws':
        if (v.t !== 'array' || v.items.length !== tokens + 1 || v.items.some((it, i) => it.t !== 'string' || !BLANKS.test(it.v) || (i < tokens && it.v === ''))) {
          bad(m, `an array of ${tokens + 1} white-space strings, all but the last non-empty`);
        }
        break;
      case '#order': {
        const keys = raw?.pairs.map((p) => p.key) ?? [];
        const words = raw?.words.length ?? 0;
        const seen = new Set<string>();
        const okItem = (it: JValue): boolean => {
          const id = it.t === 'string' ? `k:${it.v}` : it.t === 'number' ? `a:${it.raw}` : '';
          const valid = it.t === 'string' ? keys.includes(it.v) : it.t === 'number' && /^[0-9]+$/.test(it.raw) && Number(it.raw) < words;
          if (!valid || seen.has(id)) {
            return false;
          }
          seen.add(id);
          return true;
        };
        if (v.t !== 'array' || v.items.length !== tokens || !v.items.every(okItem)) {
          bad(m, 'each key name and each index into "args" exactly once');
        }
        break;
      }
      case '#comment':
        if (v.t !== 'string' || !COMMENT_LINE.test('#' + v.v)) {
          bad(m, 'one line of text');
        }
        break;
      case '#cr':
      case '#noeol':
        if (v.t !== 'bool') {
          bad(m, 'true or false');
        }
        break;
      case '#bom':
        if (v.t !== 'bool') {
          bad(m, 'true or false');
        }
        if (line !== 1) {
          bad(m, 'only on the first line (the text file started with a byte-order mark)');
        }
        break;
      default:
        bad(m, 'unknown (layout members are #indent, #ws, #order, #comment, #cr, #noeol, #bom)');
    }
  }
}

/** A lexed text line as a raw statement (null for a blank or comment-only line). Throws LexError. */
export function lexedToRaw(l: LexedLine): RawStmt | null {
  const first = l.tokens[0];
  if (!first) {
    return null;
  }
  if (first.kind !== 'word') {
    throw new LexError(l.line, first.col, first.kind === 'pair' ? `a line must start with a keyword, not ${first.key}=` : `a line must start with a keyword, not a string`);
  }
  const raw: RawStmt = { line: l.line, col: first.col, keyword: first.value, words: [], pairs: [] };
  for (const t of l.tokens.slice(1)) {
    if (t.kind === 'pair') {
      raw.pairs.push({ key: t.key ?? '', value: t.value, keyCol: t.col, valueCol: t.valueCol ?? t.col, json: false });
    } else {
      raw.words.push({ text: t.value, col: t.col, quoted: t.kind === 'string', json: false });
    }
  }
  return raw;
}

// ------------------------------------------------------------------ conversion

const PLAIN_INT = /^(0|[1-9][0-9]{0,14})$/;

function jsonScalar(s: string): string | number {
  return PLAIN_INT.test(s) && Number.isSafeInteger(Number(s)) ? Number(s) : s;
}

/** The JSON Lines of a text trace that is only a byte-order mark (no line at all). */
export const BOM_ONLY_JSONL = '{"op":"#","text":"","#noeol":true,"#bom":true}\n';

/**
 * One text line (already lexed) as a JSON Lines object, keeping its layout; `bom`: the text file
 * starts with a byte-order mark before this line (the first).
 */
export function lineToJson(text: string, l: LexedLine, noEol: boolean, bom = false): string {
  const obj: Record<string, unknown> = {};
  const tokens = l.tokens;
  const first = tokens[0];
  if (!first) {
    obj['op'] = '#';
    obj['text'] = text;
  } else {
    obj['op'] = first.value;
    const rest = tokens.slice(1);
    const words = rest.filter((t) => t.kind !== 'pair');
    if (words.length > 0) {
      obj['args'] = words.map((t) => (t.kind === 'string' ? t.value : jsonScalar(t.value)));
    }
    for (const t of rest) {
      if (t.kind === 'pair') {
        obj[t.key ?? ''] = jsonScalar(t.value);
      }
    }
    // layout
    if (l.indent !== '') {
      obj['#indent'] = l.indent;
    }
    const canonicalTrailing = l.comment !== undefined ? ' ' : '';
    if (l.seps.some((s) => s !== ' ') || l.trailing !== canonicalTrailing) {
      obj['#ws'] = [...l.seps, l.trailing];
    }
    const seenPair = rest.findIndex((t) => t.kind === 'pair');
    const wordAfterPair = seenPair >= 0 && rest.slice(seenPair).some((t) => t.kind !== 'pair');
    if (wordAfterPair) {
      let wi = 0;
      obj['#order'] = rest.map((t) => (t.kind === 'pair' ? t.key : wi++));
    }
    if (l.comment !== undefined) {
      obj['#comment'] = l.comment;
    }
  }
  if (l.cr) {
    obj['#cr'] = true;
  }
  if (noEol) {
    obj['#noeol'] = true;
  }
  if (bom) {
    obj['#bom'] = true;
  }
  return JSON.stringify(obj);
}

/** A string in the trace syntax: double quotes, `\"` and `\\` escaped. */
export function quoteString(s: string): string {
  return '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
}

/** The text spelling of one JSON member value. */
function valueText(v: JValue): string {
  if (v.t === 'array') {
    // The empty list is `none` (the trace was checked: only keys that take `none` get here).
    return v.items.length === 0 ? 'none' : v.items.map(valueText).join(',');
  }
  if (v.t === 'string') {
    return v.v;
  }
  if (v.t === 'number') {
    return v.raw;
  }
  if (v.t === 'bool') {
    return String(v.v);
  }
  return 'null';
}

/**
 * One JSON Lines object back to its text line (without terminator), whether a `\n` follows, and
 * whether a byte-order mark precedes it (`#bom`, first line only).
 */
export function jsonToLine(members: JMember[], line: number, stringWords: ReadonlySet<string>): { text: string; cr: boolean; noEol: boolean; bom: boolean } {
  const get = (k: string): JValue | undefined => members.find((m) => m.key === k)?.value;
  const op = get('op');
  const cr = get('#cr')?.t === 'bool' && (get('#cr') as { v: boolean }).v;
  const noEol = get('#noeol')?.t === 'bool' && (get('#noeol') as { v: boolean }).v;
  const bom = get('#bom')?.t === 'bool' && (get('#bom') as { v: boolean }).v;
  if (!op || op.t !== 'string') {
    throw new LexError(line, op?.col ?? 1, `missing "op" string member`);
  }
  if (op.v === '#') {
    const t = get('text');
    const text = t && t.t === 'string' ? t.v : '';
    // A comment given without its `#` gets one.
    return { text: COMMENT_LINE.test(text) ? text : '#' + text, cr, noEol, bom };
  }
  const argsV = get('args');
  const args: string[] = [];
  if (argsV && argsV.t === 'array') {
    for (const it of argsV.items) {
      const s = valueText(it);
      args.push(it.t === 'string' && stringWords.has(op.v) ? quoteString(s) : s);
    }
  }
  const pairs: [string, string][] = members
    .filter((m) => m.key !== 'op' && m.key !== 'args' && !m.key.startsWith('#'))
    .map((m) => [m.key, `${m.key}=${valueText(m.value)}`]);
  let tokens: string[];
  const order = get('#order');
  if (order && order.t === 'array') {
    tokens = order.items.map((it) => {
      if (it.t === 'number') {
        return args[Number(it.raw)] ?? '';
      }
      const key = it.t === 'string' ? it.v : '';
      return pairs.find((p) => p[0] === key)?.[1] ?? '';
    });
  } else {
    tokens = [...args, ...pairs.map((p) => p[1])];
  }
  const comment = get('#comment');
  const wsV = get('#ws');
  const ws: string[] = wsV && wsV.t === 'array' ? wsV.items.map((it) => (it.t === 'string' ? it.v : ' ')) : [];
  const indentV = get('#indent');
  let text = indentV && indentV.t === 'string' ? indentV.v : '';
  text += op.v;
  tokens.forEach((t, i) => {
    text += (wsV ? ws[i] ?? ' ' : ' ') + t;
  });
  if (comment && comment.t === 'string') {
    text += (wsV ? ws[tokens.length] ?? ' ' : ' ') + '#' + comment.v;
  } else if (wsV) {
    text += ws[tokens.length] ?? '';
  }
  return { text, cr, noEol, bom };
}

/** Lex every line of a text trace and turn it into JSON Lines. Throws LexError. */
export function textLinesToJsonl(text: string): string {
  const bom = bomLength(text) > 0;
  if (bom && text.length === 1) {
    return BOM_ONLY_JSONL;
  }
  let out = '';
  for (const span of lineSpans(text)) {
    if (span.tooLong) {
      throw new LexError(span.line, 1, LINE_TOO_LONG);
    }
    const l = lexLine(text, span.start, span.end, span.line, span.cr);
    out += lineToJson(text.slice(span.start, span.end), l, span.noEol, bom && span.line === 1) + '\n';
  }
  return out;
}

/** Turn every JSON Lines line back into text. Throws LexError. */
export function jsonlLinesToText(text: string, stringWords: ReadonlySet<string>): string {
  let out = '';
  for (const span of lineSpans(text)) {
    if (span.tooLong) {
      throw new LexError(span.line, 1, LINE_TOO_LONG);
    }
    const lineText = text.slice(span.start, span.end);
    if (lineText.trim() === '') {
      out += '\n';
      continue;
    }
    const r = jsonToLine(readJsonLine(lineText, span.line), span.line, stringWords);
    out += (r.bom ? '\ufeff' : '') + r.text + (r.cr ? '\r' : '') + (r.noEol ? '' : '\n');
  }
  return out;
}

export type { Token };

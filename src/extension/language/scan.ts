/**
 * A forgiving, line-by-line reading of a trace for the editor (hover, completion, symbols). It never
 * throws and does not validate: the parser (src/trace) owns errors and diagnostics. No `vscode` here,
 * so the editor logic is testable in plain Node. Columns are 0-based UTF-16 offsets (VS Code's).
 */
import { parseUnsigned } from '../../trace/parser';

export type TokenKind = 'keyword' | 'sub' | 'key' | 'value' | 'word' | 'string' | 'comment';

export interface Token {
  kind: TokenKind;
  text: string;
  start: number;
  end: number;
  /** For `value` tokens: the key they belong to. */
  key?: string;
}

/** Statements whose second word is part of the keyword (`ioreq server`, `expect screen`). */
const COMPOUND: Record<string, readonly string[]> = {
  ioreq: ['server', 'map', 'unmap', 'access'],
  expect: ['screen', 'logdirty', 'ioreq'],
};

/** Split one line into tokens. A `{...}` JSON Lines line yields a single `op` keyword when it has one. */
export function scanLine(line: string): Token[] {
  const tokens: Token[] = [];
  const trimmed = line.trimStart();
  if (trimmed.startsWith('{')) {
    const m = /"op"\s*:\s*"([^"]*)"/.exec(line);
    if (m) {
      const start = line.indexOf(m[1], m.index + 4);
      tokens.push({ kind: 'keyword', text: m[1], start, end: start + m[1].length });
    }
    return tokens;
  }
  let i = 0;
  const n = line.length;
  while (i < n) {
    const c = line[i];
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    if (c === '#') {
      tokens.push({ kind: 'comment', text: line.slice(i), start: i, end: n });
      break;
    }
    if (c === '"') {
      const start = i;
      i++;
      while (i < n && line[i] !== '"') {
        i += line[i] === '\\' ? 2 : 1;
      }
      i = Math.min(n, i + 1);
      tokens.push({ kind: 'string', text: line.slice(start, i), start, end: i });
      continue;
    }
    const start = i;
    while (i < n && !/[\s#"]/.test(line[i])) {
      i++;
    }
    const word = line.slice(start, i);
    const eq = word.indexOf('=');
    if (eq > 0) {
      const key = word.slice(0, eq);
      tokens.push({ kind: 'key', text: key, start, end: start + eq });
      let valueEnd = i;
      // `note` and the like never use key="..."; but `key="str"` keeps the quoted part together.
      if (i < n && line[i] === '"' && eq === word.length - 1) {
        i++;
        while (i < n && line[i] !== '"') {
          i += line[i] === '\\' ? 2 : 1;
        }
        i = Math.min(n, i + 1);
        valueEnd = i;
      }
      tokens.push({ kind: 'value', text: line.slice(start + eq + 1, valueEnd), start: start + eq + 1, end: valueEnd, key });
      continue;
    }
    const first = tokens.length === 0;
    const prev = tokens.length === 1 ? tokens[0] : undefined;
    if (first) {
      tokens.push({ kind: 'keyword', text: word, start, end: i });
    } else if (prev && prev.kind === 'keyword' && COMPOUND[prev.text]?.includes(word)) {
      tokens.push({ kind: 'sub', text: word, start, end: i });
    } else {
      tokens.push({ kind: 'word', text: word, start, end: i });
    }
  }
  return tokens;
}

/** The statement name of a scanned line: `write`, `ioreq map`, `expect screen`; undefined for blank lines. */
export function statementName(tokens: readonly Token[]): string | undefined {
  const kw = tokens[0];
  if (!kw || kw.kind !== 'keyword') {
    return undefined;
  }
  const sub = tokens[1];
  if (sub && sub.kind === 'sub') {
    return `${kw.text} ${sub.text}`;
  }
  if (kw.text === 'ioreq' || kw.text === 'expect') {
    return kw.text;
  }
  return kw.text;
}

/** The token under (or just before) a 0-based column. */
export function tokenAt(tokens: readonly Token[], col: number): Token | undefined {
  return tokens.find((t) => col >= t.start && col <= t.end && t.kind !== 'comment')
    ?? tokens.find((t) => t.kind === 'comment' && col >= t.start);
}

export type NameKind = 'domain' | 'fb' | 'process' | 'server';

export interface Declaration {
  kind: NameKind;
  name: string;
  /** 0-based line and column range of the name. */
  line: number;
  start: number;
  end: number;
  /** The whole statement's text, trimmed (for symbol details). */
  detail: string;
}

export interface RepeatBlock {
  /** 0-based lines of `repeat` and of its `end` (or the last line when unbalanced). */
  start: number;
  end: number;
  count: string;
  children: RepeatBlock[];
}

export interface Outline {
  declarations: Declaration[];
  repeats: RepeatBlock[];
  /** vCPU references that can be written (`g.0`, `g.1`, ...), in declaration order. */
  vcpus: string[];
}

const DECLARING: Record<string, NameKind> = { domain: 'domain', vram: 'fb', process: 'process', 'ioreq server': 'server' };

/** First words of the lines that shape an outline: declarations, `repeat` and `end`. */
const OUTLINE_WORDS = new Set(['domain', 'vram', 'process', 'ioreq', 'repeat', 'end']);
const FIRST_WORD = /^\s*([a-z-]+)/;
const JSONL_OP = /"op"\s*:\s*"([a-z-]+)/;

/**
 * Can this line declare a name or open or close a `repeat`? A cheap look at its first word (or
 * JSON Lines `op`), so that an outline of a million stores does not tokenize every one of them.
 */
function mayShape(line: string): boolean {
  const m = FIRST_WORD.exec(line);
  if (m !== null) {
    return OUTLINE_WORDS.has(m[1]);
  }
  if (line.trimStart().startsWith('{')) {
    const op = JSONL_OP.exec(line);
    return op === null || OUTLINE_WORDS.has(op[1]);
  }
  return false;
}

/** Declarations, vCPUs and `repeat` blocks of a whole text trace (JSON Lines: declarations by `"args"`). */
export function outline(text: string): Outline {
  const lines = text.split('\n');
  const declarations: Declaration[] = [];
  const vcpus: string[] = [];
  const roots: RepeatBlock[] = [];
  const open: RepeatBlock[] = [];
  for (let ln = 0; ln < lines.length; ln++) {
    const line = lines[ln];
    if (!mayShape(line)) {
      continue;
    }
    const tokens = line.trimStart().startsWith('{') ? scanJsonlDeclaration(line) : scanLine(line);
    const name = statementName(tokens);
    if (!name) {
      continue;
    }
    const kind = DECLARING[name];
    if (kind) {
      const nameTok = tokens.find((t) => t.kind === 'word');
      if (nameTok) {
        declarations.push({ kind, name: nameTok.text, line: ln, start: nameTok.start, end: nameTok.end, detail: line.trim() });
        if (kind === 'domain') {
          const v = tokens.find((t) => t.kind === 'value' && t.key === 'vcpus');
          // The parser's spellings (decimal, 0x hex, `_` separators).
          const parsed = v ? parseUnsigned(v.text) : undefined;
          const count = parsed === undefined ? NaN : Number(parsed);
          for (let i = 0; i < (Number.isFinite(count) ? Math.min(count, 128) : 1); i++) {
            vcpus.push(`${nameTok.text}.${i}`);
          }
        }
      }
    } else if (name === 'repeat') {
      const block: RepeatBlock = { start: ln, end: lines.length - 1, count: tokens[1]?.text ?? '', children: [] };
      (open.length ? open[open.length - 1].children : roots).push(block);
      open.push(block);
    } else if (name === 'end') {
      const block = open.pop();
      if (block) {
        block.end = ln;
      }
    }
  }
  return { declarations, repeats: roots, vcpus };
}

/** For a JSON Lines line: the keyword plus its first bare word (`"args":["name"]`) as a `word` token. */
function scanJsonlDeclaration(line: string): Token[] {
  const tokens = scanLine(line);
  const m = /"args"\s*:\s*\[\s*"([^"]*)"/.exec(line);
  if (tokens.length && m) {
    const start = line.indexOf(`"${m[1]}"`, m.index) + 1;
    const op = tokens[0].text;
    if (op === 'ioreq' || op === 'ioreq server') {
      // {"op":"ioreq","args":["server","gpu"]}
      const m2 = /"args"\s*:\s*\[\s*"server"\s*,\s*"([^"]*)"/.exec(line);
      if (m2) {
        const s2 = line.indexOf(`"${m2[1]}"`, m2.index + 10) + 1;
        return [{ ...tokens[0], text: 'ioreq' }, { kind: 'sub', text: 'server', start, end: start + 6 }, { kind: 'word', text: m2[1], start: s2, end: s2 + m2[1].length }];
      }
      return tokens;
    }
    tokens.push({ kind: 'word', text: m[1], start, end: start + m[1].length });
  }
  return tokens;
}

/** Expand one 0-based column range to the text word it names, for diagnostics without an end column. */
export function wordRangeAt(line: string, col: number): { start: number; end: number } {
  const c = Math.max(0, Math.min(col, line.length));
  let end = c;
  while (end < line.length && !/[\s#=,]/.test(line[end])) {
    end++;
  }
  if (end === c) {
    end = Math.min(line.length, c + 1);
  }
  return { start: c, end: Math.max(end, c) };
}

/** Convert a code-point column (the spec's, 1-based) to a UTF-16 column (VS Code's, 0-based). */
export function codePointColToUtf16(line: string, col1: number): number {
  let cp = 1;
  let i = 0;
  while (i < line.length && cp < col1) {
    const code = line.charCodeAt(i);
    i += code >= 0xd800 && code <= 0xdbff ? 2 : 1;
    cp++;
  }
  return i;
}

/**
 * Lexical layer of the `.xpt` text form: splitting into lines (with the 1 MiB line limit checked while
 * scanning, so a huge line is refused without building it as a string), and each line into tokens with
 * their 1-based columns in Unicode code points. The layout (indentation, separators, trailing comment)
 * is kept so that `xpl convert` can reproduce the line byte for byte.
 */

export const MAX_LINE_BYTES = 1024 * 1024;
export const MAX_FILE_BYTES = 1024 * 1024 * 1024;

/** A lexical problem at a 1-based line and column (turned into a TraceError by the caller). */
export class LexError extends Error {
  constructor(readonly line: number, readonly col: number, message: string) {
    super(message);
    this.name = 'LexError';
  }
}

/** A token of a statement line. */
export interface Token {
  /** `word`: a bare word; `string`: a quoted string; `pair`: `key=value`. */
  kind: 'word' | 'string' | 'pair';
  /** The token exactly as written. */
  raw: string;
  /** Column of the token's first character. */
  col: number;
  /** `word`: the word; `string`: the decoded text; `pair`: the value as written. */
  value: string;
  /** `pair` only. */
  key?: string;
  /** `pair` only: column where the value starts. */
  valueCol?: number;
}

/** One line after lexing. */
export interface LexedLine {
  line: number;
  /** Leading white space. */
  indent: string;
  tokens: Token[];
  /** White space before each token after the first (seps[i] precedes tokens[i + 1]). */
  seps: string[];
  /** White space after the last token (before the comment, if any). */
  trailing: string;
  /** Text after `#`, when the line has a comment. */
  comment?: string;
  /** Column of the `#`. */
  commentCol?: number;
  /** The line ended with `\r\n`. */
  cr: boolean;
}

/**
 * Length (in UTF-16 units, 0 or 1) of a UTF-8 byte-order mark at the very start of `text`: accepted
 * and ignored there (columns on line 1 do not count it); anywhere else U+FEFF is an error.
 */
export function bomLength(text: string): number {
  return text.charCodeAt(0) === 0xfeff ? 1 : 0;
}

/** A line of a text: its 0-based start offset (UTF-16) and end (exclusive, before `\r?\n`). */
export interface LineSpan { start: number; end: number; cr: boolean }

/**
 * Iterate over the lines of `text`, refusing any line longer than 1 MiB (UTF-8) before the caller
 * looks at its content. `noEol` is true for a last line not followed by `\n`. A byte-order mark at
 * the start is skipped (see `bomLength`).
 */
export function* lineSpans(text: string): Generator<LineSpan & { line: number; noEol: boolean; tooLong: boolean }> {
  let start = bomLength(text);
  let line = 1;
  const n = text.length;
  while (start < n) {
    let nl = text.indexOf('\n', start);
    const noEol = nl < 0;
    if (nl < 0) {
      nl = n;
    }
    let end = nl;
    let cr = false;
    if (!noEol && end > start && text.charCodeAt(end - 1) === 13) {
      end -= 1;
      cr = true;
    }
    yield { start, end, cr, line, noEol, tooLong: lineTooLong(text, start, end) };
    start = nl + 1;
    line += 1;
  }
}

export const LINE_TOO_LONG = 'line is longer than 1 MiB (the limit)';

/** UTF-8 length of text[start, end) exceeds the limit? Cheap for short lines, linear otherwise. */
function lineTooLong(text: string, start: number, end: number): boolean {
  const units = end - start;
  if (units * 3 <= MAX_LINE_BYTES) {
    return false; // every UTF-16 unit is at most 3 UTF-8 bytes
  }
  if (units > MAX_LINE_BYTES) {
    return true;
  }
  let bytes = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) {
      bytes += 1;
    } else if (c < 0x800) {
      bytes += 2;
    } else if (c >= 0xd800 && c < 0xdc00) {
      bytes += 4;
      i++;
    } else {
      bytes += 3;
    }
    if (bytes > MAX_LINE_BYTES) {
      return true;
    }
  }
  return false;
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9;
}

/** Control characters other than tab are refused everywhere (binary junk, NUL). */
function controlMessage(c: number): string | undefined {
  if (c === 0) {
    return 'NUL byte in trace (binary file?)';
  }
  if ((c < 32 && c !== 9) || c === 0x7f) {
    return `control character U+${c.toString(16).padStart(4, '0').toUpperCase()} in trace (binary file?)`;
  }
  if (c === 0xfeff) {
    return 'byte-order mark (U+FEFF) in the middle of the trace (one is allowed only at the very start of the file)';
  }
  return undefined;
}

/**
 * Tokenize one line (without its terminator). Columns count code points. Throws LexError.
 */
export function lexLine(text: string, start: number, end: number, line: number, cr: boolean): LexedLine {
  const out: LexedLine = { line, indent: '', tokens: [], seps: [], trailing: '', cr };
  let i = start;
  let col = 1;
  // advance over one code unit or surrogate pair, returning the code point
  const cpAt = (k: number): number => text.codePointAt(k) ?? 0;
  const width = (cp: number): number => (cp > 0xffff ? 2 : 1);

  let wsStart = i;
  while (i < end && isSpace(text.charCodeAt(i))) {
    i++;
    col++;
  }
  out.indent = text.slice(wsStart, i);
  let pendingWs = '';
  let first = true;
  while (i < end) {
    const c = text.charCodeAt(i);
    if (c === 35 /* # */) {
      out.trailing = first ? '' : pendingWs;
      out.commentCol = col;
      // validate the comment's characters
      let j = i + 1;
      let cc = col + 1;
      while (j < end) {
        const cp = cpAt(j);
        const m = controlMessage(cp);
        if (m) {
          throw new LexError(line, cc, m);
        }
        j += width(cp);
        cc++;
      }
      out.comment = text.slice(i + 1, end);
      if (first) {
        out.trailing = '';
      }
      return out;
    }
    if (!first || out.tokens.length > 0) {
      out.seps.push(pendingWs);
    }
    first = false;
    const tokCol = col;
    const tokStart = i;
    if (c === 34 /* " */) {
      // quoted string
      i++;
      col++;
      let value = '';
      let closed = false;
      while (i < end) {
        const cp = cpAt(i);
        // A string holds anything but a newline (the spec); NUL still says "binary file".
        const m = cp === 0 || cp === 0xfeff ? controlMessage(cp) : undefined;
        if (m) {
          throw new LexError(line, col, m);
        }
        if (cp === 34) {
          i++;
          col++;
          closed = true;
          break;
        }
        if (cp === 92 /* \ */) {
          const next = i + 1 < end ? text.charCodeAt(i + 1) : -1;
          if (next === 34 || next === 92) {
            value += String.fromCharCode(next);
            i += 2;
            col += 2;
            continue;
          }
          // Only \" and \\ escape: any other backslash is itself (a path, a C string's \n).
        }
        value += String.fromCodePoint(cp);
        i += width(cp);
        col++;
      }
      if (!closed) {
        throw new LexError(line, tokCol, 'unterminated string (missing closing ")');
      }
      if (i < end && !isSpace(text.charCodeAt(i)) && text.charCodeAt(i) !== 35) {
        throw new LexError(line, col, 'expected white space after the closing quote');
      }
      out.tokens.push({ kind: 'string', raw: text.slice(tokStart, i), col: tokCol, value });
    } else {
      let eqCol = 0;
      let eqAt = -1;
      while (i < end) {
        const cp = cpAt(i);
        if (isSpace(cp) || cp === 35) {
          break;
        }
        const m = controlMessage(cp);
        if (m) {
          throw new LexError(line, col, m);
        }
        if (cp === 34) {
          throw new LexError(line, col, 'unexpected \'"\': quoted strings must stand alone (as in note "TEXT")');
        }
        if (cp === 61 /* = */ && eqAt < 0) {
          eqAt = i;
          eqCol = col;
        }
        i += width(cp);
        col++;
      }
      const raw = text.slice(tokStart, i);
      if (eqAt >= 0) {
        const key = text.slice(tokStart, eqAt);
        const value = text.slice(eqAt + 1, i);
        if (key === '') {
          throw new LexError(line, tokCol, `missing key before '='`);
        }
        if (value === '') {
          throw new LexError(line, tokCol, `missing value after '${key}='`);
        }
        out.tokens.push({ kind: 'pair', raw, col: tokCol, key, value, valueCol: eqCol + 1 });
      } else {
        out.tokens.push({ kind: 'word', raw, col: tokCol, value: raw });
      }
    }
    wsStart = i;
    while (i < end && isSpace(text.charCodeAt(i))) {
      i++;
      col++;
    }
    pendingWs = text.slice(wsStart, i);
  }
  out.trailing = out.tokens.length > 0 ? pendingWs : '';
  return out;
}

/**
 * A message safe to print as one line: control characters (which JSON strings can carry) escaped,
 * and at most 400 characters.
 */
export function oneLine(message: string): string {
  // eslint-disable-next-line no-control-regex
  let s = message.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => (c === '\n' ? '\\n' : c === '\t' ? '\\t' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
  if (s.length > 400) {
    s = s.slice(0, 399) + '…';
  }
  return s;
}

/** Column (1-based, code points) of UTF-16 offset `idx` in `s`. */
export function columnOf(s: string, idx: number): number {
  let col = 1;
  for (let i = 0; i < idx && i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c < 0xdc00) {
      i++;
    }
    col++;
  }
  return col;
}

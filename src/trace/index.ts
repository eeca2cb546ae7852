/**
 * The `.xpt` trace language: text and JSON Lines → Program, diagnostics for the editor, and the
 * byte-for-byte converters used by `xpl convert`.
 */
import * as fs from 'fs';
import { TraceError, type Program } from '../sim/program';
import { LexError, LINE_TOO_LONG, oneLine, MAX_FILE_BYTES, MAX_LINE_BYTES, lexLine, lineSpans } from './lexer';
import { jsonToRaw, jsonlLinesToText, lexedToRaw, readJsonLine, textLinesToJsonl } from './jsonl';
import { Checker, type RawStmt } from './parser';
import { STATEMENTS } from './keywords';

export { TraceError };
export type { Program };
export { LIMITS } from './parser';

/** Keywords whose bare word is a quoted string (`note`). */
const STRING_WORDS: ReadonlySet<string> = new Set(STATEMENTS.filter((s) => s.positional.some((p) => p.kind === 'string')).map((s) => s.keyword));

/** JSON Lines when the file name ends with `.jsonl` or the first non-blank line starts with `{`. */
export function isJsonlTrace(text: string, file: string): boolean {
  if (file.endsWith('.jsonl')) {
    return true;
  }
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 32 || c === 9 || c === 10 || c === 13) {
      continue;
    }
    return c === 123;
  }
  return false;
}

/** Raw statements of a text, line by line; `onError` decides whether to go on (diagnostics) or throw. */
function* rawStatements(text: string, jsonl: boolean): Generator<RawStmt | LexError | null> {
  for (const span of lineSpans(text)) {
    if (span.tooLong) {
      yield new LexError(span.line, 1, LINE_TOO_LONG);
      continue;
    }
    try {
      if (jsonl) {
        const lineText = text.slice(span.start, span.end);
        yield lineText.trim() === '' ? null : jsonToRaw(readJsonLine(lineText, span.line), span.line);
      } else {
        yield lexedToRaw(lexLine(text, span.start, span.end, span.line, span.cr));
      }
    } catch (e) {
      if (e instanceof LexError) {
        yield e;
        continue;
      }
      throw e;
    }
  }
}

function checkAll(text: string, file: string, finish: boolean): Checker {
  const checker = new Checker(file);
  for (const r of rawStatements(text, isJsonlTrace(text, file))) {
    if (r instanceof LexError) {
      throw new TraceError(file, r.line, r.col, oneLine(r.message));
    }
    if (r) {
      checker.add(r);
    }
  }
  if (finish) {
    checker.finish();
  }
  return checker;
}

/**
 * Parse a trace (text, or JSON Lines by name or content) into a Program. Throws TraceError
 * (`FILE:LINE:COL: error: MESSAGE`) on the first error.
 */
export function parseTrace(text: string, file: string): Program {
  const checker = checkAll(text, file, true);
  return { file, statements: checker.statements };
}

/** Every independent error that can be found (continuing with the next line). Never throws. */
export function diagnoseTrace(text: string, file: string, maxErrors = 200): TraceError[] {
  const out: TraceError[] = [];
  try {
    const checker = new Checker(file);
    for (const r of rawStatements(text, isJsonlTrace(text, file))) {
      if (out.length >= maxErrors) {
        return out;
      }
      if (r instanceof LexError) {
        out.push(new TraceError(file, r.line, r.col, oneLine(r.message)));
        continue;
      }
      if (!r) {
        continue;
      }
      try {
        checker.add(r);
      } catch (e) {
        if (e instanceof TraceError) {
          out.push(e);
          if (r.keyword === 'repeat' && !/repeat would|iterations/.test(e.detail)) {
            // keep repeat/end balanced after a bad repeat line
            checker.add({ ...r, words: [{ text: '1', col: r.col, quoted: false, json: false }], pairs: [] });
          }
          continue;
        }
        throw e;
      }
    }
    out.push(...checker.finishLenient());
  } catch (e) {
    out.push(new TraceError(file, 1, 1, `internal error while checking the trace: ${e instanceof Error ? e.message : String(e)}`));
  }
  return out;
}

function lexToTrace(file: string, f: () => string): string {
  try {
    return f();
  } catch (e) {
    if (e instanceof LexError) {
      throw new TraceError(file, e.line, e.col, oneLine(e.message));
    }
    throw e;
  }
}

/** Text trace → JSON Lines, keeping comments and layout so that `jsonlToText` restores it byte for byte. Throws TraceError. */
export function textToJsonl(text: string, file: string): string {
  if (isJsonlTrace(text, file) && !file.endsWith('.xpt')) {
    throw new TraceError(file, 1, 1, 'this trace is already JSON Lines');
  }
  checkAll(text, file.endsWith('.jsonl') ? file.slice(0, -6) : file, true);
  return lexToTrace(file, () => textLinesToJsonl(text));
}

/** JSON Lines trace → text. Throws TraceError. */
export function jsonlToText(text: string, file: string): string {
  const jfile = file.endsWith('.jsonl') ? file : file + '.jsonl';
  checkAll(text, jfile, true);
  return lexToTrace(file, () => jsonlLinesToText(text, STRING_WORDS));
}

/**
 * Read and parse a trace file. The 1 GiB limit is checked before reading; over-long lines and invalid
 * UTF-8 are found on the bytes (after any earlier error in the text before them).
 */
export function readTraceFile(path: string): Program {
  let size: number;
  try {
    size = fs.statSync(path).size;
  } catch (e) {
    throw new TraceError(path, 1, 1, `cannot read the trace: ${describeFsError(e)}`);
  }
  if (size > MAX_FILE_BYTES) {
    throw new TraceError(path, 1, 1, `the file is larger than 1 GiB (the limit)`);
  }
  let buf: Buffer;
  try {
    buf = fs.readFileSync(path);
  } catch (e) {
    throw new TraceError(path, 1, 1, `cannot read the trace: ${describeFsError(e)}`);
  }
  return parseTraceBytes(buf, path);
}

/** Parse bytes: find the first over-long line or invalid UTF-8 before decoding everything. */
export function parseTraceBytes(buf: Uint8Array, file: string): Program {
  const problem = scanBytes(buf);
  if (problem) {
    // report an earlier error in the good prefix first
    const prefix = Buffer.from(buf.buffer, buf.byteOffset, problem.lineStart).toString('utf8');
    checkAll(prefix, file, false);
    throw new TraceError(file, problem.line, problem.col, problem.message);
  }
  const text = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString('utf8');
  return parseTrace(text, file);
}

interface ByteProblem { line: number; col: number; lineStart: number; message: string }

/** The first line over 1 MiB or the first invalid UTF-8 sequence, with its line and column. */
export function scanBytes(buf: Uint8Array): ByteProblem | undefined {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  let line = 1;
  let start = 0;
  while (start <= b.length) {
    let nl = b.indexOf(10, start);
    if (nl < 0) {
      nl = b.length;
    }
    let end = nl;
    if (end > start && b[end - 1] === 13) {
      end--;
    }
    if (end - start > MAX_LINE_BYTES) {
      return { line, col: 1, lineStart: start, message: LINE_TOO_LONG };
    }
    const bad = firstInvalidUtf8(b, start, end);
    if (bad !== undefined) {
      return { line, col: bad.col, lineStart: start, message: `invalid UTF-8 (byte 0x${(b[bad.offset] ?? 0).toString(16).padStart(2, '0')}): the trace must be UTF-8 text` };
    }
    if (nl >= b.length) {
      break;
    }
    start = nl + 1;
    line++;
  }
  return undefined;
}

function firstInvalidUtf8(b: Buffer, start: number, end: number): { offset: number; col: number } | undefined {
  let col = 1;
  let i = start;
  while (i < end) {
    const c = b[i] ?? 0;
    if (c < 0x80) {
      i++;
      col++;
      continue;
    }
    let need: number;
    let min: number;
    if (c >= 0xc2 && c <= 0xdf) {
      need = 1;
      min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      min = 0x10000;
    } else {
      return { offset: i, col };
    }
    let cp = c & (0xff >> (need + 2));
    for (let k = 1; k <= need; k++) {
      const cc = b[i + k];
      if (cc === undefined || i + k >= end || (cc & 0xc0) !== 0x80) {
        return { offset: i, col };
      }
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      return { offset: i, col };
    }
    i += need + 1;
    col++;
  }
  return undefined;
}

function describeFsError(e: unknown): string {
  if (e && typeof e === 'object' && 'code' in e) {
    const code = (e as { code?: unknown }).code;
    if (code === 'ENOENT') {
      return 'no such file';
    }
    if (code === 'EISDIR') {
      return 'it is a directory';
    }
    if (code === 'EACCES') {
      return 'permission denied';
    }
  }
  return e instanceof Error ? e.message : String(e);
}

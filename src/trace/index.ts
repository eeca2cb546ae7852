/**
 * The `.xpt` trace language: text and JSON Lines → Program, diagnostics for the editor, and the
 * byte-for-byte converters used by `xpl convert`.
 */
import * as fs from 'fs';
import { TraceError, type Program } from '../sim/program';
import { LexError, LINE_TOO_LONG, oneLine, MAX_FILE_BYTES, MAX_LINE_BYTES, bomLength, lexLine, lineSpans } from './lexer';
import { BOM_ONLY_JSONL, jsonToLine, jsonToRaw, jsonlLinesToText, lexedToRaw, lineToJson, readJsonLine, textLinesToJsonl } from './jsonl';
import { Checker, parserShortcuts, type ParserBounds, type RawStmt } from './parser';
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
  for (let i = bomLength(text); i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 32 || c === 9 || c === 10 || c === 13) {
      continue;
    }
    return c === 123;
  }
  return false;
}

/** Length (0 or 3) of a UTF-8 byte-order mark at the start of `b` (accepted and ignored there). */
function bomBytes(b: Buffer): number {
  return b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? 3 : 0;
}

function isJsonlBytes(b: Buffer, file: string): boolean {
  if (file.endsWith('.jsonl')) {
    return true;
  }
  for (let i = bomBytes(b); i < b.length; i++) {
    const c = b[i];
    if (c === 32 || c === 9 || c === 10 || c === 13) {
      continue;
    }
    return c === 123;
  }
  return false;
}

/** One source line: its text (without terminator), or the problem that keeps it from being read. */
interface SrcLine { line: number; text: string; cr: boolean; noEol: boolean; problem?: LexError }

/** The lines of a string. */
function* textLines(text: string): Generator<SrcLine> {
  for (const span of lineSpans(text)) {
    yield span.tooLong
      ? { line: span.line, text: '', cr: span.cr, noEol: span.noEol, problem: new LexError(span.line, 1, LINE_TOO_LONG) }
      : { line: span.line, text: text.slice(span.start, span.end), cr: span.cr, noEol: span.noEol };
  }
}

/**
 * The lines of a UTF-8 buffer, decoded one at a time (a file may be larger than the longest string
 * the runtime can hold). Over-long lines and invalid UTF-8 are found on the bytes. A byte-order mark
 * at the start is skipped (columns on line 1 do not count it).
 */
function* byteLines(b: Buffer): Generator<SrcLine> {
  let line = 1;
  let start = bomBytes(b);
  while (start < b.length) {
    let nl = b.indexOf(10, start);
    const noEol = nl < 0;
    if (nl < 0) {
      nl = b.length;
    }
    let end = nl;
    const cr = !noEol && end > start && b[end - 1] === 13;
    if (cr) {
      end--;
    }
    if (end - start > MAX_LINE_BYTES) {
      yield { line, text: '', cr, noEol, problem: new LexError(line, 1, LINE_TOO_LONG) };
    } else {
      const bad = firstInvalidUtf8(b, start, end);
      yield bad !== undefined
        ? { line, text: '', cr, noEol, problem: new LexError(line, bad.col, `invalid UTF-8 (byte 0x${(b[bad.offset] ?? 0).toString(16).padStart(2, '0')}): the trace must be UTF-8 text`) }
        : { line, text: b.toString('utf8', start, end), cr, noEol };
    }
    start = nl + 1;
    line++;
  }
}

/**
 * The commonest line of a big trace, `write vcpu=NAME.N va=ADDRESS` with single spaces and nothing
 * else, as the raw statement the lexer would make of it, without lexing it (a million-line trace
 * is mostly these). Any other line: null.
 */
const PLAIN_STORE = /^write vcpu=([A-Za-z_][A-Za-z0-9_-]*\.[0-9]+) va=(0x[0-9a-fA-F]+|[0-9]+)$/;
export function plainStore(l: { line: number; text: string; cr: boolean }): RawStmt | null {
  if (l.cr || l.text.length > 100 || !parserShortcuts.enabled) {
    return null;
  }
  const m = PLAIN_STORE.exec(l.text);
  if (m === null) {
    return null;
  }
  const v = m[1] as string;
  return {
    line: l.line, col: 1, keyword: 'write', words: [],
    pairs: [
      { key: 'vcpu', value: v, keyCol: 7, valueCol: 12, json: false },
      { key: 'va', value: m[2] as string, keyCol: 13 + v.length, valueCol: 16 + v.length, json: false },
    ],
  };
}

/** Raw statements of some lines (null for blank and comment lines, LexError for a bad line). */
function* rawStatements(lines: Iterable<SrcLine>, jsonl: boolean): Generator<RawStmt | LexError | null> {
  for (const l of lines) {
    if (l.problem) {
      yield l.problem;
      continue;
    }
    try {
      if (jsonl) {
        yield l.text.trim() === '' ? null : jsonToRaw(readJsonLine(l.text, l.line), l.line);
      } else {
        yield plainStore(l) ?? lexedToRaw(lexLine(l.text, 0, l.text.length, l.line, l.cr));
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

function checkLines(lines: Iterable<SrcLine>, jsonl: boolean, file: string, bounds?: ParserBounds): Checker {
  return finish(checkLinesInSteps(lines, jsonl, file, bounds));
}

/** Statements checked between two yields of the `...InSteps` generators (a few milliseconds). */
const STEP_STATEMENTS = 512;

/** `checkLines` as a generator that yields after every STEP_STATEMENTS statements. */
function* checkLinesInSteps(lines: Iterable<SrcLine>, jsonl: boolean, file: string, bounds?: ParserBounds): Generator<void, Checker, void> {
  const checker = new Checker(file, bounds);
  let n = 0;
  for (const r of rawStatements(lines, jsonl)) {
    if (++n % STEP_STATEMENTS === 0) {
      yield;
    }
    if (r instanceof LexError) {
      throw new TraceError(file, r.line, r.col, oneLine(r.message));
    }
    if (r) {
      checker.add(r);
    }
  }
  checker.finish();
  return checker;
}

/** Run a generator to its end. */
function finish<T>(steps: Generator<void, T, void>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) {
      return r.value;
    }
  }
}

/**
 * `parseTrace` for the extension host: the same parse, run in slices of about `sliceMs` with the
 * event loop's turn between them, so that a trace of a million lines (seconds to read) never blocks
 * the host. Rejects with the same TraceError.
 */
export async function parseTraceSliced(text: string, file: string, sliceMs = 10): Promise<Program> {
  const checker = (await runInSlices(checkLinesInSteps(textLines(text), isJsonlTrace(text, file), file), sliceMs))!;
  return { file, statements: checker.statements };
}

/**
 * Run a step generator (`...InSteps`) to its end, about `sliceMs` at a time with the event loop's
 * turn between slices. Resolves to undefined if `cancelled` says so at a slice boundary.
 */
export async function runInSlices<T>(steps: Generator<void, T, void>, sliceMs: number, cancelled: () => boolean = () => false): Promise<T | undefined> {
  for (;;) {
    const end = Date.now() + sliceMs;
    for (;;) {
      const r = steps.next();
      if (r.done) {
        return r.value;
      }
      if (Date.now() >= end) {
        break;
      }
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (cancelled()) {
      return undefined;
    }
  }
}

function checkAll(text: string, file: string, bounds?: ParserBounds): Checker {
  return checkLines(textLines(text), isJsonlTrace(text, file), file, bounds);
}

/**
 * Parse a trace (text, or JSON Lines by name or content) into a Program. Throws TraceError
 * (`FILE:LINE:COL: error: MESSAGE`) on the first error.
 */
export function parseTrace(text: string, file: string): Program {
  const checker = checkAll(text, file);
  return { file, statements: checker.statements };
}

/** parseTrace with the parser's own memory bounds lowered (tests of those bounds). */
export function parseTraceBounded(text: string, file: string, bounds: ParserBounds): Program {
  return { file, statements: checkAll(text, file, bounds).statements };
}

/** Every independent error that can be found (continuing with the next line). Never throws. */
export function diagnoseTrace(text: string, file: string, maxErrors = 200): TraceError[] {
  return finish(diagnoseInSteps(text, file, maxErrors));
}

/**
 * `diagnoseTrace` as a generator that yields after every STEP_STATEMENTS statements and returns the
 * errors, so that an editor can check a big trace in slices (and drop a check an edit made stale)
 * instead of blocking while it reads a million lines.
 */
export function* diagnoseInSteps(text: string, file: string, maxErrors = 200): Generator<void, TraceError[], void> {
  const out: TraceError[] = [];
  try {
    const checker = new Checker(file);
    let n = 0;
    // Names whose declaring line has an error: later uses of them are not reported again.
    const broken = new Set<string>();
    for (const r of rawStatements(textLines(text), isJsonlTrace(text, file))) {
      if (out.length >= maxErrors) {
        return out;
      }
      if (++n % STEP_STATEMENTS === 0) {
        yield;
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
          const declared = declaredName(r);
          if (declared !== null) {
            broken.add(declared);
          }
          const undeclared = /^undeclared (domain|framebuffer|process|ioreq server) '([^']*)'/.exec(e.detail);
          if (undeclared && broken.has(`${undeclared[1]} ${undeclared[2]}`)) {
            // Only a consequence of the failed declaration, which is reported already.
            continue;
          }
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

/** `KIND NAME` of what a declaring statement declares (as the parser's "undeclared" errors name it), or null. */
function declaredName(r: RawStmt): string | null {
  const w = r.words;
  switch (r.keyword) {
    case 'domain': return w[0] ? `domain ${w[0].text}` : null;
    case 'vram': return w[0] ? `framebuffer ${w[0].text}` : null;
    case 'process': return w[0] ? `process ${w[0].text}` : null;
    case 'ioreq': return w[0]?.text === 'server' && w[1] ? `ioreq server ${w[1].text}` : null;
    default: return null;
  }
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
  checkAll(text, file.endsWith('.jsonl') ? file.slice(0, -6) : file);
  return lexToTrace(file, () => textLinesToJsonl(text));
}

/** JSON Lines trace → text. Throws TraceError. */
export function jsonlToText(text: string, file: string): string {
  const jfile = file.endsWith('.jsonl') ? file : file + '.jsonl';
  checkAll(text, jfile);
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

/** Parse the bytes of a trace file, line by line. Throws TraceError. */
export function parseTraceBytes(buf: Uint8Array, file: string): Program {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const checker = checkLines(byteLines(b), isJsonlBytes(b, file), file);
  return { file, statements: checker.statements };
}

/**
 * Convert a trace file's bytes between text and JSON Lines (JSON Lines when `toJsonl`), after
 * checking the whole trace; yields the output in chunks (it may be longer than the longest string).
 * Throws TraceError.
 */
export function* convertTraceBytes(buf: Uint8Array, file: string, toJsonl: boolean): Generator<string> {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const jsonl = isJsonlBytes(b, file);
  if (jsonl === toJsonl) {
    throw new TraceError(file, 1, 1, toJsonl ? 'this trace is already JSON Lines' : 'this trace is not JSON Lines');
  }
  checkLines(byteLines(b), jsonl, file);
  // A text trace's byte-order mark is kept as `"#bom":true` on the first line's object (and written
  // back from it); one at the start of a JSON Lines file is only skipped.
  const bom = toJsonl && bomBytes(b) > 0;
  let chunk = '';
  try {
    if (bom && b.length === 3) {
      chunk += BOM_ONLY_JSONL;
    }
    for (const l of byteLines(b)) {
      if (toJsonl) {
        chunk += lineToJson(l.text, lexLine(l.text, 0, l.text.length, l.line, l.cr), l.noEol, bom && l.line === 1) + '\n';
      } else if (l.text.trim() === '') {
        chunk += '\n';
      } else {
        const r = jsonToLine(readJsonLine(l.text, l.line), l.line, STRING_WORDS);
        chunk += (r.bom ? '\ufeff' : '') + r.text + (r.cr ? '\r' : '') + (r.noEol ? '' : '\n');
      }
      if (chunk.length > 1 << 20) {
        yield chunk;
        chunk = '';
      }
    }
  } catch (e) {
    if (e instanceof LexError) {
      throw new TraceError(file, e.line, e.col, oneLine(e.message));
    }
    throw e;
  }
  yield chunk;
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

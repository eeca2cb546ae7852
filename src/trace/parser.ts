/**
 * From raw statements (a keyword, bare words and key=value pairs with their columns, produced by the
 * text lexer or the JSON Lines reader) to the Program of src/sim/program.ts, with every static check
 * of the trace spec: keys, values, names, limits, paging/tracker fit, repeat structure, step budget.
 */
import {
  StatementTable,
  TraceError, canonicalToVa48, COUNTERS,
  type BugId, type CounterName, type InvariantId, type IoreqKind, type P2mTypeName, type Paging,
  type PteFlagName, type Statement, type Stmt, type SrcPos, type TrackerId, type VcpuRef, type Va48,
} from '../sim/program';
import { oneLine } from './lexer';
import {
  formsOf, KEYWORDS, TRACKER_DOCS, type KeySpec, type NameKind, type StatementSpec,
} from './keywords';

/** A bare word with its column. `quoted`: it was a quoted string (text) or a JSON string. */
export interface RawWord { text: string; col: number; quoted: boolean; json: boolean }
/**
 * A `key=value` (or a JSON member) with the columns of key and value. `emptyList`: a JSON empty
 * array, read as `none` (allowed only for a list that takes `none`).
 */
export interface RawPair { key: string; value: string; keyCol: number; valueCol: number; json: boolean; emptyList?: boolean }
/**
 * `col` is the keyword's column; `missingCol` is where an error about something missing points
 * (the keyword in text; 1 in JSON Lines, where no member holds what is missing).
 */
export interface RawStmt { line: number; col: number; missingCol?: number; keyword: string; words: RawWord[]; pairs: RawPair[] }

export const LIMITS = {
  domains: 64,
  vcpusPerDomain: 128,
  framebuffers: 64,
  processes: 4096,
  memPerDomain: 2 ** 40,
  steps: 1e8,
  vramPages: 262144,
  writeLen: 4096,
  dmaLen: 1024 * 1024,
  /** Expanded entries of one page/gfn list (`dirty=0..1048576`). */
  listEntries: 1 << 20,
  /**
   * Statements held in one Program (the parser's bound, below the spec's limits: about 250 bytes each,
   * so a 1 GiB file of short lines would not fit in memory). Long workloads use `repeat`.
   */
  statements: 1 << 21,
  /** Expanded entries of all lists of a trace together (bounds the parser's memory). */
  listEntriesTotal: 1 << 22,
  /** Guest frame numbers are below 2^40 (52-bit guest physical addresses). */
  gfnLimit: 2 ** 40,
} as const;

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const WORD_RE = /^[A-Za-z0-9_.:-]+$/;
const PAGE = 4096;

interface DomInfo { name: string; line: number; paging?: Paging; memPages?: number; vcpus?: number; fbs: string[]; mmio?: [number, number][] }
interface FbInfo { name: string; dom: string; gfn?: number; pages?: number; width?: number; height?: number; resized: boolean }
interface Decl { dom: string; line: number }
interface OpenRepeat { index: number; line: number; col: number; count: number; stepsAtOpen: number }

/** Per-form lookups computed once. */
interface FormInfo { flags: readonly { name: string }[]; ordered: StatementSpec['positional']; keys: Map<string, KeySpec>; keyNames: string[] }
const FORM_INFO = new WeakMap<StatementSpec, FormInfo>();
function formInfo(spec: StatementSpec): FormInfo {
  let f = FORM_INFO.get(spec);
  if (!f) {
    f = {
      flags: spec.positional.filter((p) => p.kind === 'flag'),
      ordered: spec.positional.filter((p) => p.kind !== 'flag'),
      keys: new Map(spec.keys.map((k) => [k.name, k])),
      keyNames: spec.keys.map((k) => k.name),
    };
    FORM_INFO.set(spec, f);
  }
  return f;
}

/**
 * The `write` form, when `write vcpu=V va=A` can take `Checker.addPlainWrite`: a single form without
 * a selector or bare words, whose only required keys are vcpu= and va=, neither an enum.
 */
const PLAIN_WRITE: StatementSpec | null = (() => {
  const forms = formsOf('write');
  const f = forms[0];
  if (forms.length !== 1 || f === undefined || f.selector || f.positional.length > 0 || f.declaration) {
    return null;
  }
  const keys = new Map(f.keys.map((k) => [k.name, k]));
  const plain = (name: string): boolean => keys.get(name) !== undefined && keys.get(name)?.kind !== 'enum';
  return plain('vcpu') && plain('va') && f.keys.every((k) => !k.required || k.name === 'vcpu' || k.name === 'va') ? f : null;
})();
const NO_FLAGS: ReadonlySet<string> = new Set();
/** Off: every line takes the general path (tests compare the two). */
export const parserShortcuts = { enabled: true };

/** The parser's own bounds on memory (below the spec's limits); see LIMITS. */
export interface ParserBounds { statements?: number; listEntriesTotal?: number }

class Fail extends Error {
  constructor(readonly col: number, message: string) {
    super(message);
  }
}

function fail(col: number, message: string): never {
  throw new Fail(col, message);
}

function kindLabel(kind: NameKind): string {
  return kind === 'ioreq-server' ? 'ioreq server' : kind;
}

/** Column inside a value: text values point at the item, JSON values at the member's value. */
function itemCol(p: RawPair, offset: number): number {
  if (p.json) {
    return p.valueCol;
  }
  let col = p.valueCol;
  for (let i = 0; i < offset && i < p.value.length; i++) {
    const c = p.value.charCodeAt(i);
    if (c >= 0xd800 && c < 0xdc00) {
      i++;
    }
    col++;
  }
  return col;
}

function quote(s: string): string {
  return `'${s.length > 40 ? s.slice(0, 40) + '…' : s}'`;
}

// ------------------------------------------------------------------ value syntax

const NUM_RE = /^(?:0x([0-9a-fA-F](?:_?[0-9a-fA-F])*)|([0-9](?:_?[0-9])*))$/;

/** Parse an unsigned integer in the trace syntax, as a bigint; undefined if malformed. */
export function parseUnsigned(text: string): bigint | undefined {
  if (text.length > 80) {
    return undefined;
  }
  const m = NUM_RE.exec(text);
  if (!m) {
    return undefined;
  }
  const digits = (m[1] ?? m[2] ?? '').replace(/_/g, '');
  return m[1] !== undefined ? BigInt('0x' + digits) : BigInt(digits);
}

function numberError(text: string, what: string): string {
  if (/^-/.test(text)) {
    return `${what} must not be negative: ${quote(text)}`;
  }
  if (/^0X/.test(text)) {
    return `bad number ${quote(text)}: hex numbers start with lower-case 0x`;
  }
  if (/_$|__|^_|0x_/.test(text)) {
    return `bad number ${quote(text)}: '_' may only separate digits`;
  }
  return `bad number ${quote(text)} for ${what} (expected decimal or 0x hex, '_' between digits)`;
}

const SMALL_DEC = /^[0-9]{1,15}$/;
const SMALL_HEX = /^0x[0-9a-fA-F]{1,12}$/;

/** The hex digits text[from, to) as a number (at most 13 of them, so exact), or -1 if one is not a hex digit. */
function hexValue(text: string, from: number, to: number): number {
  let v = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
    if (d < 0) {
      return -1;
    }
    v = v * 16 + d;
  }
  return v;
}

function num(text: string, col: number, what: string, min: number, max: number): number {
  // fast path for the common spellings (exact: below 2^53)
  const fast = SMALL_DEC.test(text) ? Number(text) : SMALL_HEX.test(text) ? parseInt(text.slice(2), 16) : undefined;
  if (fast !== undefined && fast >= min && fast <= max) {
    return fast;
  }
  const v = parseUnsigned(text);
  if (v === undefined) {
    if (text.length > 80 && NUM_RE.test(text.slice(0, 80))) {
      fail(col, `${what} ${quote(text)} is too large (at most ${max})`);
    }
    fail(col, numberError(text, what));
  }
  if (v > BigInt(max)) {
    fail(col, `${what} ${text} is too large (at most ${fmtLimit(max)})`);
  }
  const n = Number(v);
  if (n < min) {
    fail(col, `${what} ${text} is too small (at least ${min})`);
  }
  return n;
}

function fmtLimit(n: number): string {
  return n >= 0x10000 && Number.isInteger(Math.log2(n)) ? `2^${Math.log2(n)}` : n === 1e8 ? '10^8' : String(n);
}

const SIZE_MULT: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

function size(text: string, col: number, what: string): number {
  const m = /^(.*?)([KMGT]?)$/.exec(text);
  const body = m?.[1] ?? text;
  const suffix = m?.[2] ?? '';
  if (/^[0-9][0-9_]*(k|m|g|t|KB|MB|GB|TB|KiB|MiB|GiB|TiB|B)$/.test(text)) {
    fail(col, `bad size ${quote(text)}: the suffixes are K, M, G, T (binary, upper case)`);
  }
  const v = parseUnsigned(body);
  if (v === undefined) {
    fail(col, `bad size ${quote(text)} for ${what} (a number with an optional K, M, G or T suffix)`);
  }
  const bytes = v * BigInt(SIZE_MULT[suffix] ?? 1);
  if (bytes > BigInt(Number.MAX_SAFE_INTEGER)) {
    fail(col, `${what} ${text} is too large`);
  }
  return Number(bytes);
}

const DUR_MULT: Record<string, bigint> = { ns: 1n, us: 1000n, ms: 1000000n, s: 1000000000n };

function duration(text: string, col: number): number {
  const m = /^(.*?)(ns|us|ms|s)$/.exec(text);
  if (!m) {
    fail(col, `bad duration ${quote(text)} (a number with ns, us, ms or s)`);
  }
  const v = parseUnsigned(m[1] ?? '');
  if (v === undefined) {
    fail(col, `bad duration ${quote(text)} (a number with ns, us, ms or s)`);
  }
  const ns = v * (DUR_MULT[m[2] ?? 'ns'] ?? 1n);
  if (ns > BigInt(Number.MAX_SAFE_INTEGER)) {
    fail(col, `duration ${text} is too long`);
  }
  return Number(ns);
}

function va(text: string, col: number): Va48 {
  if (SMALL_HEX.test(text) || SMALL_DEC.test(text)) {
    const n = text.startsWith('0x') ? parseInt(text.slice(2), 16) : Number(text);
    if (n < 2 ** 47) {
      return n;
    }
  }
  if (text.length >= 15 && text.length <= 18 && text.charCodeAt(0) === 48 && text.charCodeAt(1) === 120) {
    // 0x and 13 to 16 hex digits, in two exact halves: bits 63..48 and bits 47..0. Canonical when
    // the high half is all zeros (and bit 47 clear) or, with all 16 digits, all ones (and bit 47 set).
    const hi = hexValue(text, 2, text.length - 12);
    const lo = hexValue(text, text.length - 12, text.length);
    if (hi >= 0 && lo >= 0 && (lo < 2 ** 47 ? hi === 0 : hi === 0xffff && text.length === 18)) {
      return lo;
    }
  }
  const v = parseUnsigned(text);
  if (v === undefined) {
    fail(col, numberError(text, 'virtual address'));
  }
  if (v >= 2n ** 64n) {
    fail(col, `virtual address ${text} does not fit in 64 bits`);
  }
  const r = canonicalToVa48(v);
  if (r === undefined) {
    fail(col, `non-canonical virtual address ${text}: bits 63..48 must equal bit 47 (x86-64 48-bit)`);
  }
  return r;
}

function color(text: string, col: number): number {
  if (!/^0x[0-9a-fA-F]{6}$/.test(text)) {
    fail(col, `bad colour ${quote(text)} (expected 0xRRGGBB)`);
  }
  return parseInt(text.slice(2), 16);
}

function numbersCsv(p: RawPair, n: number, what: string): number[] {
  const parts = p.value.split(',');
  if (parts.length !== n) {
    fail(p.valueCol, `${p.key} needs ${n} numbers ${what} separated by ',' without spaces`);
  }
  const out: number[] = [];
  let off = 0;
  for (const part of parts) {
    out.push(num(part, itemCol(p, off), `${p.key} item`, 0, 1 << 20));
    off += part.length + 1;
  }
  return out;
}

/** A PCI address `SSSS:BB:DD.F` as the SBDF number Xen uses. */
export function parsePci(text: string): number | undefined {
  const m = /^([0-9a-fA-F]{4}):([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])$/.exec(text);
  if (!m) {
    return undefined;
  }
  const dev = parseInt(m[3] ?? '', 16);
  if (dev > 31) {
    return undefined;
  }
  return parseInt(m[1] ?? '', 16) * 65536 + parseInt(m[2] ?? '', 16) * 256 + dev * 8 + parseInt(m[4] ?? '', 10);
}

function ioAddr(text: string, col: number, kind: IoreqKind | undefined, what: string): number {
  if (kind === 'pci') {
    const v = parsePci(text);
    if (v === undefined) {
      fail(col, `bad PCI address ${quote(text)} for ${what} (expected SSSS:BB:DD.F, device < 32, function < 8)`);
    }
    return v;
  }
  const max = kind === 'port' ? 0x10000 : 2 ** 52;
  return num(text, col, what, 0, max);
}

// ------------------------------------------------------------------ the checker

/** Distinct argument-column tables kept for sharing (past it, new layouts are not shared). */
const MAX_ARG_TABLES = 4096;

export class Checker {
  readonly statements = new StatementTable();
  private readonly domains = new Map<string, DomInfo>();
  private readonly fbs = new Map<string, FbInfo>();
  private readonly processes = new Map<string, Decl>();
  private readonly servers = new Map<string, Decl>();
  private readonly repeats: OpenRepeat[] = [];
  private multipliers: number[] = [1];
  private steps = 0;
  private loopWork = 0;
  private listTotal = 0;
  /** The step/iteration limit is reported once (diagnostics go on after it). */
  private limitReported = false;
  private line = 0;

  private readonly maxStatements: number;
  private readonly maxListTotal: number;

  /** `bounds` lowers the parser's own bounds (not the spec's limits), for tests. */
  constructor(readonly file: string, bounds: ParserBounds = {}) {
    this.maxStatements = bounds.statements ?? LIMITS.statements;
    this.maxListTotal = bounds.listEntriesTotal ?? LIMITS.listEntriesTotal;
  }

  private err(col: number, message: string): TraceError {
    return new TraceError(this.file, this.line, col, oneLine(message));
  }

  /** Check one statement and append it. Throws TraceError. */
  add(raw: RawStmt): void {
    this.line = raw.line;
    try {
      this.addInner(raw);
    } catch (e) {
      if (e instanceof Fail) {
        throw this.err(e.col, e.message);
      }
      throw e;
    }
  }

  /** At the end of the text: unclosed repeats. Throws TraceError. */
  finish(): void {
    const open = this.repeats[0];
    if (open) {
      this.line = open.line;
      throw this.err(open.col, `'repeat' is never closed by 'end'`);
    }
  }

  /** For diagnostics after an error inside a repeat: drop the open repeats so later checks go on. */
  finishLenient(): TraceError[] {
    const out: TraceError[] = [];
    for (const r of this.repeats) {
      out.push(new TraceError(this.file, r.line, r.col, `'repeat' is never closed by 'end'`));
    }
    return out;
  }

  private selectForm(raw: RawStmt): { spec: StatementSpec; words: RawWord[]; selectorWord?: RawWord } {
    const forms = formsOf(raw.keyword);
    if (forms.length === 0) {
      const lower = raw.keyword.toLowerCase();
      const hint = KEYWORDS.includes(lower) ? ` (keywords are lower case: '${lower}')` : suggest(raw.keyword, KEYWORDS);
      fail(raw.col, `unknown keyword ${quote(raw.keyword)}${hint}`);
    }
    if (forms.length === 1 && !forms[0]?.selector) {
      return { spec: forms[0] as StatementSpec, words: raw.words };
    }
    const w0 = raw.words[0];
    if (w0 && (!w0.quoted || w0.json)) {
      const byWord = forms.find((f) => f.selector && 'word' in f.selector && f.selector.word === w0.text);
      if (byWord) {
        return { spec: byWord, words: raw.words.slice(1), selectorWord: w0 };
      }
    }
    for (const f of forms) {
      if (f.selector && 'key' in f.selector) {
        const k = f.selector.key;
        if (raw.pairs.some((p) => p.key === k)) {
          return { spec: f, words: raw.words };
        }
      }
    }
    const choices = forms.map((f) => (f.selector && 'word' in f.selector ? f.selector.word : f.selector ? `${f.selector.key}=` : '')).join(', ');
    fail(w0?.col ?? raw.missingCol ?? raw.col, `'${raw.keyword}' needs one of: ${choices}${w0 ? ` (got ${quote(w0.text)})` : ''}`);
  }

  private addInner(raw: RawStmt): void {
    if (PLAIN_WRITE !== null && parserShortcuts.enabled && raw.keyword === 'write' && raw.words.length === 0 && raw.pairs.length === 2 && raw.pairs[0]?.key === 'vcpu' && raw.pairs[1]?.key === 'va'
      && raw.pairs[0].emptyList !== true && raw.pairs[1].emptyList !== true) {
      this.addPlainWrite(PLAIN_WRITE, raw, raw.pairs[0], raw.pairs[1]);
      return;
    }
    const { spec, words, selectorWord } = this.selectForm(raw);
    const pos: SrcPos = { line: raw.line, col: raw.col, args: {} };
    const args = pos.args as Record<string, number>;
    raw.words.forEach((w, i) => {
      args[`#${i + 1}`] = w.col;
    });
    if (spec.declaration && this.repeats.length > 0) {
      fail(raw.col, `'${spec.id}' declares a name and cannot be inside a 'repeat' body (it would be declared again on every iteration)`);
    }

    // positional words: flags anywhere, others in order
    const flags = new Set<string>();
    const positional: RawWord[] = [];
    const info = formInfo(spec);
    const flagSpecs = info.flags;
    const ordered = info.ordered;
    for (const w of words) {
      const flag = flagSpecs.find((f) => f.name === w.text);
      if (flag && (!w.quoted || w.json)) {
        if (flags.has(w.text)) {
          fail(w.col, `duplicate flag ${quote(w.text)}`);
        }
        flags.add(w.text);
        args[w.text] = w.col;
        continue;
      }
      const p = ordered[positional.length];
      if (!p) {
        if (flagSpecs.length > 0) {
          fail(w.col, `unknown word ${quote(w.text)} for '${spec.id}' (flags: ${flagSpecs.map((f) => f.name).join(', ')})`);
        }
        if (/=/.test(w.text) && w.quoted) {
          fail(w.col, `unexpected quoted string ${quote(w.text)}`);
        }
        fail(w.col, `unexpected word ${quote(w.text)}: '${spec.id}' takes ${ordered.length === 0 ? 'no bare words' : `only ${ordered.map((o) => o.name.toUpperCase()).join(' ')}`} (syntax: ${spec.syntax})`);
      }
      if (p.kind === 'string' && !w.quoted) {
        fail(w.col, `'${spec.id}' needs a quoted string, e.g. ${spec.keyword} "text"`);
      }
      if (p.kind !== 'string' && w.quoted && !w.json) {
        fail(w.col, `unexpected quoted string: ${p.name.toUpperCase()} is written without quotes`);
      }
      args[p.name] = w.col;
      positional.push(w);
    }
    const missingPos = ordered[positional.length];
    if (missingPos && missingPos.required) {
      fail((selectorWord ?? raw.words[raw.words.length - 1])?.col ?? raw.missingCol ?? raw.col, `missing ${missingPos.name.toUpperCase()} for '${spec.id}' (syntax: ${spec.syntax})`);
    }

    // keys
    const pairs = new Map<string, RawPair>();
    for (const p of raw.pairs) {
      const ks = info.keys.get(p.key);
      if (!ks) {
        const names = info.keyNames;
        const lower = p.key.toLowerCase();
        const hint = names.includes(lower) ? ` (keys are lower case: '${lower}')` : suggest(p.key, names);
        fail(p.keyCol, `unknown key ${quote(p.key)} for '${spec.id}'${hint}${hint ? '' : names.length ? ` (keys: ${names.join(', ')})` : ' (it takes no keys)'}`);
      }
      if (pairs.has(p.key)) {
        fail(p.keyCol, `duplicate key '${p.key}'`);
      }
      if (p.emptyList && !(ks.kind === 'list' && ks.special?.includes('none'))) {
        fail(p.valueCol, `empty list for "${p.key}" (an empty array means 'none' only for a list that may be none)`);
      }
      pairs.set(p.key, p);
      args[p.key] = p.keyCol;
    }
    for (const k of spec.keys) {
      if (k.required && !pairs.has(k.name)) {
        fail(raw.missingCol ?? raw.col, `missing required key '${k.name}=' for '${spec.id}' (syntax: ${spec.syntax})`);
      }
    }
    // enum values, in text order
    for (const p of raw.pairs) {
      const ks = info.keys.get(p.key) as KeySpec;
      if (ks.kind === 'enum' && ks.values && !ks.values.includes(p.value)) {
        fail(p.valueCol, `bad value ${quote(p.value)} for ${p.key}= (expected ${ks.values.join(', ')})${suggest(p.value, ks.values)}`);
      }
    }

    const full = this.build(spec, positional, flags, pairs, raw) as Statement;
    pos.args = this.sharedArgs(args);
    full.pos = pos;
    this.account(spec, full, raw);
  }

  /**
   * `write vcpu=V va=A` and nothing else (most lines of a big trace): what `addInner` does for it,
   * without its general checks, which cannot fail here (one form, two distinct keys it knows, no
   * words, no enum; see PLAIN_WRITE). The statement itself is built and accounted the same way.
   */
  private addPlainWrite(spec: StatementSpec, raw: RawStmt, vcpu: RawPair, va: RawPair): void {
    const pairs = new Map<string, RawPair>([[vcpu.key, vcpu], [va.key, va]]);
    const full = this.build(spec, [], NO_FLAGS, pairs, raw) as Statement;
    // The columns table sharedArgs gives this layout, found by the one column that varies.
    let args = vcpu.keyCol === 7 ? this.plainWriteArgs.get(va.keyCol) : undefined;
    if (args === undefined) {
      args = this.sharedArgs({ vcpu: vcpu.keyCol, va: va.keyCol });
      if (vcpu.keyCol === 7) {
        this.plainWriteArgs.set(va.keyCol, args);
      }
    }
    full.pos = { line: raw.line, col: raw.col, args };
    this.account(spec, full, raw);
  }
  private readonly plainWriteArgs = new Map<number, Record<string, number>>();

  private account(spec: StatementSpec, st: Statement, raw: RawStmt): void {
    const index = this.statements.length;
    if (index >= this.maxStatements) {
      fail(raw.col, `the trace has more than ${this.maxStatements} statements (the parser's bound; write long workloads with repeat)`);
    }
    if (st.op === 'repeat') {
      const outer = this.multipliers[this.multipliers.length - 1] ?? 1;
      this.repeats.push({ index, line: raw.line, col: raw.col, count: st.count, stepsAtOpen: this.steps });
      this.multipliers.push(outer * st.count);
      this.statements.push(st);
      return;
    }
    if (st.op === 'end') {
      const open = this.repeats.pop();
      if (!open) {
        fail(raw.col, `'end' without a matching 'repeat'`);
      }
      const mult = this.multipliers.pop() ?? 1;
      st.start = open.index;
      const rep = this.statements.at(open.index);
      if (rep && rep.op === 'repeat') {
        rep.end = index;
      }
      this.statements.push(st);
      // the state stays consistent before any limit error, so diagnostics can go on.
      // A body with a step costs no more iterations than the steps it runs (bounded by the step
      // limit); only loops that run no step at all are counted here, so that they cannot spin.
      if (this.steps === open.stepsAtOpen) {
        this.loopWork += mult;
      }
      if (this.loopWork > LIMITS.steps && !this.limitReported) {
        this.limitReported = true;
        this.blameRepeat(this.repeats[0] ?? open, `the repeat loops would run more than 10^8 iterations in total (the limit)`);
      }
      return;
    }
    this.statements.push(st);
    if (spec.step) {
      this.steps += this.multipliers[this.multipliers.length - 1] ?? 1;
      if (this.steps > LIMITS.steps && !this.limitReported) {
        this.limitReported = true;
        const blame = this.repeats[0];
        if (blame) {
          this.blameRepeat(blame, `this repeat would make the trace execute more than 10^8 steps (the limit)`);
        }
        fail(raw.col, `the trace would execute more than 10^8 steps (the limit)`);
      }
    }
  }

  private blameRepeat(r: OpenRepeat, message: string): never {
    this.line = r.line;
    throw new Fail(r.col, message);
  }

  // ---------------------------------------------------------------- names

  private declare(kind: NameKind, w: RawWord): string {
    if (!NAME_RE.test(w.text)) {
      fail(w.col, `bad ${kindLabel(kind)} name ${quote(w.text)} (names are [A-Za-z_][A-Za-z0-9_-]*)`);
    }
    const table = this.table(kind);
    const prev = table.get(w.text);
    if (prev) {
      fail(w.col, `${kindLabel(kind)} '${w.text}' is already declared (line ${prev.line})`);
    }
    if (kind === 'process' && w.text === 'kernel') {
      fail(w.col, `'kernel' is every domain's first process and is declared implicitly`);
    }
    if (kind === 'ioreq-server' && w.text === 'none') {
      fail(w.col, `'none' cannot name an ioreq server (expect ioreq server=none means no server)`);
    }
    return w.text;
  }

  private table(kind: NameKind): Map<string, { line: number }> {
    switch (kind) {
      case 'domain': return this.domains;
      case 'framebuffer': return this.fbLines;
      case 'process': return this.processes;
      case 'ioreq-server': return this.servers;
    }
  }

  private readonly fbLines = new Map<string, { line: number }>();

  private ref(kind: NameKind, text: string, col: number): string {
    if (!NAME_RE.test(text)) {
      fail(col, `bad ${kindLabel(kind)} name ${quote(text)}`);
    }
    if (!this.table(kind).has(text)) {
      const known = [...this.table(kind).keys()];
      fail(col, `undeclared ${kindLabel(kind)} '${text}'${suggest(text, known)}${known.length === 0 ? ` (no ${kindLabel(kind)} is declared before this line)` : ''}`);
    }
    return text;
  }

  private dom(p: RawPair): DomInfo {
    const name = this.ref('domain', p.value, p.valueCol);
    return this.domains.get(name) as DomInfo;
  }

  private fb(p: RawPair): FbInfo {
    const name = this.ref('framebuffer', p.value, p.valueCol);
    return this.fbs.get(name) as FbInfo;
  }

  /**
   * One shared, frozen VcpuRef per vCPU, and one shared argument-column table per statement layout:
   * a million-line trace then holds a million statements, not four million objects (a full
   * collection while the trace runs marks every one of them).
   */
  private readonly vcpuRefs = new Map<string, VcpuRef>();
  private readonly argTables = new Map<string, Record<string, number>>();
  private vcpuRef(v: VcpuRef): VcpuRef {
    const key = `${v.dom}.${v.idx}`;
    let r = this.vcpuRefs.get(key);
    if (r === undefined) {
      r = Object.freeze({ dom: v.dom, idx: v.idx });
      this.vcpuRefs.set(key, r);
    }
    return r;
  }
  private sharedArgs(args: Record<string, number>): Record<string, number> {
    let key = '';
    for (const k in args) {
      key += `${k}\u0000${args[k]}\u0000`;
    }
    let r = this.argTables.get(key);
    if (r === undefined) {
      r = Object.freeze(args);
      if (this.argTables.size < MAX_ARG_TABLES) {
        this.argTables.set(key, r);
      }
    }
    return r;
  }

  /**
   * DOMAIN.N references resolved so far, by their text: one that resolved once always resolves the
   * same (domains are never undeclared, nor their vCPU counts changed), and only a failure depends
   * on the column. (Not a bare N: a second domain makes it ambiguous.)
   */
  private readonly vcpusByText = new Map<string, VcpuRef & { info: DomInfo }>();
  private vcpu(p: RawPair): VcpuRef & { info: DomInfo } {
    let v = this.vcpusByText.get(p.value);
    if (v === undefined) {
      v = this.resolveVcpu(p);
      if (p.value.includes('.')) {
        this.vcpusByText.set(p.value, v);
      }
    }
    return v;
  }
  private resolveVcpu(p: RawPair): VcpuRef & { info: DomInfo } {
    const text = p.value;
    const dot = text.lastIndexOf('.');
    let info: DomInfo;
    let idxText: string;
    let idxCol: number;
    if (dot < 0) {
      if (this.domains.size !== 1) {
        fail(p.valueCol, this.domains.size === 0
          ? `vCPU ${quote(text)} refers to no domain: declare a domain first`
          : `bare vCPU number ${quote(text)} is ambiguous with ${this.domains.size} domains declared: write DOMAIN.N`);
      }
      info = this.domains.values().next().value as DomInfo;
      idxText = text;
      idxCol = p.valueCol;
    } else {
      const domName = text.slice(0, dot);
      info = this.domains.get(this.ref('domain', domName, p.valueCol)) as DomInfo;
      idxText = text.slice(dot + 1);
      idxCol = itemCol(p, dot + 1);
    }
    const idx = num(idxText, idxCol, 'vCPU index', 0, LIMITS.vcpusPerDomain - 1);
    if (info.vcpus !== undefined && idx >= info.vcpus) {
      fail(idxCol, `domain '${info.name}' has ${info.vcpus} vCPU${info.vcpus === 1 ? '' : 's'} (0..${info.vcpus - 1}); there is no vCPU ${idx}`);
    }
    return { dom: info.name, idx, info };
  }

  /** A gfn range [gfn, gfn+pages) must be inside the domain's RAM or one of its framebuffers. */
  private checkGfns(info: DomInfo, gfn: number, pages: number, col: number, what: string): void {
    if (info.memPages === undefined) {
      return;
    }
    const end = gfn + pages;
    if (end <= info.memPages) {
      return;
    }
    for (const name of info.fbs) {
      const f = this.fbs.get(name);
      if (f && f.gfn !== undefined && f.pages !== undefined && gfn >= f.gfn && end <= f.gfn + f.pages) {
        return;
      }
    }
    if (what === 'map' && info.mmio?.some(([s, e]) => gfn >= s && end <= e)) {
      return;
    }
    fail(col, `${what} gfns 0x${gfn.toString(16)}..0x${end.toString(16)} lie outside domain '${info.name}' (RAM is gfns 0..0x${info.memPages.toString(16)}${info.fbs.length ? ', plus its framebuffers' : ''}${what === 'map' ? ', plus what p2m declares mmio_dm' : ''})`);
  }

  // ---------------------------------------------------------------- lists

  private pageList(p: RawPair, limit: number, what: string): number[] {
    const spans: [number, number][] = [];
    let off = 0;
    let total = 0;
    for (const item of p.value.split(',')) {
      const col = itemCol(p, off);
      off += item.length + 1;
      if (item === '') {
        fail(col, `empty item in list ${quote(p.value)} (lists are a,b,c without spaces)`);
      }
      const dots = item.indexOf('..');
      let s: number;
      let e: number;
      if (dots >= 0) {
        s = num(item.slice(0, dots), col, `${what} range start`, 0, Number.MAX_SAFE_INTEGER);
        e = num(item.slice(dots + 2), itemCol(p, off - item.length - 1 + dots + 2), `${what} range end`, 0, Number.MAX_SAFE_INTEGER);
        if (e <= s) {
          fail(col, `empty range ${quote(item)}: ranges are START..END with END exclusive and greater than START`);
        }
        if (e > limit) {
          fail(col, `${what} ${e - 1} is out of range (at most ${limit - 1})`);
        }
      } else {
        s = num(item, col, what, 0, Number.MAX_SAFE_INTEGER);
        if (s >= limit) {
          fail(col, `${what} ${s} is out of range (at most ${limit - 1})`);
        }
        e = s + 1;
      }
      total += e - s;
      if (total > LIMITS.listEntries) {
        fail(col, `list is too long (more than ${LIMITS.listEntries} entries)`);
      }
      if (this.listTotal + total > this.maxListTotal) {
        fail(p.valueCol, `the lists of this trace expand to more than ${this.maxListTotal} numbers in total (the parser's bound)`);
      }
      spans.push([s, e]);
    }
    // merge the spans (sorted, overlaps and duplicates removed), then expand
    spans.sort((a, b) => a[0] - b[0]);
    const out: number[] = [];
    let next = -1;
    for (const [s, e] of spans) {
      for (let v = Math.max(s, next); v < e; v++) {
        out.push(v);
      }
      next = Math.max(next, e);
    }
    this.listTotal += out.length;
    return out;
  }

  private enumList<T extends string>(p: RawPair, values: readonly T[], what: string): T[] {
    const out: T[] = [];
    let off = 0;
    for (const item of p.value.split(',')) {
      const col = itemCol(p, off);
      off += item.length + 1;
      if (!(values as readonly string[]).includes(item)) {
        fail(col, `unknown ${what} ${quote(item)} (expected ${values.join(', ')})${suggest(item, values)}`);
      }
      if (out.includes(item as T)) {
        fail(col, `${what} ${quote(item)} is listed twice`);
      }
      out.push(item as T);
    }
    return out;
  }

  // ---------------------------------------------------------------- statements

  private build(spec: StatementSpec, words: RawWord[], flags: ReadonlySet<string>, k: Map<string, RawPair>, raw: RawStmt): Stmt {
    const get = (key: string): RawPair | undefined => k.get(key);
    const need = (key: string): RawPair => k.get(key) as RawPair;
    const n = (key: string, min: number, max: number, what = key): number | undefined => {
      const p = get(key);
      return p ? num(p.value, p.valueCol, what, min, max) : undefined;
    };
    const word0 = words[0] as RawWord;

    switch (spec.id) {
      case 'domain': {
        const name = this.declare('domain', word0);
        if (this.domains.size >= LIMITS.domains) {
          fail(raw.col, `too many domains: at most ${LIMITS.domains}`);
        }
        const info: DomInfo = { name, line: raw.line, fbs: [] };
        this.domains.set(name, info);
        const paging = need('paging').value as Paging;
        info.paging = paging;
        const memP = need('mem');
        const mem = size(memP.value, memP.valueCol, 'mem');
        if (mem > LIMITS.memPerDomain) {
          fail(memP.valueCol, `mem ${memP.value} exceeds the limit of 1 TiB per domain`);
        }
        if (mem === 0 || mem % PAGE !== 0) {
          fail(memP.valueCol, `mem ${memP.value} must be a positive multiple of 4 KiB`);
        }
        info.memPages = mem / PAGE;
        const vp = need('vcpus');
        const vcpus = num(vp.value, vp.valueCol, 'vcpus', 1, Number.MAX_SAFE_INTEGER);
        if (vcpus > LIMITS.vcpusPerDomain) {
          fail(vp.valueCol, `vcpus ${vp.value} exceeds the limit of ${LIMITS.vcpusPerDomain} per domain`);
        }
        info.vcpus = vcpus;
        const tp = get('tracker');
        const tracker = tp?.value as TrackerId | undefined;
        if (tp && tracker) {
          const need2 = TRACKER_DOCS[tracker].paging;
          if (need2 !== 'any' && need2 !== paging) {
            fail(tp.valueCol, `tracker ${tracker} needs paging=${need2}, but domain '${name}' uses paging=${paging}`);
          }
        }
        // PML logs EPT dirty bits: under shadow paging the hardware may have it, but nothing uses it.
        const pml = paging === 'hap' && (get('pml')?.value ?? 'off') === 'on';
        const seed = n('seed', 0, 2 ** 32 - 1) ?? 1;
        return {
          op: 'domain', name, paging, mem, vcpus, ...(tracker ? { tracker } : {}),
          tlb: (get('tlb')?.value ?? 'tagged') as 'tagged' | 'flush-on-exit', pml,
          mfns: (get('mfns')?.value ?? 'contiguous') as 'contiguous' | 'scatter', seed,
        };
      }
      case 'vram': {
        const name = this.declare('framebuffer', word0);
        if (this.fbs.size >= LIMITS.framebuffers) {
          fail(raw.col, `too many framebuffers: at most ${LIMITS.framebuffers}`);
        }
        const f: FbInfo = { name, dom: need('dom').value, resized: false };
        this.fbs.set(name, f);
        this.fbLines.set(name, { line: raw.line });
        const info = this.dom(need('dom'));
        info.fbs.push(name);
        const gp = need('gfn');
        const gfn = num(gp.value, gp.valueCol, 'gfn', 0, LIMITS.gfnLimit - 1);
        const pp = need('pages');
        const pages = num(pp.value, pp.valueCol, 'pages', 1, Number.MAX_SAFE_INTEGER);
        if (pages > LIMITS.vramPages) {
          fail(pp.valueCol, `pages ${pp.value} is more than Xen's track_dirty_vram accepts (at most 262144)`);
        }
        if (gfn + pages > LIMITS.gfnLimit) {
          fail(gp.valueCol, `framebuffer gfns end beyond 2^40`);
        }
        if (info.memPages !== undefined && gfn < info.memPages && gfn + pages > info.memPages) {
          fail(gp.valueCol, `framebuffer gfns 0x${gfn.toString(16)}..0x${(gfn + pages).toString(16)} straddle the end of domain '${info.name}''s RAM (0x${info.memPages.toString(16)}): put it inside RAM or wholly outside`);
        }
        f.gfn = gfn;
        f.pages = pages;
        const bpp = n('bpp', 1, 64) ?? 32;
        if (bpp !== 32) {
          fail((get('bpp') as RawPair).valueCol, `only bpp=32 is supported in version 1`);
        }
        const width = n('width', 1, 1 << 16);
        const height = n('height', 1, 1 << 16);
        const w = width ?? 1024;
        const h = height ?? Math.floor((pages * PAGE) / (w * 4));
        if (h < 1) {
          fail((get('width') ?? pp).valueCol, `a ${w}-pixel line does not fit in ${pages} page${pages === 1 ? '' : 's'}`);
        }
        if (w * 4 * h > pages * PAGE) {
          fail((get('height') ?? pp).valueCol, `geometry ${w}x${h} at 32 bpp needs ${Math.ceil((w * 4 * h) / PAGE)} pages, more than pages=${pages}`);
        }
        f.width = w;
        f.height = h;
        return { op: 'vram', name, dom: info.name, gfn, pages, ...(width !== undefined ? { width } : {}), ...(height !== undefined ? { height } : {}), bpp };
      }
      case 'p2m': {
        const info = this.dom(need('dom'));
        const gp = need('gfn');
        const gfn = num(gp.value, gp.valueCol, 'gfn', 0, LIMITS.gfnLimit - 1);
        const pp = need('pages');
        const pages = num(pp.value, pp.valueCol, 'pages', 1, LIMITS.gfnLimit);
        const type = need('type').value as P2mTypeName;
        if (type !== 'mmio_dm') {
          // RAM types need RAM behind them; emulated MMIO lives anywhere (device BARs sit above RAM),
          // and a guest may then map it.
          this.checkGfns(info, gfn, pages, gp.valueCol, 'p2m');
        } else if (info.mmio === undefined || info.mmio.length < LIMITS.framebuffers * 4) {
          (info.mmio ??= []).push([gfn, gfn + pages]);
        }
        return { op: 'p2m', dom: info.name, gfn, pages, type };
      }
      case 'process': {
        const name = this.declare('process', word0);
        // The limit counts the processes a trace declares: each domain's implicit 'kernel' is not one.
        if (this.processes.size >= LIMITS.processes) {
          fail(raw.col, `too many processes: at most ${LIMITS.processes} 'process' statements (each domain's kernel is not counted)`);
        }
        this.processes.set(name, { dom: need('dom').value, line: raw.line });
        const info = this.dom(need('dom'));
        return { op: 'process', name, dom: info.name };
      }
      case 'inject': {
        const bug = word0.text;
        const values = spec.positional[0]?.values ?? [];
        if (!values.includes(bug)) {
          fail(word0.col, `unknown bug ${quote(bug)} (expected ${values.join(', ')})${suggest(bug, values)}`);
        }
        return { op: 'inject', bug: bug as BugId | 'none' };
      }
      case 'costs': {
        if (k.size === 0) {
          fail(raw.missingCol ?? raw.col, `'costs' needs at least one COUNTER=N (counters: ${COUNTERS.join(', ')})`);
        }
        const values: Partial<Record<CounterName, number>> = {};
        for (const [key, p] of k) {
          values[key as CounterName] = num(p.value, p.valueCol, `cost of ${key}`, 0, Number.MAX_SAFE_INTEGER);
        }
        return { op: 'costs', values };
      }
      case 'map': {
        const v = this.vcpu(need('vcpu'));
        const vaP = need('va');
        const addr = va(vaP.value, vaP.valueCol);
        if (addr % PAGE !== 0) {
          fail(vaP.valueCol, `map needs a page-aligned va (got ${vaP.value})`);
        }
        const fbP = get('fb');
        const gp = get('gfn');
        const pp = get('pages');
        if (fbP && (gp || pp)) {
          fail((gp ?? pp as RawPair).keyCol, `map takes either fb=NAME or gfn= and pages=, not both`);
        }
        if (!fbP && !(gp && pp)) {
          fail(raw.missingCol ?? raw.col, `map needs gfn= and pages=, or fb=NAME`);
        }
        let pages: number;
        let out: Stmt;
        const common = { vcpu: this.vcpuRef(v), va: addr, ro: flags.has('ro'), user: flags.has('user'), global: flags.has('global') };
        if (fbP) {
          const f = this.fb(fbP);
          if (f.dom !== v.dom) {
            fail(fbP.valueCol, `framebuffer '${f.name}' belongs to domain '${f.dom}', not to vCPU ${v.dom}.${v.idx}'s domain`);
          }
          pages = f.pages ?? 1;
          out = { op: 'map', ...common, fb: f.name };
        } else {
          const g = gp as RawPair;
          const gfn = num(g.value, g.valueCol, 'gfn', 0, LIMITS.gfnLimit - 1);
          const pq = pp as RawPair;
          pages = num(pq.value, pq.valueCol, 'pages', 1, LIMITS.gfnLimit);
          this.checkGfns(v.info, gfn, pages, g.valueCol, 'map');
          out = { op: 'map', ...common, gfn, pages };
        }
        this.checkVaSpan(addr, pages * PAGE, vaP.valueCol);
        return out;
      }
      case 'unmap': {
        const v = this.vcpu(need('vcpu'));
        const vaP = need('va');
        const addr = va(vaP.value, vaP.valueCol);
        if (addr % PAGE !== 0) {
          fail(vaP.valueCol, `unmap needs a page-aligned va (got ${vaP.value})`);
        }
        const pp = need('pages');
        const pages = num(pp.value, pp.valueCol, 'pages', 1, LIMITS.gfnLimit);
        this.checkVaSpan(addr, pages * PAGE, vaP.valueCol);
        return { op: 'unmap', vcpu: this.vcpuRef(v), va: addr, pages };
      }
      case 'pte': {
        const v = this.vcpu(need('vcpu'));
        const vaP = need('va');
        const addr = va(vaP.value, vaP.valueCol);
        const sp = get('set');
        const cp = get('clear');
        if (!sp && !cp) {
          fail(raw.missingCol ?? raw.col, `pte needs set=FLAGS and/or clear=FLAGS (flags: P,RW,US,A,D,G,NX)`);
        }
        const set = sp ? this.enumList<PteFlagName>(sp, ['P', 'RW', 'US', 'A', 'D', 'G', 'NX'], 'PTE flag') : [];
        const clear = cp ? this.enumList<PteFlagName>(cp, ['P', 'RW', 'US', 'A', 'D', 'G', 'NX'], 'PTE flag') : [];
        const both = set.find((f) => clear.includes(f));
        if (both && cp) {
          fail(cp.valueCol, `flag ${both} is both set and cleared`);
        }
        return { op: 'pte', vcpu: this.vcpuRef(v), va: addr, set, clear };
      }
      case 'write':
      case 'read': {
        const v = this.vcpu(need('vcpu'));
        const vaP = need('va');
        const addr = va(vaP.value, vaP.valueCol);
        const len = n('len', 1, LIMITS.writeLen, `${spec.id} len`) ?? 4;
        this.checkVaSpan(addr, len, vaP.valueCol);
        const vcpu = this.vcpuRef(v);
        if (spec.id === 'read') {
          return { op: 'read', vcpu, va: addr, len };
        }
        const byte = n('byte', 0, 255);
        return { op: 'write', vcpu, va: addr, len, ...(byte !== undefined ? { byte } : {}) };
      }
      case 'draw':
      case 'blit': {
        const v = this.vcpu(need('vcpu'));
        const fbP = need('fb');
        const f = this.fb(fbP);
        if (f.dom !== v.dom) {
          fail(fbP.valueCol, `framebuffer '${f.name}' belongs to domain '${f.dom}', not to vCPU ${v.dom}.${v.idx}'s domain`);
        }
        const vcpu = this.vcpuRef(v);
        const rp = need(spec.id === 'draw' ? 'rect' : 'from');
        const r = numbersCsv(rp, 4, 'X,Y,W,H');
        const rect: [number, number, number, number] = [r[0] ?? 0, r[1] ?? 0, r[2] ?? 0, r[3] ?? 0];
        if (rect[2] < 1 || rect[3] < 1) {
          fail(rp.valueCol, `${rp.key} width and height must be at least 1`);
        }
        this.checkRect(f, rect, rp);
        if (spec.id === 'draw') {
          const cp = get('color');
          const c = cp ? color(cp.value, cp.valueCol) : 0xffffff;
          return { op: 'draw', vcpu, fb: f.name, rect, color: c };
        }
        const tp = need('to');
        const t = numbersCsv(tp, 2, 'X,Y');
        const to: [number, number] = [t[0] ?? 0, t[1] ?? 0];
        this.checkRect(f, [to[0], to[1], rect[2], rect[3]], tp);
        return { op: 'blit', vcpu, fb: f.name, from: rect, to };
      }
      case 'invlpg': {
        const v = this.vcpu(need('vcpu'));
        const vaP = need('va');
        return { op: 'invlpg', vcpu: this.vcpuRef(v), va: va(vaP.value, vaP.valueCol) };
      }
      case 'cr3': {
        const v = this.vcpu(need('vcpu'));
        const pp = need('process');
        if (pp.value !== 'kernel') {
          const name = this.ref('process', pp.value, pp.valueCol);
          const d = this.processes.get(name) as Decl;
          if (d.dom !== v.dom) {
            fail(pp.valueCol, `process '${name}' belongs to domain '${d.dom}', not to vCPU ${v.dom}.${v.idx}'s domain`);
          }
        }
        return { op: 'cr3', vcpu: this.vcpuRef(v), process: pp.value };
      }
      case 'exit': {
        const pp = need('process');
        if (pp.value === 'kernel') {
          fail(pp.valueCol, `the kernel process cannot exit`);
        }
        return { op: 'exit', process: this.ref('process', pp.value, pp.valueCol) };
      }
      case 'vmexit': {
        const v = this.vcpu(need('vcpu'));
        const rp = get('reason');
        if (rp && !WORD_RE.test(rp.value)) {
          fail(rp.valueCol, `bad reason ${quote(rp.value)} (one word: letters, digits, _ . : -)`);
        }
        return { op: 'vmexit', vcpu: this.vcpuRef(v), ...(rp ? { reason: rp.value } : {}) };
      }
      case 'dma': {
        const info = this.dom(need('dom'));
        const gp = need('gfn');
        const gfn = num(gp.value, gp.valueCol, 'gfn', 0, LIMITS.gfnLimit - 1);
        const len = n('len', 1, LIMITS.dmaLen, 'dma len') ?? PAGE;
        this.checkGfns(info, gfn, Math.ceil(len / PAGE), gp.valueCol, 'dma');
        const byte = n('byte', 0, 255);
        return { op: 'dma', dom: info.name, gfn, len, ...(byte !== undefined ? { byte } : {}) };
      }
      case 'peek':
      case 'untrack':
        return { op: spec.id, fb: this.fb(need('fb')).name };
      case 'refresh': {
        const f = this.fb(need('fb'));
        const ph = get('phase')?.value as 'draw' | 'finish' | undefined;
        return { op: 'refresh', fb: f.name, ...(ph ? { phase: ph } : {}) };
      }
      case 'resize': {
        const f = this.fb(need('fb'));
        const pp = need('pages');
        const pages = num(pp.value, pp.valueCol, 'pages', 1, Number.MAX_SAFE_INTEGER);
        if (pages > LIMITS.vramPages) {
          fail(pp.valueCol, `pages ${pp.value} is more than Xen's track_dirty_vram accepts (at most 262144)`);
        }
        f.resized = true;
        return { op: 'resize', fb: f.name, pages };
      }
      case 'reclaim': {
        const info = this.dom(need('dom'));
        const vaP = get('va');
        return { op: 'reclaim', dom: info.name, ...(vaP ? { va: va(vaP.value, vaP.valueCol) } : {}) };
      }
      case 'logdirty': {
        const info = this.dom(need('dom'));
        const values = spec.positional[0]?.values ?? [];
        if (!values.includes(word0.text)) {
          fail(word0.col, `bad logdirty action ${quote(word0.text)} (expected ${values.join(', ')})`);
        }
        return { op: 'logdirty', dom: info.name, action: word0.text as 'enable' | 'disable' | 'peek' | 'clean' };
      }
      case 'flush':
        return { op: 'flush', dom: this.dom(need('dom')).name };
      case 'tick':
        return { op: 'tick', ns: duration(word0.text, word0.col) };
      case 'ioreq server': {
        const name = this.declare('ioreq-server', word0);
        this.servers.set(name, { dom: need('dom').value, line: raw.line });
        const info = this.dom(need('dom'));
        // limit=0 is allowed, as Xen's rangeset_limit allows it: every map then fails with ENOMEM.
        const limit = n('limit', 0, 1 << 20) ?? 256;
        return { op: 'ioreq-server', name, dom: info.name, limit };
      }
      case 'ioreq map':
      case 'ioreq unmap': {
        const server = this.ref('ioreq-server', word0.text, word0.col);
        const kind = need('kind').value as IoreqKind;
        const rp = need('range');
        const dots = rp.value.indexOf('..');
        if (dots < 0) {
          fail(rp.valueCol, `bad range ${quote(rp.value)} (expected START..END, end exclusive)`);
        }
        const start = ioAddr(rp.value.slice(0, dots), rp.valueCol, kind, 'range start');
        const end = ioAddr(rp.value.slice(dots + 2), itemCol(rp, dots + 2), kind, 'range end');
        if (end <= start) {
          fail(rp.valueCol, `empty range ${quote(rp.value)}: END is exclusive and must be greater than START`);
        }
        return { op: spec.id === 'ioreq map' ? 'ioreq-map' : 'ioreq-unmap', server, kind, start, end };
      }
      case 'ioreq access': {
        const info = this.dom(need('dom'));
        const kind = need('kind').value as IoreqKind;
        const ap = need('addr');
        const addr = ioAddr(ap.value, ap.valueCol, kind, 'addr');
        const sz = n('size', 1, kind === 'pci' ? 4 : PAGE) ?? 1;
        if (kind === 'port' && addr + sz > 0x10000) {
          fail(ap.valueCol, `port access ${ap.value}+${sz} goes beyond port 0xffff`);
        }
        return { op: 'ioreq-access', dom: info.name, kind, addr, size: sz };
      }
      case 'rangeset':
        return { op: 'rangeset', impl: need('impl').value as 'list' | 'tree' };
      case 'repeat': {
        // `repeat 0` is allowed: the body is checked but runs zero times.
        const count = num(word0.text, word0.col, 'repeat count', 0, LIMITS.steps);
        return { op: 'repeat', count, end: -1 };
      }
      case 'end':
        return { op: 'end', start: -1 };
      case 'note':
        return { op: 'note', text: word0.text };
      case 'expect fb': {
        const f = this.fb(need('fb'));
        const dp = need('dirty');
        if (dp.value === 'all' || dp.value === 'none' || dp.value === 'enodata') {
          return { op: 'expect-fb', fb: f.name, dirty: dp.value };
        }
        const limit = f.resized ? LIMITS.vramPages : f.pages ?? LIMITS.vramPages;
        return { op: 'expect-fb', fb: f.name, dirty: this.pageList(dp, limit, 'page') };
      }
      case 'expect violation': {
        const p = need('violation');
        if (p.value === 'none') {
          return { op: 'expect-violation', ids: 'none' };
        }
        const ids = this.enumList<InvariantId>(p, spec.keys[0]?.values as readonly InvariantId[], 'invariant');
        return { op: 'expect-violation', ids };
      }
      case 'expect violations':
        return { op: 'expect-violation', ids: 'none' };
      case 'expect screen': {
        const f = this.fb(need('fb'));
        const sp = need('stale');
        if (sp.value === 'none') {
          return { op: 'expect-screen', fb: f.name, stale: 'none' };
        }
        const limit = f.resized ? LIMITS.vramPages : f.pages ?? LIMITS.vramPages;
        return { op: 'expect-screen', fb: f.name, stale: this.pageList(sp, limit, 'page') };
      }
      case 'expect logdirty': {
        const info = this.dom(need('dom'));
        const dp = need('dirty');
        if (dp.value === 'none') {
          return { op: 'expect-logdirty', dom: info.name, dirty: 'none' };
        }
        return { op: 'expect-logdirty', dom: info.name, dirty: this.pageList(dp, LIMITS.gfnLimit, 'gfn') };
      }
      case 'expect ioreq': {
        const sp = need('server');
        if (sp.value === 'none') {
          return { op: 'expect-ioreq', server: null };
        }
        return { op: 'expect-ioreq', server: this.ref('ioreq-server', sp.value, sp.valueCol) };
      }
      case 'expect cost': {
        const counter = need('cost').value as CounterName | 'guestCycles' | 'dom0Cycles' | 'cycles';
        const min = n('min', 0, Number.MAX_SAFE_INTEGER);
        const max = n('max', 0, Number.MAX_SAFE_INTEGER);
        if (min === undefined && max === undefined) {
          fail(raw.missingCol ?? raw.col, `expect cost= needs min= and/or max=`);
        }
        if (min !== undefined && max !== undefined && min > max) {
          fail((get('max') as RawPair).valueCol, `max=${max} is below min=${min}`);
        }
        return { op: 'expect-cost', counter, ...(min !== undefined ? { min } : {}), ...(max !== undefined ? { max } : {}) };
      }
      default:
        fail(raw.col, `statement '${spec.id}' is not implemented by the parser`);
    }
  }

  private checkVaSpan(addr: number, len: number, col: number): void {
    const half = addr >= 2 ** 47 ? 2 ** 48 : 2 ** 47;
    if (addr + len > half) {
      fail(col, `the span from this va (${len} bytes) runs past the end of the canonical ${half === 2 ** 47 ? 'lower' : 'upper'} half`);
    }
  }

  private checkRect(f: FbInfo, r: [number, number, number, number], p: RawPair): void {
    if (f.resized || f.width === undefined || f.height === undefined) {
      return;
    }
    if (r[0] + r[2] > f.width || r[1] + r[3] > f.height) {
      fail(p.valueCol, `${p.key}=${p.value} lies outside framebuffer '${f.name}' (${f.width}x${f.height} pixels)`);
    }
  }
}

/** ` (did you mean 'x'?)` when a close candidate exists. */
export function suggest(word: string, candidates: readonly string[]): string {
  if (word.length > 64) {
    return '';
  }
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== undefined && bestD <= Math.max(1, Math.floor(best.length / 3)) ? ` (did you mean '${best}'?)` : '';
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] as number;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j] as number;
      prev[j] = Math.min((prev[j] as number) + 1, (prev[j - 1] as number) + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length] as number;
}

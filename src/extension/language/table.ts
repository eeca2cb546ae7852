/**
 * What the editor needs to know about the language, as data: the providers take a LanguageTable and
 * never hard-code statements, so the table can come from the trace layer's keyword table.
 */
import type { NameKind } from './scan';

export type ArgKind = 'number' | 'size' | 'duration' | 'va' | 'vcpu' | 'name' | 'enum' | 'list' | 'range' | 'string' | 'flag' | 'rect' | 'color';

export interface ArgSpec {
  key: string;
  kind: ArgKind;
  required?: boolean;
  /** Enum values (or list items) the key accepts. */
  values?: readonly string[];
  /** For `name` arguments: which declared names it refers to. */
  names?: NameKind;
  default?: string;
  /** Keys it cannot be written with. */
  without?: readonly string[];
  doc: string;
}

export interface StatementSpec {
  /** `write`, `ioreq map`, `expect screen`. */
  name: string;
  /** One-line synopsis as in the spec. */
  syntax: string;
  /** What it models in Xen / QEMU / the CPU (markdown-free plain text). */
  doc: string;
  /** The Xen, QEMU or hardware function it corresponds to. */
  fn?: string;
  args: readonly ArgSpec[];
  /** Bare words allowed after the keyword (flags, sub-commands, enum words). */
  words?: readonly string[];
  /** A bare word naming something declared earlier (`ioreq map NAME`: a server). */
  refs?: NameKind;
  /** What each bare word means (`map … ro`, `logdirty … enable`), for hover. */
  wordDocs?: Readonly<Record<string, string>>;
}

export type ValueGroup = 'tracker' | 'bug' | 'invariant' | 'counter' | 'paging' | 'p2m';

export interface ValueDoc {
  value: string;
  group: ValueGroup;
  doc: string;
  fn?: string;
}

export interface LanguageTable {
  statements: readonly StatementSpec[];
  values: readonly ValueDoc[];
}

/** Index a table for look-ups by statement name and by value. */
export class TableIndex {
  private readonly byName = new Map<string, StatementSpec>();
  private readonly byValue = new Map<string, ValueDoc>();
  /** The same, per group: a word in two groups (`sl1ma`: a tracker and an invariant). */
  private readonly byGroup = new Map<string, ValueDoc>();
  readonly keywords: string[];

  constructor(readonly table: LanguageTable) {
    for (const s of table.statements) {
      this.byName.set(s.name, s);
    }
    for (const v of table.values) {
      if (!this.byValue.has(v.value)) {
        this.byValue.set(v.value, v);
      }
      this.byGroup.set(`${v.group}:${v.value}`, v);
    }
    this.keywords = [...new Set(table.statements.map((s) => s.name.split(' ')[0]))];
  }

  statement(name: string | undefined): StatementSpec | undefined {
    return name === undefined ? undefined : this.byName.get(name);
  }

  /** Statements whose first word is `keyword` (`ioreq` → `ioreq server`, `ioreq map`, ...). */
  variants(keyword: string): StatementSpec[] {
    return this.table.statements.filter((s) => s.name === keyword || s.name.startsWith(keyword + ' '));
  }

  /** A value's documentation; of `group` when the word has one there (the key says what it names). */
  value(v: string, group?: ValueGroup): ValueDoc | undefined {
    return (group !== undefined ? this.byGroup.get(`${group}:${v}`) : undefined) ?? this.byValue.get(v);
  }

  arg(statement: string | undefined, key: string): ArgSpec | undefined {
    return this.statement(statement)?.args.find((a) => a.key === key);
  }
}

/** What the values of a key name, where a word could mean two things (`expect violation=sl1ma`). */
export function valueGroupOf(key: string | undefined): ValueGroup | undefined {
  return key === 'violation' ? 'invariant' : key === 'tracker' ? 'tracker' : undefined;
}

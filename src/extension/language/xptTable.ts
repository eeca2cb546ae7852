/**
 * The editor's LanguageTable made from the trace layer's keyword table (src/trace/keywords.ts), the
 * one reference of the language: statements with keys and what each models in Xen, and the docs of
 * every tracker, bug, invariant and counter.
 *
 * The editor reads a line as `keyword [sub-word] ...`: forms told apart by a literal word
 * (`ioreq map`, `expect screen`) stay separate; forms told apart by a key (`expect fb=`,
 * `expect cost=`) merge into one `expect` entry whose keys are the union.
 */
import {
  BUG_DOCS, COUNTER_DOCS, COUNTERS, DERIVED_COUNTERS, INVARIANT_DOCS, STATEMENTS as FORMS, TRACKER_DOCS,
  type KeySpec, type NameKind as TraceNameKind, type StatementSpec as FormSpec,
} from '../../trace/keywords';
import type { NameKind } from './scan';
import type { ArgKind, ArgSpec, LanguageTable, StatementSpec, ValueDoc } from './table';

const NAME_KIND: Record<TraceNameKind, NameKind> = { domain: 'domain', framebuffer: 'fb', process: 'process', 'ioreq-server': 'server' };
const PTE_FLAGS = ['P', 'RW', 'US', 'A', 'D', 'G', 'NX'];

function argKind(k: KeySpec['kind']): ArgKind {
  switch (k) {
    case 'point': return 'rect';
    case 'word': return 'string';
    case 'addr': return 'number';
    default: return k;
  }
}

function toArg(k: KeySpec): ArgSpec {
  let values: readonly string[] | undefined = k.values;
  if (k.kind === 'list' && k.itemKind === 'pte-flags') {
    values = PTE_FLAGS;
  }
  if (k.special) {
    values = [...(values ?? []), ...k.special];
  }
  return {
    key: k.name,
    kind: argKind(k.kind),
    required: k.required,
    values,
    names: k.of ? NAME_KIND[k.of] : undefined,
    default: k.default,
    ...(k.without ? { without: k.without } : {}),
    doc: k.doc,
  };
}

function editorName(f: FormSpec): string {
  return f.selector && 'word' in f.selector ? `${f.keyword} ${f.selector.word}` : f.keyword;
}

function build(): LanguageTable {
  const merged = new Map<string, StatementSpec>();
  for (const f of FORMS) {
    const name = editorName(f);
    const words = f.positional.flatMap((p) => (p.kind === 'flag' ? [p.name] : p.kind === 'enum' && p.values ? [...p.values] : []));
    const args = f.keys.map(toArg);
    const ref = f.positional.find((p) => p.kind === 'name' && !p.declares && p.of !== undefined);
    const refs = ref?.of !== undefined ? NAME_KIND[ref.of] : undefined;
    const wordDocs: Record<string, string> = {};
    for (const p of f.positional) {
      if (p.kind === 'flag') {
        wordDocs[p.name] = p.doc;
      } else if (p.kind === 'enum') {
        for (const v of p.values ?? []) {
          wordDocs[v] = p.valueDocs?.[v] ?? p.doc;
        }
      }
    }
    const prev = merged.get(name);
    if (!prev) {
      merged.set(name, { name, syntax: f.syntax, doc: f.doc, fn: f.xen, args, words, ...(refs ? { refs } : {}), ...(Object.keys(wordDocs).length ? { wordDocs } : {}) });
      continue;
    }
    // Key-selected forms of the same keyword: one entry, union of keys, every synopsis.
    const keys = new Set(prev.args.map((a) => a.key));
    merged.set(name, {
      name,
      syntax: `${prev.syntax}\n${f.syntax}`,
      doc: `${prev.doc}\n\n${f.syntax}: ${f.doc}`,
      fn: prev.fn,
      args: [...prev.args, ...args.filter((a) => !keys.has(a.key)).map((a) => ({ ...a, required: false }))],
      words: [...new Set([...(prev.words ?? []), ...words])],
    });
  }
  // In a merged `expect`, no key is required on its own (each form needs its selector key).
  const expect = merged.get('expect');
  if (expect) {
    merged.set('expect', { ...expect, args: expect.args.map((a) => ({ ...a, required: false })) });
  }
  const values: ValueDoc[] = [
    ...Object.values(TRACKER_DOCS).map((t): ValueDoc => ({ value: t.id, group: 'tracker', doc: `${t.doc} (paging: ${t.paging})`, fn: t.xen })),
    ...Object.values(BUG_DOCS).map((b): ValueDoc => ({ value: b.id, group: 'bug', doc: `${b.doc} Applies to: ${b.appliesTo}.`, fn: b.xen })),
    ...Object.values(INVARIANT_DOCS).map((i): ValueDoc => ({ value: i.id, group: 'invariant', doc: i.doc, fn: i.xen })),
    ...[...COUNTERS, ...DERIVED_COUNTERS].map((c): ValueDoc => ({ value: c, group: 'counter', doc: COUNTER_DOCS[c] })),
  ];
  return { statements: [...merged.values()], values };
}

export const XPT_TABLE: LanguageTable = build();

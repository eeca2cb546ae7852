/**
 * Editor features for `.xpt` / `.xpt.jsonl`: diagnostics from the parser as you type, hover,
 * completion, document symbols and code lenses. All language knowledge comes from a LanguageTable.
 */
import * as vscode from 'vscode';
import { diagnoseInSteps, runInSlices } from '../../trace/index';
import type { TraceError } from '../../sim/program';
import { COMMANDS, LANGUAGE_ID } from '../constants';
import { codePointColToUtf16, outline, scanLine, statementName, tokenAt, wordRangeAt, type NameKind, type Outline, type RepeatBlock } from './scan';
import { TableIndex, valueGroupOf, type ArgSpec, type LanguageTable, type StatementSpec } from './table';

const SELECTOR: vscode.DocumentSelector = [{ language: LANGUAGE_ID }];

export function registerLanguageFeatures(context: vscode.ExtensionContext, table: LanguageTable): void {
  const index = new TableIndex(table);
  const diagnostics = new TraceDiagnostics();
  context.subscriptions.push(
    diagnostics,
    vscode.languages.registerHoverProvider(SELECTOR, new TraceHoverProvider(index)),
    vscode.languages.registerCompletionItemProvider(SELECTOR, new TraceCompletionProvider(index), '=', ' ', ',', '.'),
    vscode.languages.registerDocumentSymbolProvider(SELECTOR, new TraceSymbolProvider(), { label: 'Xen Paging Lens' }),
    vscode.languages.registerCodeLensProvider(SELECTOR, new TraceCodeLensProvider()),
  );
  diagnostics.start();
}

/** Time one slice of a check may take before the extension host gets its turn again. */
const SLICE_MS = 8;

/**
 * Parser diagnostics, refreshed shortly after each edit and dropped when the document closes. A
 * check runs in slices of SLICE_MS (a trace of a million lines takes seconds to read), and an edit
 * or a close drops the check in progress: the host stays responsive and never shows stale results.
 */
class TraceDiagnostics implements vscode.Disposable {
  private readonly collection = vscode.languages.createDiagnosticCollection(LANGUAGE_ID);
  /** Per document: the check scheduled after an edit. */
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  /** Per document: the check in progress (an edit or a close replaces or drops it). */
  private readonly checks = new Map<string, object>();
  private readonly disposables: vscode.Disposable[] = [];

  start(): void {
    this.disposables.push(
      vscode.workspace.onDidOpenTextDocument((d) => this.schedule(d, 0)),
      vscode.workspace.onDidChangeTextDocument((e) => this.schedule(e.document, 250)),
      vscode.workspace.onDidCloseTextDocument((d) => {
        this.collection.delete(d.uri);
        this.cancel(d.uri.toString());
      }),
    );
    for (const d of vscode.workspace.textDocuments) {
      this.schedule(d, 0);
    }
  }

  private cancel(key: string): void {
    const t = this.timers.get(key);
    if (t !== undefined) {
      clearTimeout(t);
      this.timers.delete(key);
    }
    this.checks.delete(key);
  }

  private schedule(doc: vscode.TextDocument, delay: number): void {
    if (doc.languageId !== LANGUAGE_ID) {
      return;
    }
    const key = doc.uri.toString();
    this.cancel(key);
    this.timers.set(key, setTimeout(() => {
      this.timers.delete(key);
      void this.check(key, doc);
    }, delay));
  }

  /** Check the document in slices of SLICE_MS; publish the result unless the check was dropped. */
  private async check(key: string, doc: vscode.TextDocument): Promise<void> {
    const token = {};
    this.checks.set(key, token);
    const dropped = (): boolean => this.checks.get(key) !== token;
    let errors: TraceError[] | undefined;
    try {
      errors = await runInSlices(diagnoseInSteps(doc.getText(), fileLabel(doc.uri)), SLICE_MS, dropped);
    } catch (e) {
      // diagnoseInSteps promises never to throw; if it does, say so on line 1 rather than lose the editor.
      const d = new vscode.Diagnostic(new vscode.Range(0, 0, 0, 1), vscode.l10n.t('Internal error while checking this trace: {0}', String(e)), vscode.DiagnosticSeverity.Error);
      d.source = 'xpl';
      errors = undefined;
      if (!dropped()) {
        this.collection.set(doc.uri, [d]);
      }
    }
    if (errors === undefined || dropped()) {
      return;
    }
    this.checks.delete(key);
    this.collection.set(doc.uri, toDiagnostics(doc, errors));
  }

  dispose(): void {
    for (const t of this.timers.values()) {
      clearTimeout(t);
    }
    this.timers.clear();
    this.checks.clear();
    this.collection.dispose();
    for (const d of this.disposables) {
      d.dispose();
    }
  }
}

/** Trace errors as the editor's diagnostics, each over the word at its column. */
function toDiagnostics(doc: vscode.TextDocument, errors: TraceError[]): vscode.Diagnostic[] {
  return errors.map((err) => {
    const line = Math.max(0, Math.min(err.line - 1, doc.lineCount - 1));
    const text = doc.lineAt(line).text;
    const col = codePointColToUtf16(text, err.col);
    const r = wordRangeAt(text, col);
    const d = new vscode.Diagnostic(new vscode.Range(line, r.start, line, r.end), err.detail, vscode.DiagnosticSeverity.Error);
    d.source = 'xpl';
    return d;
  });
}

function fileLabel(uri: vscode.Uri): string {
  return uri.scheme === 'file' ? vscode.workspace.asRelativePath(uri, false) : uri.path;
}

function statementHover(spec: StatementSpec): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, false);
  md.appendCodeblock(spec.syntax, 'xpt');
  // The table's docs are the project's own markdown (backticks for code); appendText would turn every
  // space into &nbsp; and stop the hover from wrapping. The string is untrusted and HTML-free.
  md.appendMarkdown(spec.doc);
  if (spec.fn) {
    md.appendMarkdown('\n\n' + vscode.l10n.t('In Xen/QEMU: ') + spec.fn);
  }
  return md;
}

function argHover(spec: StatementSpec, arg: ArgSpec): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, false);
  md.appendMarkdown(`**${arg.key}**` + (arg.required ? ' ' + vscode.l10n.t('(required)') : '') + ` — \`${spec.name}\`\n\n`);
  md.appendMarkdown(arg.doc);
  if (arg.values && arg.values.length <= 16) {
    md.appendMarkdown('\n\n' + vscode.l10n.t('Values: ') + arg.values.map((v) => '`' + v + '`').join(', '));
  }
  if (arg.default !== undefined) {
    md.appendMarkdown('\n\n' + vscode.l10n.t('Default: ') + '`' + arg.default + '`');
  }
  return md;
}

export class TraceHoverProvider implements vscode.HoverProvider {
  constructor(private readonly index: TableIndex) {}

  provideHover(doc: vscode.TextDocument, pos: vscode.Position): vscode.Hover | undefined {
    const text = doc.lineAt(pos.line).text;
    const tokens = scanLine(text);
    const tok = tokenAt(tokens, pos.character);
    if (!tok || tok.kind === 'comment' || tok.kind === 'string') {
      return undefined;
    }
    const name = statementName(tokens);
    const range = new vscode.Range(pos.line, tok.start, pos.line, tok.end);
    const spec = this.index.statement(name) ?? (tokens[0] ? this.index.statement(tokens[0].text) : undefined);
    if ((tok.kind === 'keyword' || tok.kind === 'sub') && spec) {
      return new vscode.Hover(statementHover(spec), range);
    }
    if (tok.kind === 'key' && spec) {
      const arg = this.index.arg(spec.name, tok.text);
      return arg ? new vscode.Hover(argHover(spec, arg), range) : undefined;
    }
    // Values and bare words: trackers, bugs, invariants, counters, paging modes (list items too).
    const word = wordInToken(text, tok.start, tok.end, pos.character);
    const value = this.index.value(word.text, valueGroupOf(tok.kind === 'value' ? tok.key : undefined));
    if (value) {
      const md = new vscode.MarkdownString(undefined, false);
      md.appendMarkdown(`**${value.value}** (${value.group})\n\n`).appendMarkdown(value.doc);
      if (value.fn) {
        md.appendMarkdown('\n\n' + vscode.l10n.t('In Xen/QEMU: ') + value.fn);
      }
      return new vscode.Hover(md, new vscode.Range(pos.line, word.start, pos.line, word.end));
    }
    if (tok.kind === 'value' && spec && tok.key) {
      const arg = this.index.arg(spec.name, tok.key);
      return arg ? new vscode.Hover(argHover(spec, arg), range) : undefined;
    }
    // A bare flag or action word of the statement (`ro`, `global`, `enable`).
    const wordDoc = tok.kind === 'word' && spec ? spec.wordDocs?.[tok.text] : undefined;
    if (wordDoc !== undefined) {
      const md = new vscode.MarkdownString(undefined, false);
      md.appendMarkdown(`**${tok.text}** (${spec!.name})\n\n`).appendMarkdown(wordDoc);
      return new vscode.Hover(md, range);
    }
    return undefined;
  }
}

/** The comma-separated item of a token under a column (`lost-update,stale-tlb`). */
function wordInToken(line: string, start: number, end: number, col: number): { text: string; start: number; end: number } {
  let s = col;
  while (s > start && line[s - 1] !== ',') {
    s--;
  }
  let e = col;
  while (e < end && line[e] !== ',') {
    e++;
  }
  return { text: line.slice(s, e), start: s, end: e };
}

export class TraceCompletionProvider implements vscode.CompletionItemProvider {
  constructor(private readonly index: TableIndex) {}

  provideCompletionItems(doc: vscode.TextDocument, pos: vscode.Position): vscode.CompletionItem[] {
    const full = doc.lineAt(pos.line).text;
    if (full.trimStart().startsWith('{')) {
      return [];
    }
    const before = full.slice(0, pos.character);
    if (before.includes('#')) {
      return [];
    }
    const tokens = scanLine(before);
    const endsInSpace = /\s$/.test(before) || before.length === 0;
    // Which token is being typed (if any)?
    const current = endsInSpace ? undefined : tokens[tokens.length - 1];
    const done = current ? tokens.slice(0, -1) : tokens;

    if (done.length === 0) {
      return this.keywordItems();
    }
    const name = statementName(done) ?? done[0].text;
    const spec = this.index.statement(name);
    if (current && current.kind === 'value' && current.key) {
      return this.valueItems(doc, pos.line, name, current.key, before, current.start);
    }
    if (done.length === 1 && (done[0].text === 'ioreq' || done[0].text === 'expect')) {
      const subs = this.index.variants(done[0].text).filter((s) => s.name.includes(' ')).map((s) => {
        const item = new vscode.CompletionItem(s.name.split(' ')[1], vscode.CompletionItemKind.Keyword);
        item.detail = s.syntax;
        item.documentation = statementHover(s);
        return item;
      });
      return [...subs, ...(spec ? this.keyItems(spec, done) : [])];
    }
    if (!spec) {
      return [];
    }
    // A bare name still to come (`ioreq map NAME`): the names of that kind declared above the line.
    const refItems = spec.refs !== undefined && !done.some((t) => t.kind === 'word') ? this.declaredItems(doc, pos.line, spec.refs) : [];
    for (const item of refItems) {
      // Before the keys: the name comes first on the line.
      item.sortText = '!' + item.label.toString();
    }
    return [...refItems, ...this.keyItems(spec, done), ...(spec.words ?? []).map((w) => {
      const item = new vscode.CompletionItem(w, vscode.CompletionItemKind.EnumMember);
      const v = this.index.value(w);
      if (v) {
        item.documentation = v.doc;
      }
      return item;
    })];
  }

  /** Names of one kind declared above `line`, each with the statement that declared it. */
  private declaredItems(doc: vscode.TextDocument, line: number, kind: NameKind): vscode.CompletionItem[] {
    return outlineOf(doc).declarations.filter((d) => d.kind === kind && d.line < line).map((d) => {
      const item = new vscode.CompletionItem(d.name, vscode.CompletionItemKind.Variable);
      item.detail = vscode.l10n.t('line {0}: {1}', d.line + 1, d.detail);
      return item;
    });
  }

  private keywordItems(): vscode.CompletionItem[] {
    return this.index.table.statements.map((s) => {
      const item = new vscode.CompletionItem(s.name, vscode.CompletionItemKind.Keyword);
      item.detail = s.syntax;
      item.documentation = statementHover(s);
      return item;
    });
  }

  private keyItems(spec: StatementSpec, done: readonly { kind: string; text: string }[]): vscode.CompletionItem[] {
    const used = new Set(done.filter((t) => t.kind === 'key').map((t) => t.text));
    // Neither a key already there nor one that cannot go with those (`map`: fb= or gfn=/pages=).
    return spec.args.filter((a) => !used.has(a.key) && !(a.without ?? []).some((k) => used.has(k))).map((a) => {
      const item = new vscode.CompletionItem(a.key + '=', vscode.CompletionItemKind.Property);
      item.insertText = a.key + '=';
      item.detail = a.required ? vscode.l10n.t('required') : vscode.l10n.t('optional');
      item.documentation = argHover(spec, a);
      item.sortText = (a.required ? '0' : '1') + a.key;
      item.command = { title: 'suggest', command: 'editor.action.triggerSuggest' };
      return item;
    });
  }

  private valueItems(doc: vscode.TextDocument, line: number, statement: string, key: string, before: string, valueStart: number): vscode.CompletionItem[] {
    const arg = this.index.arg(statement, key);
    if (!arg) {
      return [];
    }
    // Lists: complete the item after the last comma.
    const itemStart = arg.kind === 'list' ? Math.max(valueStart, before.lastIndexOf(',') + 1) : valueStart;
    const make = (label: string, kind: vscode.CompletionItemKind, docText?: string): vscode.CompletionItem => {
      const item = new vscode.CompletionItem(label, kind);
      item.range = new vscode.Range(line, itemStart, line, before.length);
      if (docText) {
        item.documentation = docText;
      }
      return item;
    };
    const words = (arg.values ?? []).map((v) => make(v, vscode.CompletionItemKind.EnumMember, this.index.value(v, valueGroupOf(key))?.doc));
    const names = arg.kind === 'name' && arg.names !== undefined;
    if (arg.values && !names) {
      return words;
    }
    const o = outlineOf(doc);
    if (arg.kind === 'vcpu') {
      return o.vcpus.map((v) => make(v, vscode.CompletionItemKind.Variable));
    }
    if (names) {
      // Each name declared before this line (the parser wants names declared first) with the
      // statement that declared it, as the outline shows it; then the key's own words (`none`).
      const items = this.declaredItems(doc, line, arg.names!).map((item) => {
        item.range = new vscode.Range(line, itemStart, line, before.length);
        return item;
      });
      if (arg.names === 'process') {
        const kernel = make('kernel', vscode.CompletionItemKind.Variable);
        kernel.detail = vscode.l10n.t('every domain\'s first address space');
        items.unshift(kernel);
      }
      return [...items, ...words];
    }
    return words;
  }
}

/**
 * The outline of a document at its current version: completion and the outline view ask for it
 * on every keystroke and every refresh, and a million-line trace takes a fifth of a second to scan.
 * Documents are weak keys: a closed document's outline goes with it.
 */
const outlines = new WeakMap<vscode.TextDocument, { version: number; outline: Outline }>();
function outlineOf(doc: vscode.TextDocument): Outline {
  const c = outlines.get(doc);
  if (c !== undefined && c.version === doc.version) {
    return c.outline;
  }
  const o = outline(doc.getText());
  outlines.set(doc, { version: doc.version, outline: o });
  return o;
}

const SYMBOL_KIND: Record<NameKind, vscode.SymbolKind> = {
  domain: vscode.SymbolKind.Module,
  fb: vscode.SymbolKind.Array,
  process: vscode.SymbolKind.Namespace,
  server: vscode.SymbolKind.Interface,
};

export class TraceSymbolProvider implements vscode.DocumentSymbolProvider {
  provideDocumentSymbols(doc: vscode.TextDocument): vscode.DocumentSymbol[] {
    const o = outlineOf(doc);
    const symbols = o.declarations.map((d) => {
      const lineRange = doc.lineAt(d.line).range;
      return new vscode.DocumentSymbol(d.name, d.detail, SYMBOL_KIND[d.kind], lineRange, new vscode.Range(d.line, d.start, d.line, d.end));
    });
    const repeat = (b: RepeatBlock): vscode.DocumentSymbol => {
      const endLine = Math.min(b.end, doc.lineCount - 1);
      const s = new vscode.DocumentSymbol(`repeat ${b.count}`, vscode.l10n.t('lines {0}–{1}', b.start + 1, endLine + 1), vscode.SymbolKind.Struct,
        new vscode.Range(b.start, 0, endLine, doc.lineAt(endLine).text.length), doc.lineAt(b.start).range);
      s.children = b.children.map(repeat);
      return s;
    };
    return [...symbols, ...o.repeats.map(repeat)].sort((a, b) => a.range.start.line - b.range.start.line);
  }
}

export class TraceCodeLensProvider implements vscode.CodeLensProvider {
  provideCodeLenses(doc: vscode.TextDocument): vscode.CodeLens[] {
    // On the first statement line: one place, stable while editing below it.
    let line = 0;
    for (let i = 0; i < doc.lineCount; i++) {
      const t = doc.lineAt(i).text.trim();
      if (t !== '' && !t.startsWith('#') && !/"op"\s*:\s*"#"/.test(t)) {
        line = i;
        break;
      }
    }
    const range = new vscode.Range(line, 0, line, 0);
    return [
      new vscode.CodeLens(range, { title: vscode.l10n.t('$(debug-alt) Debug'), command: COMMANDS.debugTrace, arguments: [doc.uri] }),
      new vscode.CodeLens(range, { title: vscode.l10n.t('$(play) Run'), command: COMMANDS.runTrace, arguments: [doc.uri] }),
      new vscode.CodeLens(range, { title: vscode.l10n.t('$(table) Compare trackers'), command: COMMANDS.compareTrackers, arguments: [doc.uri] }),
    ];
  }
}

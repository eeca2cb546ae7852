/**
 * The one typed protocol between the visualizer's host (src/extension/visualizer) and its webview
 * (webview/). Both sides import this module and nothing else from each other.
 *
 * - webview → host: `ready` once, then `request`s carrying a `requestId`, a `method` and its `args`.
 * - host → webview: `response`s carrying `inReplyTo`, and events: `init` (mode, title, localized
 *   strings, theme), `stepped` (the model moved), `theme`, `source` (the data source changed).
 *
 * Every message is checked at runtime on the receiving side with the schemas below: a message that
 * does not match is rejected (dropped and logged), never acted on. Schemas double as the types
 * (`Infer<typeof schema>`), so the checks cannot drift from the declared shapes.
 *
 * Data shapes mirror src/sim/inspect.ts (the host passes the model's views through); byte arrays
 * travel as base64. The webview never imports src/sim: these declarations are its copy, and the host
 * checks at compile time that the model's views are assignable to them.
 */

// ---------------------------------------------------------------------------------------------
// A small schema library: each schema checks an unknown value and carries its static type.

export interface Schema<T> {
  /** null when `v` matches, otherwise where and why it does not. */
  readonly check: (v: unknown, path: string) => string | null;
  /** Phantom: the type this schema accepts. */
  readonly _type?: T;
}
export interface OptionalSchema<T> extends Schema<T> { readonly optional: true }
export type Infer<S> = S extends Schema<infer T> ? T : never;

const LIMIT_STRING = 1 << 16;
const LIMIT_ARRAY = 1 << 20;
/** Base64 payloads: up to 64 MiB of bytes (a 64 MiB framebuffer's 32 bpp screen is 16 MiB). */
const LIMIT_BASE64 = 96 << 20;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export const str = (max = LIMIT_STRING): Schema<string> => ({
  check: (v, p) => (typeof v === 'string' && v.length <= max ? null : `${p}: expected a string of at most ${max} characters`),
});
export const num: Schema<number> = {
  check: (v, p) => (typeof v === 'number' && Number.isFinite(v) ? null : `${p}: expected a finite number`),
};
export const int = (min = 0, max = Number.MAX_SAFE_INTEGER): Schema<number> => ({
  check: (v, p) => (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? null : `${p}: expected an integer in [${min}, ${max}]`),
});
export const bool: Schema<boolean> = {
  check: (v, p) => (typeof v === 'boolean' ? null : `${p}: expected a boolean`),
};
export const lit = <const L extends readonly (string | number | boolean | null)[]>(...values: L): Schema<L[number]> => ({
  check: (v, p) => (values.includes(v as L[number]) ? null : `${p}: expected one of ${values.map((x) => JSON.stringify(x)).join(', ')}`),
});
const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;
export const base64: Schema<string> = {
  check: (v, p) => (typeof v === 'string' && v.length <= LIMIT_BASE64 && v.length % 4 === 0 && BASE64_RE.test(v) ? null : `${p}: expected base64`),
};
export const arr = <T>(item: Schema<T>, max = LIMIT_ARRAY): Schema<T[]> => ({
  check: (v, p) => {
    if (!Array.isArray(v) || v.length > max) {
      return `${p}: expected an array of at most ${max} items`;
    }
    for (let i = 0; i < v.length; i++) {
      const e = item.check(v[i], `${p}[${i}]`);
      if (e) {
        return e;
      }
    }
    return null;
  },
});
export const nullable = <T>(s: Schema<T>): Schema<T | null> => ({
  check: (v, p) => (v === null ? null : s.check(v, p)),
});
export const opt = <T>(s: Schema<T>): OptionalSchema<T> => ({
  optional: true,
  check: (v, p) => (v === undefined ? null : s.check(v, p)),
});
export const record = <T>(value: Schema<T>, maxKeys = 4096): Schema<Record<string, T>> => ({
  check: (v, p) => {
    if (!isRecord(v)) {
      return `${p}: expected an object`;
    }
    const keys = Object.keys(v);
    if (keys.length > maxKeys) {
      return `${p}: too many keys`;
    }
    for (const k of keys) {
      if (k === '__proto__' || k.length > 256) {
        return `${p}: bad key`;
      }
      const e = value.check(v[k], `${p}.${k}`);
      if (e) {
        return e;
      }
    }
    return null;
  },
});

/** Any one of the given schemas. */
export const oneOf = <T extends unknown[]>(...schemas: { [I in keyof T]: Schema<T[I]> }): Schema<T[number]> => ({
  check: (v, p) => (schemas.some((s) => s.check(v, p) === null) ? null : `${p}: matches none of the allowed shapes`),
});

type Shape = Record<string, Schema<unknown>>;
type RequiredKeys<S extends Shape> = { [K in keyof S]: S[K] extends OptionalSchema<unknown> ? never : K }[keyof S];
type OptionalKeys<S extends Shape> = { [K in keyof S]: S[K] extends OptionalSchema<unknown> ? K : never }[keyof S];
type Flatten<T> = { [K in keyof T]: T[K] };
export type ObjType<S extends Shape> = Flatten<{ [K in RequiredKeys<S>]: Infer<S[K]> } & { [K in OptionalKeys<S>]?: Infer<S[K]> }>;

/** An object with these members. Members not in the shape are ignored (never read), not rejected. */
export const obj = <S extends Shape>(shape: S): Schema<ObjType<S>> => ({
  check: (v, p) => {
    if (!isRecord(v)) {
      return `${p}: expected an object`;
    }
    for (const k of Object.keys(shape)) {
      const e = shape[k].check(v[k], `${p}.${k}`);
      if (e) {
        return e;
      }
    }
    return null;
  },
});

/** A union discriminated by `key`. */
export const tagged = <K extends string, M extends Record<string, Schema<unknown>>>(key: K, members: M): Schema<Infer<M[keyof M]>> => ({
  check: (v, p) => {
    if (!isRecord(v) || typeof v[key] !== 'string' || !Object.prototype.hasOwnProperty.call(members, v[key])) {
      return `${p}.${key}: unknown`;
    }
    return members[v[key] as string].check(v, p);
  },
});

export function validate<T>(schema: Schema<T>, v: unknown): { ok: true; value: T } | { ok: false; error: string } {
  const e = schema.check(v, '$');
  return e === null ? { ok: true, value: v as T } : { ok: false, error: e };
}

// ---------------------------------------------------------------------------------------------
// Data shapes (mirrors of src/sim/inspect.ts and src/sim/report.ts).

const name = str(256);
const frame = int(0, 2 ** 52);
const va = int(0, 2 ** 48 - 1);

export const EVENT_KINDS = [
  'tlb-hit', 'tlb-miss', 'tlb-fill', 'walk', 'ad-update', 'store', 'load',
  'vmexit', 'shadow-fault', 'propagate', 'set-l1e', 'make-shadow', 'destroy-shadow', 'emulate',
  'remove-write-access', 'ept-violation', 'ept-misconfig', 'p2m-type-change', 'pml-log', 'pml-drain',
  'tlb-flush', 'flush-skipped', 'invlpg', 'cr3', 'peek', 'peek-page', 'hypercall', 'answer', 'refresh',
  'logdirty', 'ioreq', 'dma', 'violation', 'note', 'tick', 'setup',
] as const;
export type EventKindName = (typeof EVENT_KINDS)[number];
export const eventKind = lit(...EVENT_KINDS);

export const costsSchema = record(num, 64);
export type Costs = Infer<typeof costsSchema>;

export const violationSchema = obj({
  line: int(), id: str(64), fb: opt(name), pages: opt(arr(int())), vcpu: opt(name), va: opt(str(32)),
  gfn: opt(frame), mfn: opt(frame), message: str(),
});
export type Violation = Infer<typeof violationSchema>;

export const answerSchema = obj({
  line: int(), fb: name, kind: lit('bitmap', 'all', 'enodata'),
  dirty: arr(int()), written: arr(int()), changed: arr(int()), missed: arr(int()), late: arr(int()), extra: arr(int()),
  refresh: opt(lit(true)), stale: opt(arr(int())), tracker: opt(name),
});
export type Answer = Infer<typeof answerSchema>;

export const vcpuSchema = obj({ id: name, dom: name, index: int(), process: name, cr3Gfn: frame, tlbEntries: int() });
export const framebufferSchema = obj({
  name, dom: name, gfn: frame, pages: int(0, 1 << 24), width: int(0, 1 << 16), height: int(0, 1 << 16), bpp: int(0, 64), tracked: bool,
});
export type Framebuffer = Infer<typeof framebufferSchema>;
export const domainSchema = obj({
  name, paging: lit('shadow', 'hap'), memBytes: int(), tracker: name, tlb: lit('tagged', 'flush-on-exit'), pml: bool,
  vcpus: arr(vcpuSchema, 4096), framebuffers: arr(framebufferSchema, 4096),
  processes: arr(obj({ name, cr3Gfn: frame, exited: bool }), 65536),
  ptFrames: arr(frame), logdirty: bool,
});
export type Domain = Infer<typeof domainSchema>;
export const summarySchema = obj({
  step: int(), time: num, line: nullable(int()), done: bool,
  domains: arr(domainSchema, 256), costs: costsSchema, violations: arr(violationSchema),
  /** The vCPU, VA and line of the last step's statement, if it names a VA (the page tables view follows it). */
  focus: opt(obj({ vcpu: name, va, line: int() })),
});
export type Summary = Infer<typeof summarySchema>;

export const tlbEntrySchema = obj({
  va, mfn: frame, writable: bool, dirty: bool, global: bool, stale: lit(null, 'hypervisor', 'guest'),
});
export type TlbEntry = Infer<typeof tlbEntrySchema>;

export const pteFlagsSchema = obj({ P: bool, RW: bool, US: bool, A: bool, D: bool, PS: bool, G: bool, NX: bool });
export const walkLevelSchema = obj({
  level: lit(4, 3, 2, 1), table: frame, index: int(0, 511), raw: str(32), flags: pteFlagsSchema, target: frame,
  writeProtected: opt(bool),
});
export type WalkLevel = Infer<typeof walkLevelSchema>;
export const eptSchema = obj({
  gfn: frame, mfn: nullable(frame), type: lit('ram_rw', 'ram_logdirty', 'mmio_dm', 'ioreq_server', 'invalid'),
  r: bool, w: bool, x: bool, d: bool, recalc: bool,
});
export type EptEntry = Infer<typeof eptSchema>;
export const walkSchema = obj({
  vcpu: name, va, guest: arr(walkLevelSchema, 4), shadow: arr(walkLevelSchema, 4), ept: opt(eptSchema),
  gfn: opt(frame), mfn: opt(frame), writable: bool, stop: opt(str(512)),
});
export type Walk = Infer<typeof walkSchema>;

export const bitmapSchema = obj({
  fb: name, start: int(), count: int(0, 1 << 24), pages: int(0, 1 << 24), state: base64, lastAnswerLine: nullable(int()),
});
export type BitmapWire = Infer<typeof bitmapSchema>;

export const trackerSchema = nullable(obj({
  tracker: name, fb: name, fields: record(oneOf(str(4096), num, bool), 256),
  lastAnswer: nullable(answerSchema),
}));

export const screenSchema = obj({ fb: name, width: int(0, 1 << 16), height: int(0, 1 << 16), guest: base64, screen: base64 });
export type ScreenWire = Infer<typeof screenSchema>;

export const timelineMarkSchema = obj({ step: int(), line: int(), kinds: arr(eventKind, 64), violation: opt(str(1024)) });
export type TimelineMark = Infer<typeof timelineMarkSchema>;

export const compareRowSchema = obj({
  tracker: name, paging: opt(str(64)), costs: costsSchema, answers: int(), missed: int(), extra: int(), violations: int(), error: opt(str(1024)),
});
export type CompareRow = Infer<typeof compareRowSchema>;

export const EXPORT_FORMATS = ['png', 'svg', 'csv', 'json'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

// ---------------------------------------------------------------------------------------------
// Requests: method → args and result schemas.

const MAX_STEP = 2 ** 31;
/**
 * The most p2m entries one `p2m` request answers (the engine's `P2M_VIEW_MAX`, tied to this by a
 * test): the guest-physical map shows p2m types once zoomed in to this many frames.
 */
export const P2M_ENTRIES_MAX = 4096;

export const requests = {
  summary: { args: obj({}), result: summarySchema },
  tlb: { args: obj({ vcpu: name }), result: obj({ entries: arr(tlbEntrySchema, 1 << 18) }) },
  walk: { args: obj({ vcpu: name, va }), result: walkSchema },
  /** At most P2M_ENTRIES_MAX entries: the webview asks only for the zoomed-in window. */
  p2m: { args: obj({ dom: name, gfn: frame, count: int(1, P2M_ENTRIES_MAX) }), result: obj({ entries: arr(eptSchema, P2M_ENTRIES_MAX) }) },
  bitmap: { args: obj({ fb: name, start: int(), count: int(1, 1 << 24) }), result: bitmapSchema },
  tracker: { args: obj({ fb: name }), result: trackerSchema },
  screen: { args: obj({ fb: name }), result: screenSchema },
  /** Marks for steps [from, to) and the number of steps known so far. */
  timeline: { args: obj({ from: int(0, MAX_STEP), to: int(0, MAX_STEP) }), result: obj({ total: int(), complete: opt(bool), marks: arr(timelineMarkSchema) }) },
  /** The cost counters after each step the host has seen, ascending by step. */
  costs: { args: obj({}), result: obj({ series: arr(obj({ step: int(), costs: costsSchema })) }) },
  /** The trace run to its end under every tracker, as `xpl compare` tabulates it. */
  compare: { args: obj({}), result: obj({ rows: arr(compareRowSchema, 64) }) },
  /** Go to the state after `step` steps. The host answers with where it is, then sends `stepped`. */
  seek: { args: obj({ step: int(0, MAX_STEP) }), result: obj({ step: int() }) },
  /** Save an export: `data` is base64 for png, text for the others. The host asks where. */
  export: {
    args: obj({ format: lit(...EXPORT_FORMATS), suggestedName: str(200), data: str(LIMIT_BASE64) }),
    result: obj({ saved: bool, path: opt(str(4096)) }),
  },
} as const;

export type Method = keyof typeof requests;
export type Args<M extends Method> = Infer<(typeof requests)[M]['args']>;
export type Result<M extends Method> = Infer<(typeof requests)[M]['result']>;
export const METHODS = Object.keys(requests) as Method[];

// ---------------------------------------------------------------------------------------------
// Messages.

export type RequestMessage = { [M in Method]: { type: 'request'; requestId: number; method: M; args: Args<M> } }[Method];
export type WebviewMessage = { type: 'ready' } | RequestMessage;

const requestId = int(1, Number.MAX_SAFE_INTEGER);

/** Checks a message received from the webview (on the host). */
export function parseWebviewMessage(v: unknown): { ok: true; value: WebviewMessage } | { ok: false; error: string } {
  if (!isRecord(v)) {
    return { ok: false, error: '$: expected an object' };
  }
  if (v.type === 'ready') {
    return { ok: true, value: { type: 'ready' } };
  }
  if (v.type !== 'request') {
    return { ok: false, error: '$.type: unknown' };
  }
  const idErr = requestId.check(v.requestId, '$.requestId');
  if (idErr) {
    return { ok: false, error: idErr };
  }
  if (typeof v.method !== 'string' || !Object.prototype.hasOwnProperty.call(requests, v.method)) {
    return { ok: false, error: '$.method: unknown' };
  }
  const m = v.method as Method;
  const argErr = requests[m].args.check(v.args, '$.args');
  if (argErr) {
    return { ok: false, error: argErr };
  }
  return { ok: true, value: { type: 'request', requestId: v.requestId as number, method: m, args: v.args } as RequestMessage };
}

export const THEME_KINDS = ['light', 'dark', 'highContrast', 'highContrastLight'] as const;
export type ThemeKind = (typeof THEME_KINDS)[number];

/** Keys of the localized strings the host sends in `init` (English defaults in webview/strings.ts). */
export const STRING_KEYS = [
  'title', 'noSession', 'step', 'stepBack', 'stepForward', 'play', 'pause', 'first', 'last',
  'gpaMap', 'pageTables', 'bitmaps', 'tlbs', 'timeline', 'screens', 'costs', 'compare',
  'guest', 'shadow', 'ept', 'written', 'reported', 'missed', 'extra', 'writable', 'stale', 'ram', 'framebuffer',
  'ptFrame', 'shortcuts', 'export', 'close', 'vcpu', 'va', 'noWalk', 'guestPixels', 'dmScreen', 'staleRegion',
  'selectedPage', 'noData', 'following',
] as const;
export type StringKey = (typeof STRING_KEYS)[number];

export const sourceSchema = obj({
  /** `debug`: following an xpl debug session; `engine`: a trace opened without the debugger; `none`. */
  mode: lit('debug', 'engine', 'none'),
  title: str(4096),
});
export type SourceInfo = Infer<typeof sourceSchema>;

export const steppedSchema = obj({
  type: lit('stepped'), step: int(), line: nullable(int()), done: bool,
  /** `vcpu`/`dom`: whose state the event concerns, when it names it (a flush: the domain whose vCPUs' TLBs it emptied). */
  events: arr(obj({ kind: eventKind, fn: str(256), detail: str(4096), vcpu: opt(name), dom: opt(name) }), 1 << 16),
});

/** Responses' results are checked against the asked method's schema by `parseResult`. */
const anything: Schema<unknown> = { check: () => null };

const hostSchemas = {
  init: obj({
    type: lit('init'), source: sourceSchema, theme: lit(...THEME_KINDS),
    strings: record(str(1024), STRING_KEYS.length + 16),
  }),
  source: obj({ type: lit('source'), source: sourceSchema }),
  stepped: steppedSchema,
  theme: obj({ type: lit('theme'), theme: lit(...THEME_KINDS) }),
  response: obj({
    type: lit('response'), inReplyTo: requestId, ok: bool, result: opt(anything), error: opt(str(4096)),
  }),
};
export type InitMessage = Infer<typeof hostSchemas.init>;
export type SteppedMessage = Infer<typeof hostSchemas.stepped>;
export type HostEvent =
  | InitMessage
  | Infer<typeof hostSchemas.source>
  | SteppedMessage
  | Infer<typeof hostSchemas.theme>;
/** A response; `result` is checked by the webview against the schema of the method it asked. */
export type ResponseMessage = { type: 'response'; inReplyTo: number; ok: true; result: unknown } | { type: 'response'; inReplyTo: number; ok: false; error: string };
export type HostMessage = HostEvent | ResponseMessage;

/** Checks a message received from the host (in the webview). Responses' results are checked by `parseResult`. */
export function parseHostMessage(v: unknown): { ok: true; value: HostMessage } | { ok: false; error: string } {
  const r = validate(tagged('type', hostSchemas), v);
  if (!r.ok) {
    return r;
  }
  const m = r.value as { type: string; ok?: boolean; error?: string };
  if (m.type === 'response' && m.ok === false && typeof m.error !== 'string') {
    return { ok: false, error: '$.error: expected a string' };
  }
  return { ok: true, value: r.value as HostMessage };
}

export function parseResult<M extends Method>(method: M, v: unknown): { ok: true; value: Result<M> } | { ok: false; error: string } {
  return validate(requests[method].result as Schema<Result<M>>, v);
}

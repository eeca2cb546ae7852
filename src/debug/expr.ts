/**
 * The small expression language of breakpoint conditions, logpoint `{…}` holes and watch
 * expressions: numbers (decimal or 0x hex, `_` separators), strings in double quotes, `true`/`false`,
 * names (`step`, `line`, `time`, counter names), calls (`dirtyCount("lfb")`, `tlbSize(0)`),
 * `! - * / % + - < <= > >= == != && ||` and parentheses. Evaluation never touches anything but the
 * environment it is given, so conditions can only read model state.
 */

import { canonicalToVa48 } from '../sim/program';

export type Value = number | string | boolean;

export interface ExprEnv {
  /** A bare name; throw ExprError if unknown. */
  name(id: string): Value;
  /** A call; throw ExprError if unknown or the arguments are wrong. */
  call(fn: string, args: Value[]): Value;
}

export class ExprError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExprError';
  }
}

export type Expr =
  | { t: 'lit'; v: Value }
  | { t: 'name'; id: string }
  | { t: 'call'; fn: string; args: Expr[] }
  | { t: 'un'; op: '!' | '-'; e: Expr }
  | { t: 'bin'; op: string; l: Expr; r: Expr };

interface Tok { k: 'num' | 'str' | 'id' | 'op' | 'end'; v: string; num?: number; at: number }

const OPS = ['&&', '||', '==', '!=', '<=', '>=', '<', '>', '+', '-', '*', '/', '%', '!', '(', ')', ','];

function lex(src: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (c === ' ' || c === '\t') {
      i++;
      continue;
    }
    const num = /^(0[xX][0-9a-fA-F_]+|[0-9][0-9_]*)/.exec(src.slice(i));
    if (num) {
      const text = num[0].replace(/_/g, '');
      let n = Number(text);
      if (n > Number.MAX_SAFE_INTEGER) {
        // Only canonical addresses are this large: held as 48-bit VAs, like the model's.
        const va = canonicalToVa48(BigInt(text));
        if (va === undefined) {
          throw new ExprError(`${num[0]} at column ${i + 1} is too large (and not a canonical address)`);
        }
        n = va;
      }
      toks.push({ k: 'num', v: num[0], num: n, at: i });
      i += num[0].length;
      continue;
    }
    const id = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
    if (id) {
      toks.push({ k: 'id', v: id[0], at: i });
      i += id[0].length;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      let s = '';
      while (j < src.length && src[j] !== '"') {
        if (src[j] === '\\' && j + 1 < src.length) {
          j++;
        }
        s += src[j];
        j++;
      }
      if (j >= src.length) {
        throw new ExprError(`unterminated string at column ${i + 1}`);
      }
      toks.push({ k: 'str', v: s, at: i });
      i = j + 1;
      continue;
    }
    const op = OPS.find((o) => src.startsWith(o, i));
    if (!op) {
      throw new ExprError(`unexpected '${c}' at column ${i + 1}`);
    }
    toks.push({ k: 'op', v: op, at: i });
    i += op.length;
  }
  toks.push({ k: 'end', v: '', at: src.length });
  return toks;
}

const BINARY: string[][] = [['||'], ['&&'], ['==', '!=', '<', '<=', '>', '>='], ['+', '-'], ['*', '/', '%']];

/** Parse an expression; throws ExprError with the column of the problem. */
export function parseExpr(src: string): Expr {
  const toks = lex(src);
  let p = 0;
  const peek = (): Tok => toks[p];
  const expectOp = (v: string): void => {
    const t = toks[p];
    if (t.k !== 'op' || t.v !== v) {
      throw new ExprError(`expected '${v}' at column ${t.at + 1}`);
    }
    p++;
  };
  const level = (n: number): Expr => {
    if (n >= BINARY.length) {
      return unary();
    }
    let l = level(n + 1);
    for (;;) {
      const t = peek();
      if (t.k === 'op' && BINARY[n].includes(t.v)) {
        p++;
        const r = level(n + 1);
        l = { t: 'bin', op: t.v, l, r };
        if (n === 2) {
          const t2 = peek();
          if (t2.k === 'op' && BINARY[2].includes(t2.v)) {
            throw new ExprError(`comparisons do not chain (column ${t2.at + 1})`);
          }
        }
      } else {
        return l;
      }
    }
  };
  const unary = (): Expr => {
    const t = peek();
    if (t.k === 'op' && (t.v === '!' || t.v === '-')) {
      p++;
      return { t: 'un', op: t.v, e: unary() };
    }
    return primary();
  };
  const primary = (): Expr => {
    const t = toks[p++];
    switch (t.k) {
      case 'num':
        return { t: 'lit', v: t.num ?? 0 };
      case 'str':
        return { t: 'lit', v: t.v };
      case 'id': {
        if (t.v === 'true' || t.v === 'false') {
          return { t: 'lit', v: t.v === 'true' };
        }
        const n = peek();
        if (n.k === 'op' && n.v === '(') {
          p++;
          const args: Expr[] = [];
          if (!(peek().k === 'op' && peek().v === ')')) {
            args.push(level(0));
            while (peek().k === 'op' && peek().v === ',') {
              p++;
              args.push(level(0));
            }
          }
          expectOp(')');
          return { t: 'call', fn: t.v, args };
        }
        return { t: 'name', id: t.v };
      }
      case 'op':
        if (t.v === '(') {
          const e = level(0);
          expectOp(')');
          return e;
        }
        throw new ExprError(`unexpected '${t.v}' at column ${t.at + 1}`);
      default:
        throw new ExprError(`expression ends too early (column ${t.at + 1})`);
    }
  };
  const e = level(0);
  const rest = peek();
  if (rest.k !== 'end') {
    throw new ExprError(`unexpected '${rest.v}' at column ${rest.at + 1}`);
  }
  return e;
}

function num(v: Value, op: string): number {
  if (typeof v === 'number') {
    return v;
  }
  if (typeof v === 'boolean') {
    return v ? 1 : 0;
  }
  throw new ExprError(`'${op}' needs numbers, got the string "${v}"`);
}

export function truthy(v: Value): boolean {
  return typeof v === 'string' ? v.length > 0 : Boolean(v);
}

export function evalExpr(e: Expr, env: ExprEnv): Value {
  switch (e.t) {
    case 'lit':
      return e.v;
    case 'name':
      return env.name(e.id);
    case 'call':
      return env.call(e.fn, e.args.map((a) => evalExpr(a, env)));
    case 'un': {
      const v = evalExpr(e.e, env);
      return e.op === '!' ? !truthy(v) : -num(v, '-');
    }
    case 'bin': {
      if (e.op === '&&') {
        return truthy(evalExpr(e.l, env)) && truthy(evalExpr(e.r, env));
      }
      if (e.op === '||') {
        return truthy(evalExpr(e.l, env)) || truthy(evalExpr(e.r, env));
      }
      const l = evalExpr(e.l, env);
      const r = evalExpr(e.r, env);
      switch (e.op) {
        case '==':
          return l === r || (typeof l !== 'string' && typeof r !== 'string' && num(l, '==') === num(r, '=='));
        case '!=':
          return !(l === r || (typeof l !== 'string' && typeof r !== 'string' && num(l, '!=') === num(r, '!=')));
        case '<': return num(l, '<') < num(r, '<');
        case '<=': return num(l, '<=') <= num(r, '<=');
        case '>': return num(l, '>') > num(r, '>');
        case '>=': return num(l, '>=') >= num(r, '>=');
        case '+':
          if (typeof l === 'string' || typeof r === 'string') {
            return String(l) + String(r);
          }
          return num(l, '+') + num(r, '+');
        case '-': return num(l, '-') - num(r, '-');
        case '*': return num(l, '*') * num(r, '*');
        case '/': {
          const d = num(r, '/');
          if (d === 0) {
            throw new ExprError('division by zero');
          }
          return Math.trunc(num(l, '/') / d);
        }
        case '%': {
          const d = num(r, '%');
          if (d === 0) {
            throw new ExprError('division by zero');
          }
          return num(l, '%') % d;
        }
      }
      throw new ExprError(`unknown operator ${e.op}`);
    }
  }
}

/** Render a value for the Debug Console and logpoints. */
export function showValue(v: Value): string {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 4096) {
    return `${v} (0x${v.toString(16)})`;
  }
  return String(v);
}

/**
 * Split a logpoint message into text and `{expr}` holes (`{{` and `}}` are literal braces).
 * Throws ExprError for a hole that does not parse.
 */
export function parseLogMessage(msg: string): (string | Expr)[] {
  const parts: (string | Expr)[] = [];
  let text = '';
  let i = 0;
  while (i < msg.length) {
    const c = msg[i];
    if (c === '{' && msg[i + 1] === '{') {
      text += '{';
      i += 2;
    } else if (c === '}' && msg[i + 1] === '}') {
      text += '}';
      i += 2;
    } else if (c === '{') {
      const end = msg.indexOf('}', i + 1);
      if (end < 0) {
        throw new ExprError(`'{' at column ${i + 1} is not closed`);
      }
      if (text) {
        parts.push(text);
        text = '';
      }
      parts.push(parseExpr(msg.slice(i + 1, end)));
      i = end + 1;
    } else {
      text += c;
      i++;
    }
  }
  if (text) {
    parts.push(text);
  }
  return parts;
}

/**
 * `xpl`: run, check and convert traces from a shell. Exit status 0 ran (every expect passed),
 * 1 an expect failed, 2 the trace or the command line is wrong. Errors are one line on stderr; a
 * stack trace only with XPL_DEBUG=1.
 */
import * as fs from 'fs';
import * as path from 'path';
import { BUGS, TRACKERS, TraceError, type BugId, type TrackerId } from '../sim/program';
import { convertTraceBytes, readTraceFile } from '../trace/index';
import { MAX_FILE_BYTES, oneLine } from '../trace/lexer';
import { suggest } from '../trace/parser';
import { USAGE, overview, topicHelp, unknownTopic } from './help';
import { runProgram, type RunFlags } from './run';
import { formatSummary } from './summary';
import { reportJson } from '../sim/report';
import { compareTrackers, formatCompare, DEFAULT_COMPARE } from '../trace/compare';
import { generate, GENERATORS, type GenOptions } from '../trace/gen';

/** A command-line mistake: printed as `xpl: MESSAGE`, exit 2. */
class UsageError extends Error {}

interface Io { out: (s: string) => void; err: (s: string) => void }

interface Parsed { positional: string[]; tracker?: TrackerId; inject: BugId[]; json: boolean; force: boolean }

function parseOptions(args: string[], allowed: ReadonlySet<string>): Parsed {
  const p: Parsed = { positional: [], inject: [], json: false, force: false };
  let i = 0;
  let onlyPositional = false;
  const value = (name: string, inline: string | undefined): string => {
    if (inline !== undefined) {
      return inline;
    }
    const v = args[++i];
    if (v === undefined) {
      throw new UsageError(`${name} needs a value`);
    }
    return v;
  };
  for (; i < args.length; i++) {
    const a = args[i] as string;
    if (onlyPositional || !a.startsWith('-') || a === '-') {
      p.positional.push(a);
      continue;
    }
    if (a === '--') {
      onlyPositional = true;
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq >= 0 ? a.slice(0, eq) : a;
    const inline = eq >= 0 ? a.slice(eq + 1) : undefined;
    if (!allowed.has(name)) {
      throw new UsageError(`unknown option '${name}'${suggest(name, [...allowed])}`);
    }
    switch (name) {
      case '--tracker': {
        const t = value(name, inline);
        if (!(TRACKERS as readonly string[]).includes(t)) {
          throw new UsageError(`unknown tracker '${t}' (expected ${TRACKERS.join(', ')})${suggest(t, TRACKERS)}`);
        }
        p.tracker = t as TrackerId;
        break;
      }
      case '--inject': {
        const b = value(name, inline);
        if (!(BUGS as readonly string[]).includes(b)) {
          throw new UsageError(`unknown bug '${b}' (expected ${BUGS.join(', ')})${suggest(b, BUGS)}`);
        }
        if (!p.inject.includes(b as BugId)) {
          p.inject.push(b as BugId);
        }
        break;
      }
      case '--json':
        p.json = true;
        break;
      case '--force':
        p.force = true;
        break;
    }
  }
  return p;
}

function version(): string {
  for (const rel of ['../package.json', '../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, rel), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'xen-paging-lens' && typeof pkg.version === 'string') {
        return pkg.version;
      }
    } catch {
      // try the next location
    }
  }
  return 'unknown';
}

function cmdRun(args: string[], io: Io): number {
  const p = parseOptions(args, new Set(['--tracker', '--inject', '--json']));
  if (p.positional.length !== 1) {
    throw new UsageError(p.positional.length === 0 ? 'run needs a TRACE file' : 'run takes one TRACE file (use xpl check for several)');
  }
  const file = p.positional[0] as string;
  const flags: RunFlags = { ...(p.tracker ? { tracker: p.tracker } : {}), inject: p.inject };
  const report = runProgram(readTraceFile(file), flags);
  io.out(p.json ? reportJson(report) + '\n' : formatSummary(report));
  return report.expects.failed.length > 0 ? 1 : 0;
}

function cmdCheck(args: string[], io: Io): number {
  const p = parseOptions(args, new Set(['--tracker', '--inject']));
  if (p.positional.length === 0) {
    throw new UsageError('check needs at least one TRACE file');
  }
  const flags: RunFlags = { ...(p.tracker ? { tracker: p.tracker } : {}), inject: p.inject };
  let worst = 0;
  let passed = 0;
  for (const file of p.positional) {
    try {
      const report = runProgram(readTraceFile(file), flags);
      const failed = report.expects.failed;
      if (failed.length === 0) {
        io.out(`PASS ${file} (${report.expects.passed} expect${report.expects.passed === 1 ? '' : 's'})\n`);
        passed++;
      } else {
        io.out(`FAIL ${file}\n`);
        for (const f of failed) {
          io.out(`  ${file}:${f.line}: ${f.message}\n`);
        }
        worst = Math.max(worst, 1);
      }
    } catch (e) {
      if (e instanceof TraceError) {
        io.out(`ERROR ${file}\n`);
        io.err(oneLine(e.message) + '\n');
        worst = 2;
        continue;
      }
      throw e;
    }
  }
  if (p.positional.length > 1) {
    io.out(`${passed} of ${p.positional.length} passed\n`);
  }
  return worst;
}

function isJsonlName(f: string): boolean {
  return f.endsWith('.jsonl');
}

function cmdConvert(args: string[], io: Io): number {
  const p = parseOptions(args, new Set(['--force']));
  if (p.positional.length !== 2) {
    throw new UsageError('convert needs IN and OUT (e.g. xpl convert lesson.xpt lesson.xpt.jsonl)');
  }
  const [inFile, outFile] = p.positional as [string, string];
  if (isJsonlName(inFile) === isJsonlName(outFile)) {
    throw new UsageError(`convert goes between text and JSON Lines: exactly one of IN and OUT must end with .jsonl`);
  }
  if (path.resolve(inFile) === path.resolve(outFile)) {
    throw new UsageError('IN and OUT are the same file');
  }
  let size: number;
  try {
    size = fs.statSync(inFile).size;
  } catch {
    throw new TraceError(inFile, 1, 1, 'cannot read the trace: no such file');
  }
  if (size > MAX_FILE_BYTES) {
    throw new TraceError(inFile, 1, 1, 'the file is larger than 1 GiB (the limit)');
  }
  const chunks = convertTraceBytes(fs.readFileSync(inFile), inFile, !isJsonlName(inFile));
  const first = chunks.next(); // checks the whole trace before OUT is touched
  let fd: number;
  try {
    fd = fs.openSync(outFile, p.force ? 'w' : 'wx');
  } catch (e) {
    if (e && typeof e === 'object' && (e as { code?: unknown }).code === 'EEXIST') {
      throw new UsageError(`${outFile} exists; use --force to overwrite it`);
    }
    throw new UsageError(`cannot write ${outFile}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const write = (c: string): void => {
    try {
      fs.writeSync(fd, c);
    } catch (e) {
      throw new UsageError(`cannot write ${outFile}: ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  try {
    if (!first.done) {
      write(first.value);
    }
    for (const c of chunks) {
      write(c);
    }
  } finally {
    fs.closeSync(fd);
  }
  io.err(`wrote ${outFile}\n`);
  return 0;
}

function cmdCompare(args: string[], io: Io): number {
  let trackers: TrackerId[] = DEFAULT_COMPARE;
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--trackers' || a.startsWith('--trackers=')) {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : args[++i];
      if (!v) {
        throw new UsageError('--trackers needs a list, e.g. --trackers memcmp,sl1ma');
      }
      trackers = v.split(',').map((t) => {
        if (!(TRACKERS as readonly string[]).includes(t)) {
          throw new UsageError(`unknown tracker '${t}' (expected ${TRACKERS.join(', ')})${suggest(t, TRACKERS)}`);
        }
        return t as TrackerId;
      });
    } else {
      rest.push(a);
    }
  }
  const p = parseOptions(rest, new Set(['--inject', '--json']));
  if (p.positional.length !== 1) {
    throw new UsageError('compare needs one TRACE file');
  }
  const result = compareTrackers(readTraceFile(p.positional[0] as string), trackers, p.inject);
  io.out(p.json ? JSON.stringify(result) + '\n' : formatCompare(result));
  return 0;
}

function cmdGen(args: string[], io: Io): number {
  const o: GenOptions = { seed: 1 };
  const positional: string[] = [];
  let out: string | undefined;
  let force = false;
  const num = (name: string, v: string | undefined): number => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n < 0) {
      throw new UsageError(`${name} needs a whole number`);
    }
    return n;
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    const eq = a.indexOf('=');
    const name = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    const val = (): string | undefined => (a.startsWith('--') && eq > 0 ? a.slice(eq + 1) : args[++i]);
    switch (name) {
      case '--seed': o.seed = num(name, val()); break;
      case '--seconds': o.seconds = num(name, val()); break;
      case '--guests': o.guests = num(name, val()); break;
      case '--ranges': o.ranges = num(name, val()); break;
      case '--paging': {
        const v = val();
        if (v !== 'shadow' && v !== 'hap') {
          throw new UsageError('--paging is shadow or hap');
        }
        o.paging = v;
        break;
      }
      case '--impl': {
        const v = val();
        if (v !== 'list' && v !== 'tree') {
          throw new UsageError('--impl is list or tree');
        }
        o.impl = v;
        break;
      }
      case '--tracker': {
        const v = val();
        if (!v || !(TRACKERS as readonly string[]).includes(v)) {
          throw new UsageError(`unknown tracker '${v}'`);
        }
        o.tracker = v;
        break;
      }
      case '-o': case '--out': out = val(); break;
      case '--force': force = true; break;
      default:
        if (a.startsWith('-')) {
          throw new UsageError(`unknown option '${a}'`);
        }
        positional.push(a);
    }
  }
  if (positional.length !== 1) {
    throw new UsageError(`gen needs one KIND: ${GENERATORS.map((g) => g.name).join(', ')}`);
  }
  const kind = positional[0] as string;
  if (!GENERATORS.some((g) => g.name === kind)) {
    throw new UsageError(`unknown workload '${kind}'${suggest(kind, GENERATORS.map((g) => g.name))} (expected ${GENERATORS.map((g) => g.name).join(', ')})`);
  }
  const text = generate(kind, o);
  if (out === undefined) {
    io.out(text);
    return 0;
  }
  try {
    fs.writeFileSync(out, text, { flag: force ? 'w' : 'wx' });
  } catch (e) {
    if (e && typeof e === 'object' && (e as { code?: unknown }).code === 'EEXIST') {
      throw new UsageError(`${out} exists; use --force to overwrite it`);
    }
    throw new UsageError(`cannot write ${out}: ${e instanceof Error ? e.message : String(e)}`);
  }
  io.err(`wrote ${out}\n`);
  return 0;
}

function cmdHelp(args: string[], io: Io): number {
  const topic = args[0];
  if (topic === undefined) {
    io.out(overview());
    return 0;
  }
  const text = topicHelp(topic);
  if (text === undefined) {
    throw new UsageError(unknownTopic(topic).replace(/^xpl: /, ''));
  }
  io.out(text);
  return 0;
}

/** Run the command line; returns the exit status. Never throws. */
export function main(argv: string[], io: Io): number {
  try {
    const [cmd, ...rest] = argv;
    switch (cmd) {
      case undefined:
        io.err(USAGE);
        return 2;
      case '--help': case '-h': case 'help':
        return cmdHelp(cmd === 'help' ? rest : [], io);
      case '--version': case '-V': case 'version':
        io.out(`xpl ${version()}\n`);
        return 0;
      case 'run':
        return cmdRun(rest, io);
      case 'check':
        return cmdCheck(rest, io);
      case 'convert':
        return cmdConvert(rest, io);
      case 'compare':
        return cmdCompare(rest, io);
      case 'gen':
        return cmdGen(rest, io);
      default:
        throw new UsageError(`unknown command '${cmd}'${suggest(cmd, ['run', 'check', 'convert', 'compare', 'gen', 'help'])}; try 'xpl help'`);
    }
  } catch (e) {
    if (e instanceof TraceError) {
      io.err(oneLine(e.message) + '\n');
      return 2;
    }
    if (e instanceof UsageError) {
      io.err(`xpl: ${oneLine(e.message)}\n`);
      return 2;
    }
    if (process.env['XPL_DEBUG'] === '1') {
      io.err((e instanceof Error ? e.stack ?? e.message : String(e)) + '\n');
    } else {
      const msg = oneLine((e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '');
      io.err(`xpl: internal error: ${msg} (set XPL_DEBUG=1 for details)\n`);
    }
    return 2;
  }
}

if (require.main === module) {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') {
      process.exit(process.exitCode ?? 0);
    }
  });
  process.exitCode = main(process.argv.slice(2), {
    out: (s) => process.stdout.write(s),
    err: (s) => process.stderr.write(s),
  });
}

// Command-line parsing for the l4hurd command: node:util's parseArgs splits the arguments into
// tokens, and this file checks them against a command's options, so that every mistake is told
// in the command's own words ("unknown option '--frob'", "option --ram needs a value") and every
// command answers --help with its own text.

import { parseArgs } from 'node:util';

/** A mistake on the command line: exit status 2, the message and the command's synopsis. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  /** The value's placeholder in help texts (string options). */
  readonly value?: string;
  readonly help: string;
}

export interface CommandSpec {
  readonly name: string;
  /** What follows `l4hurd NAME` in the synopsis. */
  readonly synopsis: string;
  /** One line for the overview. */
  readonly summary: string;
  /** The --help text after the synopsis (paragraphs, already wrapped). */
  readonly description: string;
  readonly options: Readonly<Record<string, OptionSpec>>;
  /** How many positional arguments the command takes (ignored with `program`). */
  readonly maxPositionals: number;
  /** `run`: the first positional argument is a program, and everything after it is its own. */
  readonly program?: boolean;
}

export interface ParsedCommand {
  readonly values: Readonly<Record<string, string | boolean | undefined>>;
  readonly positionals: readonly string[];
  /** With `program`: the arguments after the program. */
  readonly rest: readonly string[];
  readonly help: boolean;
}

/** Parses `args` for `spec`. Throws UsageError. */
export function parseCommand(spec: CommandSpec, args: readonly string[]): ParsedCommand {
  const options = Object.fromEntries(Object.entries(spec.options).map(([name, option]) => [name, { type: option.type }]));
  let own = [...args];
  let rest: string[] = [];
  if (spec.program) {
    const { tokens } = parseArgs({ args: own, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: false, allowPositionals: true, tokens: true });
    const first = tokens.find((token) => token.kind === 'positional' || token.kind === 'option-terminator');
    if (first?.kind === 'positional') {
      own = args.slice(0, first.index + 1);
      rest = args.slice(first.index + 1);
    } else if (first?.kind === 'option-terminator') {
      own = args.slice(0, first.index + 2);
      rest = args.slice(first.index + 2);
    }
  }
  const { tokens } = parseArgs({ args: own, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: false, allowPositionals: true, tokens: true });
  const values: Record<string, string | boolean | undefined> = {};
  const positionals: string[] = [];
  // --help anywhere among the command's own arguments wins over any mistake in the others.
  if (tokens.some((token) => token.kind === 'option' && token.name === 'help')) return { values, positionals, rest, help: true };
  let help = false;
  for (const token of tokens) {
    if (token.kind === 'positional') {
      positionals.push(token.value);
      continue;
    }
    if (token.kind === 'option-terminator') continue;
    if (token.name === 'help') {
      help = true;
      continue;
    }
    const option = spec.options[token.name];
    if (!option || token.rawName.length === 2) {
      // A one-letter option other than -h, or a name the command does not have.
      throw new UsageError(`unknown option '${token.rawName}'`);
    }
    if (option.type === 'boolean') {
      if (token.value !== undefined) throw new UsageError(`option ${token.rawName} takes no value`);
      values[token.name] = true;
    } else {
      const value = token.value;
      if (value === undefined || (!token.inlineValue && value.startsWith('--') && value.slice(2).split('=')[0]! in spec.options)) {
        throw new UsageError(`option ${token.rawName} needs a value (${token.rawName} ${option.value ?? 'VALUE'})`);
      }
      values[token.name] = value;
    }
  }
  if (help) return { values, positionals, rest, help };
  if (spec.program) {
    if (positionals.length === 0) throw new UsageError('a program to run is needed (l4hurd run FILE.ts [ARGS])');
  } else if (positionals.length > spec.maxPositionals) {
    throw new UsageError(spec.maxPositionals === 0 ? `unexpected argument '${positionals[0]}'` : `unexpected argument '${positionals[spec.maxPositionals]}'`);
  }
  return { values, positionals, rest, help };
}

/** `l4hurd NAME --help`. */
export function helpText(spec: CommandSpec): string {
  const rows: Array<readonly [string, string]> = Object.entries(spec.options).map(([name, option]) => [`--${name}${option.type === 'string' ? ` ${option.value ?? 'VALUE'}` : ''}`, option.help]);
  rows.push(['-h, --help', 'this text']);
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  const lines = rows.map(([left, right]) => `  ${left.padEnd(width)}${right.replace(/\n/g, `\n  ${' '.repeat(width)}`)}`);
  return `usage: l4hurd ${spec.name} ${spec.synopsis}\n\n${spec.description}\n\noptions:\n${lines.join('\n')}\n`;
}

/** The line that follows a usage error. */
export function synopsisLine(spec: CommandSpec): string {
  return `usage: l4hurd ${spec.name} ${spec.synopsis} (l4hurd ${spec.name} --help tells more)\n`;
}

// Small shared pieces of the debugger console: how it writes numbers and thread ids, and how it
// reads them back from a command line. Every parser throws CommandError, whose message is the
// one line the console prints; nothing here knows the machine.

/** A mistake in a command: the console prints the message as one line and goes on. */
export class CommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandError';
  }
}

export function hex32(value: number): string {
  return '0x' + (value >>> 0).toString(16).padStart(8, '0');
}

export function hex(value: number, digits = 0): string {
  return '0x' + (value >>> 0).toString(16).padStart(digits, '0');
}

/** A global thread id as `boot --trace` writes it: number.version. */
export function threadName(id: number): string {
  return `${id >>> 14}.${id & 0x3fff}`;
}

/** A thread id as a message or TCR holds it: nil, anythread, a local id, or number.version. */
export function idName(id: number): string {
  id >>>= 0;
  if (id === 0) return 'nil';
  if (id === 0xffffffff) return 'any';
  if (id === 0xffffffc0) return 'anylocal';
  if ((id & 0x3f) === 0) return `local ${hex32(id)}`;
  return threadName(id);
}

/** A whole number: decimal, 0x hex, 0b binary, with _ or , between digits allowed. */
export function parseNumber(text: string | undefined, what: string, max = 0xffffffff): number {
  if (text === undefined || text === '') throw new CommandError(`${what} is needed`);
  const clean = text.replace(/[_,]/g, '');
  let value: number;
  if (/^0x[0-9a-f]+$/i.test(clean)) value = parseInt(clean.slice(2), 16);
  else if (/^0b[01]+$/i.test(clean)) value = parseInt(clean.slice(2), 2);
  else if (/^\d+$/.test(clean)) value = Number(clean);
  else throw new CommandError(`${what} '${text}' is not a number (decimal, or hex with 0x)`);
  if (!Number.isSafeInteger(value) || value > max) throw new CommandError(`${what} ${text} is too large (at most ${max === 0xffffffff ? '0xffffffff' : max})`);
  return value;
}

/** A count: a positive whole number (default `fallback` when absent). */
export function parseCount(text: string | undefined, what: string, fallback = 1, max = 1e9): number {
  if (text === undefined) return fallback;
  const value = parseNumber(text, what, max);
  if (value < 1) throw new CommandError(`${what} must be at least 1`);
  return value;
}

/** A thread: number.version, or a bare thread number (the live thread of that number). */
export interface ThreadRef {
  readonly number: number;
  /** -1: any version. */
  readonly version: number;
  readonly text: string;
}

export function parseThread(text: string | undefined): ThreadRef {
  if (text === undefined) throw new CommandError('a thread is needed (number.version, as threads lists them)');
  const match = /^(\d+)(?:\.(\d+))?$/.exec(text);
  if (match) {
    const number = Number(match[1]);
    const version = match[2] === undefined ? -1 : Number(match[2]);
    if (number < 2 ** 18 && version < 2 ** 14) return { number, version, text };
  }
  if (/^0x[0-9a-f]{1,8}$/i.test(text)) {
    const id = parseInt(text.slice(2), 16) >>> 0;
    return { number: id >>> 14, version: id & 0x3fff, text };
  }
  throw new CommandError(`'${text}' is not a thread (number.version, as threads lists them)`);
}

/** Rights in rwx order, '-' for each one missing (L4 fpage bits: r 4, w 2, x 1). */
export function rights(bits: number): string {
  return `${bits & 4 ? 'r' : '-'}${bits & 2 ? 'w' : '-'}${bits & 1 ? 'x' : '-'}`;
}

/** Rows of cells as aligned columns, two spaces apart (the last column left ragged). */
export function table(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd());
}

/** Splits a command line into words (no quoting is needed by any command). */
export function words(line: string): string[] {
  return line.trim().split(/\s+/).filter((w) => w !== '');
}

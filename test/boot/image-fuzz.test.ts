// Image fuzzing: a small valid image (kernel, sigma0, wortel, hello: test/boot/images/fuzz.json)
// is built once, then mutated L4HURD_FUZZ_IMAGES times (default 2,000; the seed from
// L4HURD_FUZZ_SEED): bit flips anywhere and concentrated in the header and module table,
// truncations, extensions, edited header and table fields (offsets, lengths, kinds, counts,
// checksums, names, command lines; the checksums recomputed or not), and corrupted payloads
// behind recomputed checksums, so broken JavaScript reaches the vm evaluation.
//
// For every mutant, bootImage either completes with some exit status or throws ImageError or
// LoadError with a one-line message; nothing else may escape, and nothing may hang (a cycle
// limit and 32 MiB of RAM keep the boots that stay valid cheap). A handful of mutants also go
// through `l4hurd boot`, which must refuse the bad ones with exit status 2 and one line on
// stderr, without a stack trace.
//
// Semantic corruption (a changed letter, random bytes) is aimed only at sigma0, wortel and
// hello, whose loops the step budget stops (tools/guest-context.ts): a corrupted kernel that
// evaluates can fail as a kernel bug, or loop, since the kernel's code is trusted and not
// instrumented. The kernel's payload gets corruptions that cannot evaluate (truncation, bytes
// that are not UTF-8, stray brackets at its ends) or another module's bundle.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage } from '../../tools/build.ts';
import {
  COMMAND_LINE_BYTES,
  ENTRY_SIZE,
  HEADER_SIZE,
  ImageError,
  MAX_MODULES,
  NAME_BYTES,
  parseImage,
  type ImageModule,
  type ModuleKindName,
} from '../../tools/image.ts';
import { LoadError, bootImage, type BootResult } from '../../tools/loader.ts';
import { SeededRandom, sizeFromEnvironment, timeoutFor } from '../support/random.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CONFIG = join(ROOT, 'test/boot/images/fuzz.json');
const DEFAULT_COUNT = 2000;
const COUNT = sizeFromEnvironment('L4HURD_FUZZ_IMAGES', DEFAULT_COUNT);
const SEED = sizeFromEnvironment('L4HURD_FUZZ_SEED', 0x1a6e);
const BOOT_OPTIONS = { ramBytes: 32 * 1024 * 1024, maxCycles: 5e7 } as const;
const KINDS: readonly ModuleKindName[] = ['kernel', 'sigma0', 'root', 'program', 'data'];

let base: Uint8Array;
let baseModules: ImageModule[];
let tempDir: string;

beforeAll(async () => {
  base = await buildImage(CONFIG);
  baseModules = parseImage(base).map(({ name, kind, commandLine, payload }) => ({ name, kind, commandLine, payload: payload.slice() }));
  tempDir = mkdtempSync(join(tmpdir(), 'l4hurd-fuzz-'));
});

afterAll(() => {
  if (tempDir) rmSync(tempDir, { recursive: true, force: true });
});

// ---- Image surgery ------------------------------------------------------------------------------

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}
function get32(b: Uint8Array, at: number): number {
  return at + 4 <= b.length ? view(b).getUint32(at, true) : 0;
}
function set32(b: Uint8Array, at: number, value: number): void {
  if (at + 4 <= b.length) view(b).setUint32(at, value >>> 0, true);
}
function entryAt(i: number): number {
  return HEADER_SIZE + i * ENTRY_SIZE;
}
/** The module count the header claims, clamped to what can be a table. */
function tableCount(b: Uint8Array): number {
  return Math.min(get32(b, 16), MAX_MODULES);
}
/** Recomputes the module table's CRC (when the table the header describes fits the file). */
function fixTableCrc(b: Uint8Array): void {
  const end = entryAt(get32(b, 16));
  if (get32(b, 16) <= MAX_MODULES && end <= b.length) set32(b, 32, crc32(b.subarray(HEADER_SIZE, end)));
}
/** Recomputes module i's payload CRC (when its payload lies inside the file). */
function fixPayloadCrc(b: Uint8Array, i: number): void {
  const entry = entryAt(i);
  if (entry + ENTRY_SIZE > b.length) return;
  const offset = get32(b, entry + 36);
  const length = get32(b, entry + 40);
  if (offset + length <= b.length) set32(b, entry + 44, crc32(b.subarray(offset, offset + length)));
}
function flipBit(b: Uint8Array, bit: number): void {
  b[bit >>> 3]! ^= 1 << (bit & 7);
}
function randomBytes(rng: SeededRandom, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = rng.below(256);
  return out;
}
function pick<T>(rng: SeededRandom, items: readonly T[]): T {
  return items[rng.below(items.length)]!;
}
function extended(b: Uint8Array, extra: Uint8Array): Uint8Array {
  const out = new Uint8Array(b.length + extra.length);
  out.set(b);
  out.set(extra, b.length);
  return out;
}
/** A fixed-size, NUL-padded field holding `bytes` (cut to the field). */
function field(bytes: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size);
  out.set(bytes.subarray(0, size));
  return out;
}
const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

/** An interesting 32-bit value for a header or table word. */
function interestingWord(rng: SeededRandom, b: Uint8Array, current: number): number {
  const others = Array.from({ length: tableCount(b) * 4 }, (_, k) => get32(b, entryAt(k >> 2) + 32 + 4 * (k & 3)));
  switch (rng.below(12)) {
    case 0:
      return 0;
    case 1:
      return 1;
    case 2:
      return 0xffffffff;
    case 3:
      return 0x80000000;
    case 4:
      return current + 1;
    case 5:
      return current - 1;
    case 6:
      return current + 4096;
    case 7:
      return current - 4096;
    case 8:
      return b.length;
    case 9:
      return others.length > 0 ? pick(rng, others) : 0;
    case 10:
      return current ^ (1 << rng.below(32));
    default:
      return rng.next();
  }
}

// ---- Mutators -------------------------------------------------------------------------------------

interface Mutant {
  readonly what: string;
  readonly bytes: Uint8Array;
}

type Mutator = (rng: SeededRandom) => Mutant;

function flipsAnywhere(rng: SeededRandom): Mutant {
  const b = base.slice();
  const n = 1 + rng.below(8);
  for (let i = 0; i < n; i++) flipBit(b, rng.below(b.length * 8));
  return { what: `${n} bit flips anywhere`, bytes: b };
}

function flipsInHeaderAndTable(rng: SeededRandom): Mutant {
  const b = base.slice();
  const n = 1 + rng.below(4);
  const end = entryAt(baseModules.length);
  for (let i = 0; i < n; i++) flipBit(b, rng.below(end * 8));
  const fix = rng.below(2) === 0;
  if (fix) fixTableCrc(b);
  return { what: `${n} bit flips in the header and table${fix ? ', table CRC recomputed' : ''}`, bytes: b };
}

function truncation(rng: SeededRandom): Mutant {
  const tableEnd = entryAt(baseModules.length);
  const length = pick(rng, [
    () => rng.below(HEADER_SIZE),
    () => HEADER_SIZE + rng.below(tableEnd - HEADER_SIZE),
    () => rng.below(base.length),
    () => base.length - 1 - rng.below(64),
  ])();
  const b = base.slice(0, length);
  const fix = rng.below(2) === 0;
  if (fix) set32(b, 28, length);
  return { what: `truncated to ${length} bytes${fix ? ', header length updated' : ''}`, bytes: b };
}

function extension(rng: SeededRandom): Mutant {
  const size = 1 + rng.below(3 * 4096);
  const zeros = rng.below(2) === 0;
  const b = extended(base, zeros ? new Uint8Array(size) : randomBytes(rng, size));
  const fix = rng.below(2) === 0;
  if (fix) set32(b, 28, b.length);
  return { what: `extended by ${size} ${zeros ? 'zero' : 'random'} bytes${fix ? ', header length updated' : ''}`, bytes: b };
}

const HEADER_FIELDS: ReadonlyArray<[string, number]> = [
  ['magic', 0],
  ['magic', 4],
  ['version', 8],
  ['header size', 12],
  ['count', 16],
  ['table offset', 20],
  ['entry size', 24],
  ['image length', 28],
  ['table CRC', 32],
  ['reserved', 36 + 4 * 0],
  ['reserved', 36 + 4 * 3],
  ['reserved', 36 + 4 * 6],
];

function headerField(rng: SeededRandom): Mutant {
  const b = base.slice();
  const [name, at] = pick(rng, HEADER_FIELDS);
  const value = name === 'count' && rng.below(2) === 0 ? pick(rng, [0, 1, 2, 3, 5, 63, 64, 65]) : interestingWord(rng, b, get32(b, at));
  set32(b, at, value);
  const fix = name !== 'table CRC' && rng.below(4) !== 0;
  if (fix) fixTableCrc(b);
  return { what: `header ${name} (+${at}) = 0x${(value >>> 0).toString(16)}${fix ? ', table CRC recomputed' : ''}`, bytes: b };
}

const TABLE_FIELDS: ReadonlyArray<[string, number]> = [
  ['kind', 32],
  ['offset', 36],
  ['length', 40],
  ['payload CRC', 44],
];

function tableField(rng: SeededRandom): Mutant {
  const b = base.slice();
  const i = rng.below(baseModules.length);
  const [name, offset] = pick(rng, TABLE_FIELDS);
  const at = entryAt(i) + offset;
  const value = name === 'kind' && rng.below(2) === 0 ? rng.below(7) : interestingWord(rng, b, get32(b, at));
  set32(b, at, value);
  const fixPayload = name !== 'payload CRC' && rng.below(2) === 0;
  if (fixPayload) fixPayloadCrc(b, i);
  const fixTable = rng.below(5) !== 0;
  if (fixTable) fixTableCrc(b);
  return {
    what: `module ${i} ${name} = 0x${(value >>> 0).toString(16)}${fixPayload ? ', payload CRC recomputed' : ''}${fixTable ? ', table CRC recomputed' : ''}`,
    bytes: b,
  };
}

/** Name or command-line contents: valid, borrowed, control characters, bad UTF-8, junk after NUL, full. */
function textBytes(rng: SeededRandom, size: number): [string, Uint8Array] {
  const printable = (n: number): string => Array.from({ length: n }, () => String.fromCharCode(0x20 + rng.below(95))).join('');
  switch (rng.below(10)) {
    case 0:
      return ['empty', new Uint8Array(0)];
    case 1:
      return ['another module name', utf8(pick(rng, baseModules).name)];
    case 2:
      return ['printable', utf8(printable(1 + rng.below(size - 1)))];
    case 3:
      return ['a newline inside', utf8(`line\none${rng.below(10)}`)];
    case 4:
      return ['a carriage return and a tab', utf8(`a\rb\tc`)];
    case 5:
      return ['non-ASCII UTF-8', utf8(pick(rng, ['héllo', 'wörtel', 'ζ', '\u{1f600}', '\u2028x']))];
    case 6:
      return ['bad UTF-8', new Uint8Array([0x61, 0xc3, 0x28, 0xff])];
    case 7:
      return ['junk after the NUL', new Uint8Array([0x61, 0, 0x62])];
    case 8:
      return ['the whole field, no NUL', utf8('x'.repeat(size))];
    default:
      return ['random bytes', randomBytes(rng, 1 + rng.below(size))];
  }
}

function nameOrCommandLine(rng: SeededRandom): Mutant {
  const b = base.slice();
  const i = rng.below(baseModules.length);
  const isName = rng.below(2) === 0;
  const size = isName ? NAME_BYTES : COMMAND_LINE_BYTES;
  const [kind, bytes] = textBytes(rng, size);
  b.set(field(bytes, size), entryAt(i) + (isName ? 0 : 48));
  const fix = rng.below(8) !== 0;
  if (fix) fixTableCrc(b);
  return { what: `module ${i} ${isName ? 'name' : 'command line'}: ${kind}${fix ? ', table CRC recomputed' : ''}`, bytes: b };
}

/**
 * Module-level edits behind valid checksums: lays the modules out as encodeImage does, but without
 * its checks, so the module set itself may be wrong (two roots, no kernel, a bad name...).
 */
function withModules(modules: readonly ImageModule[]): Uint8Array {
  const align = (n: number): number => Math.ceil(n / 4096) * 4096;
  const tableEnd = entryAt(modules.length);
  let next = align(tableEnd);
  const offsets = modules.map((m) => {
    const at = next;
    next = align(at + m.payload.length);
    return at;
  });
  const length = modules.length === 0 ? tableEnd : offsets[offsets.length - 1]! + modules[modules.length - 1]!.payload.length;
  const b = new Uint8Array(length);
  b.set(utf8('L4HURDIM'), 0);
  set32(b, 8, 1);
  set32(b, 12, HEADER_SIZE);
  set32(b, 16, modules.length);
  set32(b, 20, HEADER_SIZE);
  set32(b, 24, ENTRY_SIZE);
  set32(b, 28, length);
  modules.forEach((m, i) => {
    const entry = entryAt(i);
    b.set(field(utf8(m.name), NAME_BYTES), entry);
    set32(b, entry + 32, KINDS.indexOf(m.kind) + 1);
    set32(b, entry + 36, offsets[i]!);
    set32(b, entry + 40, m.payload.length);
    set32(b, entry + 44, crc32(m.payload));
    b.set(field(utf8(m.commandLine), COMMAND_LINE_BYTES), entry + 48);
    b.set(m.payload, offsets[i]!);
  });
  fixTableCrc(b);
  return b;
}

/** Corruptions of a bundle that cannot evaluate, whatever module it is. */
function brokenBundle(rng: SeededRandom, payload: Uint8Array): [string, Uint8Array] {
  switch (rng.below(5)) {
    case 0: {
      // The IIFE is never closed: anything short of the last two lines is a syntax error.
      const length = rng.below(payload.length - 8);
      return [`cut to ${length} bytes`, payload.slice(0, length)];
    }
    case 1: {
      const at = rng.below(payload.length);
      const copy = payload.slice();
      copy.set(randomBytes(rng, 1 + rng.below(8)).map((byte, k) => (k === 0 ? 0xff : byte)).subarray(0, payload.length - at), at);
      return [`0xff and random bytes at ${at}`, copy];
    }
    case 2:
      return ['a stray } in front', extended(utf8('}\n'), payload)];
    case 3:
      return ['a stray ( at the end', extended(payload, utf8('\n('))];
    default:
      return ['emptied', new Uint8Array(0)];
  }
}

/** Corruptions that may evaluate and fail later (for sigma0, wortel and hello only). */
function corruptedBundle(rng: SeededRandom, payload: Uint8Array): [string, Uint8Array] {
  const copy = payload.slice();
  if (rng.below(2) === 0) {
    // One letter changed: a misspelt identifier, keyword, property or string.
    let at = rng.below(copy.length);
    while (at < copy.length && !/[A-Za-z]/.test(String.fromCharCode(copy[at]!))) at++;
    if (at === copy.length) return brokenBundle(rng, payload);
    const upper = copy[at]! < 0x61;
    const letter = (copy[at]! - (upper ? 0x41 : 0x61) + 1 + rng.below(25)) % 26;
    copy[at] = letter + (upper ? 0x41 : 0x61);
    return [`letter at ${at} changed`, copy];
  }
  const at = rng.below(copy.length);
  const span = randomBytes(rng, 1 + rng.below(4));
  copy.set(span.subarray(0, copy.length - at), at);
  return [`random bytes at ${at}`, copy];
}

function payloadCorruption(rng: SeededRandom): Mutant {
  const modules = baseModules.map((m) => ({ ...m }));
  const i = rng.below(modules.length);
  const module = modules[i]!;
  const [what, payload] = module.kind !== 'kernel' && rng.below(3) !== 0 ? corruptedBundle(rng, module.payload) : brokenBundle(rng, module.payload);
  modules[i] = { ...module, payload };
  return { what: `${module.name} payload ${what}, checksums recomputed`, bytes: withModules(modules) };
}

function structural(rng: SeededRandom): Mutant {
  const modules = baseModules.map((m) => ({ ...m }));
  switch (rng.below(7)) {
    case 0: {
      // Two modules trade payloads (the kernel's bundle as a program, sigma0's as the root...).
      const i = rng.below(modules.length);
      const j = (i + 1 + rng.below(modules.length - 1)) % modules.length;
      [modules[i], modules[j]] = [{ ...modules[i]!, payload: modules[j]!.payload }, { ...modules[j]!, payload: modules[i]!.payload }];
      return { what: `${modules[i]!.name} and ${modules[j]!.name} trade payloads`, bytes: withModules(modules) };
    }
    case 1: {
      const i = rng.below(modules.length);
      const kind = pick(rng, KINDS);
      modules[i] = { ...modules[i]!, kind };
      return { what: `${modules[i]!.name} becomes a ${kind} module`, bytes: withModules(modules) };
    }
    case 2: {
      const copies = 1 + rng.below(3);
      for (let k = 0; k < copies; k++) modules.push({ ...modules[3]!, name: `hello${k}`, commandLine: `copy ${k}` });
      return { what: `${copies} more copies of hello`, bytes: withModules(modules) };
    }
    case 3: {
      const order = modules.map((m) => ({ m, key: rng.next() })).sort((a, c) => a.key - c.key).map(({ m }) => m);
      return { what: `modules in the order ${order.map((m) => m.name).join(', ')}`, bytes: withModules(order) };
    }
    case 4: {
      modules.push({ name: 'blob', kind: 'data', commandLine: '', payload: randomBytes(rng, rng.below(3 * 4096)) });
      return { what: 'a data module added', bytes: withModules(modules) };
    }
    case 5: {
      const [kind, bytes] = textBytes(rng, COMMAND_LINE_BYTES);
      modules[3] = { ...modules[3]!, commandLine: new TextDecoder().decode(bytes) };
      return { what: `hello's command line: ${kind}`, bytes: withModules(modules) };
    }
    default: {
      const i = rng.below(modules.length);
      const [dropped] = modules.splice(i, 1);
      return { what: `${dropped!.name} dropped`, bytes: withModules(modules) };
    }
  }
}

const MUTATORS: ReadonlyArray<[Mutator, number]> = [
  [flipsAnywhere, 4],
  [flipsInHeaderAndTable, 4],
  [truncation, 2],
  [extension, 2],
  [headerField, 3],
  [tableField, 4],
  [nameOrCommandLine, 3],
  [payloadCorruption, 3],
  [structural, 2],
];

function mutate(rng: SeededRandom): Mutant {
  let roll = rng.below(MUTATORS.reduce((sum, [, weight]) => sum + weight, 0));
  for (const [mutator, weight] of MUTATORS) {
    if (roll < weight) return mutator(rng);
    roll -= weight;
  }
  throw new Error('unreachable');
}

// ---- Booting a mutant --------------------------------------------------------------------------------

type Outcome =
  | { readonly kind: 'booted'; readonly result: BootResult }
  | { readonly kind: 'refused'; readonly error: ImageError | LoadError }
  | { readonly kind: 'escaped'; readonly error: unknown };

function tryBoot(bytes: Uint8Array): Outcome {
  try {
    return { kind: 'booted', result: bootImage(bytes, BOOT_OPTIONS) };
  } catch (error) {
    if (error instanceof ImageError || error instanceof LoadError) return { kind: 'refused', error };
    return { kind: 'escaped', error };
  }
}

/** What is wrong with an outcome, or null. */
function problem(outcome: Outcome): string | null {
  if (outcome.kind === 'escaped') {
    const error = outcome.error;
    try {
      return `escaped: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`;
    } catch {
      return 'escaped: a value that cannot be shown';
    }
  }
  if (outcome.kind === 'refused') {
    const message = outcome.error.message;
    if (message.length === 0 || /[\n\r\u2028\u2029]/.test(message)) return `${outcome.error.name} with a message that is not one line: ${JSON.stringify(message)}`;
    return null;
  }
  const status = outcome.result.exitStatus;
  if (!Number.isInteger(status) || status < 0 || status > 0xffffffff) return `booted with exit status ${String(status)}`;
  return null;
}

// ---- Tests ----------------------------------------------------------------------------------------

describe('image fuzzing', () => {
  it('the unmutated image boots: hello prints its command line, wortel shuts down with 0', () => {
    // The test's own encoder lays out what the builder does.
    expect(Buffer.from(withModules(baseModules)).equals(Buffer.from(base))).toBe(true);
    const result = bootImage(base, BOOT_OPTIONS);
    expect(result.exitStatus).toBe(0);
    expect(result.output).toContain('hello: hello, world (fuzz)\n');
    expect(result.output).toContain('wortel: all programs done, shutting down with status 0\n');
    expect(result.output).not.toContain('halted');
  });

  it('corrupted JavaScript behind valid checksums is refused as LoadError or runs into a halted thread', () => {
    const js = (text: string): Uint8Array => utf8(text);
    const hello = (payload: Uint8Array): Uint8Array => withModules(baseModules.map((m) => (m.name === 'hello' ? { ...m, payload } : m)));
    const kernel = (payload: Uint8Array): Uint8Array => withModules(baseModules.map((m) => (m.kind === 'kernel' ? { ...m, payload } : m)));
    const refusals: ReadonlyArray<[string, Uint8Array, RegExp]> = [
      ['a syntax error', hello(js('var l4hurdModule = (() => {')), /^module hello: does not parse as JavaScript: Unexpected token \(1:27\)$/],
      ['an exception at evaluation, message over two lines', hello(js('throw new Error("first line\\nsecond line")')), /^module hello: cannot be evaluated: Error: first line$/],
      ['a thrown string', hello(js('throw "just a string"')), /^module hello: cannot be evaluated: just a string$/],
      ['eval at evaluation', hello(js('eval("1")')), /^module hello: cannot be evaluated: EvalError: Code generation from strings disallowed/],
      ['an endless loop at evaluation', hello(js('for (;;) {}')), /^module hello: cannot be evaluated: StepLimitError: ran 10000000 steps while the clock stood still/],
      ['a `with` statement', hello(js('with ({}) {}')), /^module hello: uses a `with` statement \(line 1, column 1 of the bundle\)$/],
      ['an async function', hello(js('var f = async () => 1;')), /^module hello: uses an async function: programs are synchronous \(line 1, column 9 of the bundle\)$/],
      ['the step hook\'s name', hello(js('var __l4hurd_step = 1;')), /^module hello: uses a name starting with __l4hurd_, which the loader reserves \(line 1, column 5 of the bundle\)$/],
      ['no exports', hello(js('var x = 1;')), /^module hello: its bundle exported nothing$/],
      ['a number for exports', hello(js('var l4hurdModule = 5;')), /^module hello: its bundle exported nothing$/],
      ['no default export', hello(js('var l4hurdModule = { other: 1 };')), /^module hello: its bundle has no default export to run$/],
      ['a default export that throws when read', hello(js('var l4hurdModule = { get default() { throw new Error("no\\nbody"); } };')), /^module hello: cannot be evaluated: Error: no$/],
      ['a thrown value that cannot be shown', hello(js('throw { toString() { throw new Error("no"); } };')), /^module hello: cannot be evaluated: an exception that cannot be shown$/],
      ['a thrown error named over two lines', hello(js('throw { name: "Bad\\rName", message: "m" };')), /^module hello: cannot be evaluated: Bad$/],
      ['bytes that are not UTF-8', hello(new Uint8Array([0x76, 0x61, 0x72, 0xff, 0xfe])), /^module hello: payload is not UTF-8 JavaScript$/],
      ['a kernel without a Kernel export', kernel(js('var l4hurdModule = { default: function* () {} };')), /^module kernel: not a kernel \(no Kernel export\)$/],
      ['a kernel whose constructor throws', kernel(js('var l4hurdModule = { Kernel: class { constructor() { throw new RangeError("nope\\nnope"); } } };')), /^the kernel did not start: RangeError: nope$/],
    ];
    for (const [what, bytes, pattern] of refusals) {
      const outcome = tryBoot(bytes);
      expect(problem(outcome), what).toBeNull();
      expect(outcome.kind, what).toBe('refused');
      if (outcome.kind === 'refused') expect(outcome.error.message, what).toMatch(pattern);
    }

    // Bundles that evaluate but fail when they run: the kernel halts the thread, or the runtime
    // catches the program's exception and reports status 1.
    const runtime = (body: string): Uint8Array => hello(js(`var l4hurdModule = { default: function* (env) { ${body} } };`));
    const halted = tryBoot(runtime('throw new TypeError("broken\\nprogram");'));
    expect(halted.kind).toBe('booted');
    if (halted.kind === 'booted') {
      expect(halted.result.output).toMatch(/kernel: thread 1000\.1 halted: program raised TypeError: broken\n/);
      expect(halted.result.exitStatus).toBe(4);
    }
    const unshowable = tryBoot(runtime('throw Object.create(null);'));
    expect(unshowable.kind).toBe('booted');
    if (unshowable.kind === 'booted') {
      expect(unshowable.result.output).toContain('kernel: thread 1000.1 halted: program raised an exception that cannot be shown\n');
      expect(unshowable.result.exitStatus).toBe(4);
    }
    const yieldedJunk = tryBoot(runtime('yield 42;'));
    expect(yieldedJunk.kind).toBe('booted');
    if (yieldedJunk.kind === 'booted') {
      expect(yieldedJunk.result.output).toContain('kernel: thread 1000.1 halted: program yielded outside the environment\n');
      expect(yieldedJunk.result.exitStatus).toBe(4);
    }
    // hello with a misspelt call inside main: the runtime's catch reports status 1 to wortel.
    const source = new TextDecoder().decode(baseModules[3]!.payload);
    expect(source).toContain('yield* print(env, `hello: hello, world');
    const misspelt = tryBoot(hello(js(source.replace('yield* print(env, `hello: hello, world', 'yield* prinx(env, `hello: hello, world'))));
    expect(misspelt.kind).toBe('booted');
    if (misspelt.kind === 'booted') {
      expect(misspelt.result.output).toMatch(/\nhello: error: [^\n]*not [^\n]*\nwortel: hello exited with status 1\n/);
      expect(misspelt.result.exitStatus).toBe(1);
    }
  });

  it(`${COUNT} seeded mutations (seed ${SEED}): each boots or is refused with a one-line ImageError or LoadError`, () => {
    const rng = new SeededRandom(SEED);
    const failures: string[] = [];
    const tally = { booted: 0, halted: 0, refusedImage: 0, refusedLoad: 0, evaluation: 0 };
    const statuses = new Map<number, number>();
    let slowest = { ms: 0, what: '' };
    for (let n = 0; n < COUNT; n++) {
      const mutant = mutate(rng);
      const start = performance.now();
      const outcome = tryBoot(mutant.bytes);
      const ms = performance.now() - start;
      if (ms > slowest.ms) slowest = { ms, what: mutant.what };
      const wrong = problem(outcome);
      if (wrong) failures.push(`#${n} (${mutant.what}): ${wrong}`);
      if (outcome.kind === 'booted') {
        tally.booted++;
        if (outcome.result.output.includes(' halted: ')) tally.halted++;
        statuses.set(outcome.result.exitStatus, (statuses.get(outcome.result.exitStatus) ?? 0) + 1);
      } else if (outcome.kind === 'refused') {
        if (outcome.error instanceof ImageError) tally.refusedImage++;
        else tally.refusedLoad++;
        if (/cannot be evaluated|does not parse/.test(outcome.error.message)) tally.evaluation++;
      }
    }
    expect(failures.slice(0, 10)).toEqual([]);
    if (COUNT >= 1000) {
      // The mix reaches every stage: the parser, the evaluation, and full boots, some of them
      // with halted threads.
      expect(tally.refusedImage).toBeGreaterThan(COUNT / 4);
      expect(tally.refusedLoad).toBeGreaterThan(COUNT / 50);
      expect(tally.evaluation).toBeGreaterThan(COUNT / 100);
      expect(tally.booted).toBeGreaterThan(COUNT / 20);
      expect(tally.halted).toBeGreaterThan(0);
      expect(statuses.get(0)).toBeGreaterThan(0);
    }
    // A summary for whoever raises the count.
    console.info(`image fuzz: ${COUNT} mutants, ${JSON.stringify(tally)}, exit statuses ${JSON.stringify(Object.fromEntries(statuses))}, slowest ${slowest.ms.toFixed(0)} ms (${slowest.what})`);
  }, timeoutFor(COUNT, DEFAULT_COUNT));

  describe('l4hurd boot on mutated image files', () => {
    beforeAll(() => {
      // test/global-setup.ts bundles the CLI once before the suite (rebuilding it here would race
      // the other files that spawn it).
      if (!existsSync(join(ROOT, 'dist/l4hurd.mjs'))) throw new Error('dist/l4hurd.mjs is missing: run `node tools/build-cli.mjs` (test/global-setup.ts does)');
    });

    it('refuses bad images with exit status 2 and one line on stderr, boots a good one', async () => {
      const mutants: Array<{ what: string; bytes: Uint8Array; refused: boolean }> = [];
      const rng = new SeededRandom(SEED ^ 0x5a5a);
      const add = (what: string, bytes: Uint8Array): void => {
        const outcome = tryBoot(bytes);
        expect(problem(outcome), what).toBeNull();
        mutants.push({ what, bytes, refused: outcome.kind === 'refused' });
      };
      const b = (): Uint8Array => base.slice();
      add('bad magic', ((x) => ((x[0] = 0x58), x))(b()));
      add('truncated inside the table', base.slice(0, 200));
      add('table checksum wrong', ((x) => (set32(x, 32, get32(x, 32) ^ 1), x))(b()));
      add('payload checksum wrong', ((x) => (flipBit(x, get32(x, entryAt(1) + 36) * 8 + 77), x))(b()));
      add('a name with a newline', ((x) => (x.set(field(utf8('hel\nlo'), NAME_BYTES), entryAt(3)), fixTableCrc(x), x))(b()));
      add('unknown kind', ((x) => (set32(x, entryAt(2) + 32, 9), fixTableCrc(x), x))(b()));
      add('hello payload not UTF-8', withModules(baseModules.map((m) => (m.name === 'hello' ? { ...m, payload: new Uint8Array([0xff]) } : m))));
      add('hello payload a syntax error', withModules(baseModules.map((m) => (m.name === 'hello' ? { ...m, payload: utf8('}{') } : m))));
      add('hello throws over two lines at evaluation', withModules(baseModules.map((m) => (m.name === 'hello' ? { ...m, payload: utf8('throw new Error("a\\nb")') } : m))));
      // Seeded ones until three more refusals.
      for (let k = 0; mutants.filter((m) => m.refused).length < 12 && k < 100; k++) {
        const mutant = mutate(rng);
        if (tryBoot(mutant.bytes).kind === 'refused') add(mutant.what, mutant.bytes);
      }
      add('extended, header length updated (still valid)', ((x) => (set32(x, 28, x.length), x))(extended(base, new Uint8Array(100))));
      expect(mutants.filter((m) => m.refused).length).toBeGreaterThanOrEqual(10);

      const results = await Promise.all(
        mutants.map(async ({ what, bytes, refused }, i) => {
          const file = join(tempDir, `mutant-${i}.img`);
          writeFileSync(file, bytes);
          const run = await spawnCli(['boot', file, '--ram', '32M', '--max-cycles', '50000000']);
          return { what, refused, ...run };
        }),
      );
      for (const { what, refused, status, stdout, stderr } of results) {
        if (refused) {
          expect({ what, status }).toEqual({ what, status: 2 });
          expect(stderr, what).toMatch(/^l4hurd boot: [^\n]+\n$/);
          expect(stderr, what).not.toMatch(/^ {4}at /m);
        } else {
          expect({ what, status }).toEqual({ what, status: 0 });
          expect(stderr, what).toBe('');
          expect(stdout, what).toContain('hello: hello, world (fuzz)');
        }
      }
      expect(readdirSync(tempDir).length).toBe(mutants.length);
    });
  });
});

function spawnCli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/l4hurd.mjs'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (status) => resolvePromise({ status, stdout, stderr }));
  });
}

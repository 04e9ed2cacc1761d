// The boot image: one file holding the kernel and the user programs, and its validation.
//
// Layout (all integers little-endian u32; offsets from the start of the file):
//
//   header (64 bytes)
//     0   magic "L4HURDIM" (8 bytes)
//     8   format version (1)
//     12  header size (64)
//     16  module count (1 to 64)
//     20  module table offset (64)
//     24  module table entry size (128)
//     28  image length (the whole file)
//     32  CRC-32 of the module table
//     36  reserved, 0 (28 bytes)
//   module table: one 128-byte entry per module
//     0   name, UTF-8, NUL-padded (32 bytes; 1 to 31 bytes of [A-Za-z0-9._-])
//     32  kind: 1 kernel, 2 sigma0, 3 root, 4 program, 5 data
//     36  payload offset (4 KiB aligned)
//     40  payload length
//     44  CRC-32 of the payload
//     48  command line, UTF-8, NUL-padded (80 bytes; up to 79 bytes)
//   payloads, each starting on a 4 KiB boundary, in table order
//
// Kernel, sigma0, root and program payloads are JavaScript bundles (esbuild, IIFE); data payloads
// are raw bytes. An image has exactly one kernel, one sigma0 and one root module.
//
// parseImage checks everything before anything runs and throws ImageError with a one-line
// message naming the first problem found.

import { TextDecoder } from 'node:util';
import { crc32 } from 'node:zlib';

export const IMAGE_MAGIC = 'L4HURDIM';
export const IMAGE_VERSION = 1;
export const HEADER_SIZE = 64;
export const ENTRY_SIZE = 128;
export const MAX_MODULES = 64;
export const NAME_BYTES = 32;
export const COMMAND_LINE_BYTES = 80;
export const PAYLOAD_ALIGN = 4096;
/** The largest image the format allows: its length is a u32. */
export const MAX_IMAGE_BYTES = 0xffffffff;

export const ModuleKind = { kernel: 1, sigma0: 2, root: 3, program: 4, data: 5 } as const;
export type ModuleKindName = keyof typeof ModuleKind;
const KIND_NAMES: Record<number, ModuleKindName> = { 1: 'kernel', 2: 'sigma0', 3: 'root', 4: 'program', 5: 'data' };

export interface ImageModule {
  readonly name: string;
  readonly kind: ModuleKindName;
  readonly commandLine: string;
  readonly payload: Uint8Array;
}

export interface ParsedModule extends ImageModule {
  /** Where the payload sits in the image file. */
  readonly offset: number;
}

/** A malformed image: the message names the problem in one line. */
export class ImageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageError';
  }
}

const NAME_PATTERN = /^[A-Za-z0-9._-]{1,31}$/;

/** Builds the image bytes from its modules (validated as parseImage would). */
export function encodeImage(modules: readonly ImageModule[]): Uint8Array {
  checkModuleSet(modules.map((m) => ({ name: m.name, kind: m.kind, commandLine: m.commandLine })));
  const tableEnd = HEADER_SIZE + modules.length * ENTRY_SIZE;
  let offset = align(tableEnd);
  const offsets = modules.map((m) => {
    const at = offset;
    offset = align(at + m.payload.length);
    return at;
  });
  const length = modules.length === 0 ? tableEnd : offsets[offsets.length - 1]! + modules[modules.length - 1]!.payload.length;
  if (length > MAX_IMAGE_BYTES) throw new ImageError(`the image would be ${length} bytes: the format allows at most ${MAX_IMAGE_BYTES}`);
  const image = new Uint8Array(length);
  const view = new DataView(image.buffer);
  const encoder = new TextEncoder();
  modules.forEach((m, i) => {
    const entry = HEADER_SIZE + i * ENTRY_SIZE;
    image.set(encoder.encode(m.name), entry);
    view.setUint32(entry + 32, ModuleKind[m.kind], true);
    view.setUint32(entry + 36, offsets[i]!, true);
    view.setUint32(entry + 40, m.payload.length, true);
    view.setUint32(entry + 44, crc32(m.payload), true);
    image.set(encoder.encode(m.commandLine), entry + 48);
    image.set(m.payload, offsets[i]!);
  });
  image.set(encoder.encode(IMAGE_MAGIC), 0);
  view.setUint32(8, IMAGE_VERSION, true);
  view.setUint32(12, HEADER_SIZE, true);
  view.setUint32(16, modules.length, true);
  view.setUint32(20, HEADER_SIZE, true);
  view.setUint32(24, ENTRY_SIZE, true);
  view.setUint32(28, length, true);
  view.setUint32(32, crc32(image.subarray(HEADER_SIZE, tableEnd)), true);
  return image;
}

/** Validates an image and returns its modules. Throws ImageError. */
export function parseImage(image: Uint8Array): ParsedModule[] {
  if (image.length < HEADER_SIZE) throw new ImageError(`image truncated: ${image.length} bytes, the header alone is ${HEADER_SIZE}`);
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const u32 = (at: number): number => view.getUint32(at, true);
  const magic = new TextDecoder().decode(image.subarray(0, 8));
  if (magic !== IMAGE_MAGIC) throw new ImageError('not an l4hurd image: bad magic');
  if (u32(8) !== IMAGE_VERSION) throw new ImageError(`unsupported image format version ${u32(8)} (this l4hurd reads version ${IMAGE_VERSION})`);
  if (u32(12) !== HEADER_SIZE || u32(20) !== HEADER_SIZE || u32(24) !== ENTRY_SIZE) throw new ImageError('bad header: unexpected header, table offset or entry size');
  const count = u32(16);
  if (count < 1 || count > MAX_MODULES) throw new ImageError(`bad header: ${count} modules (1 to ${MAX_MODULES} allowed)`);
  const length = u32(28);
  if (length !== image.length) throw new ImageError(length > image.length ? `image truncated: header says ${length} bytes, file has ${image.length}` : `image length mismatch: header says ${length} bytes, file has ${image.length}`);
  const tableEnd = HEADER_SIZE + count * ENTRY_SIZE;
  if (tableEnd > image.length) throw new ImageError('image truncated inside the module table');
  for (let i = 36; i < HEADER_SIZE; i++) if (image[i] !== 0) throw new ImageError('bad header: reserved bytes are not zero');
  if (crc32(image.subarray(HEADER_SIZE, tableEnd)) !== u32(32)) throw new ImageError('module table checksum mismatch');

  const decoder = new TextDecoder('utf-8', { fatal: true });
  const modules: ParsedModule[] = [];
  for (let i = 0; i < count; i++) {
    const entry = HEADER_SIZE + i * ENTRY_SIZE;
    const name = readString(decoder, image.subarray(entry, entry + NAME_BYTES), `module ${i}: name`);
    const label = `module ${i} (${shown(name) || 'unnamed'})`;
    const kind = KIND_NAMES[u32(entry + 32)];
    if (!kind) throw new ImageError(`${label}: unknown kind ${u32(entry + 32)}`);
    const offset = u32(entry + 36);
    const size = u32(entry + 40);
    if (offset % PAYLOAD_ALIGN !== 0 || offset < tableEnd) throw new ImageError(`${label}: payload offset ${offset} is not a 4 KiB boundary after the table`);
    if (offset + size > image.length) throw new ImageError(`${label}: payload [${offset}, +${size}) lies outside the ${image.length}-byte file`);
    const payload = image.subarray(offset, offset + size);
    if (crc32(payload) !== u32(entry + 44)) throw new ImageError(`${label}: payload checksum mismatch`);
    const commandLine = readString(decoder, image.subarray(entry + 48, entry + 48 + COMMAND_LINE_BYTES), `${label}: command line`);
    modules.push({ name, kind, commandLine, payload, offset });
  }
  const sorted = [...modules].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const previous = sorted[i - 1]!;
    if (previous.offset + previous.payload.length > sorted[i]!.offset) throw new ImageError(`modules ${shown(previous.name)} and ${shown(sorted[i]!.name)} overlap`);
  }
  checkModuleSet(modules);
  return modules;
}

/** Names, kinds and command lines: one kernel, sigma0 and root; unique well-formed names. */
export function checkModuleSet(modules: ReadonlyArray<{ name: string; kind: ModuleKindName; commandLine: string }>): void {
  const seen = new Set<string>();
  for (const m of modules) {
    if (!NAME_PATTERN.test(m.name)) throw new ImageError(`bad module name '${shown(m.name)}': 1 to 31 of A-Z a-z 0-9 . _ -`);
    if (seen.has(m.name)) throw new ImageError(`module name '${m.name}' is used twice`);
    seen.add(m.name);
    if (new TextEncoder().encode(m.commandLine).length >= COMMAND_LINE_BYTES) throw new ImageError(`module ${m.name}: command line longer than ${COMMAND_LINE_BYTES - 1} bytes`);
    if (!(m.kind in ModuleKind)) throw new ImageError(`module ${m.name}: unknown kind '${String(m.kind)}'`);
  }
  for (const kind of ['kernel', 'sigma0', 'root'] as const) {
    const count = modules.filter((m) => m.kind === kind).length;
    if (count !== 1) throw new ImageError(`an image needs exactly one ${kind} module, this one has ${count}`);
  }
}

/** A name as error messages show it: control characters and line separators escaped, so a message stays one line. */
function shown(name: string): string {
  return name.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function readString(decoder: TextDecoder, bytes: Uint8Array, what: string): string {
  const end = bytes.indexOf(0);
  const text = end < 0 ? bytes : bytes.subarray(0, end);
  if (end >= 0 && bytes.subarray(end).some((b) => b !== 0)) throw new ImageError(`${what} has bytes after its terminating NUL`);
  try {
    return decoder.decode(text);
  } catch {
    throw new ImageError(`${what} is not valid UTF-8`);
  }
}

function align(n: number): number {
  return Math.ceil(n / PAYLOAD_ALIGN) * PAYLOAD_ALIGN;
}

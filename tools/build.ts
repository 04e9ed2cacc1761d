// `l4hurd build`: turns an image config into a boot image. Each kernel, sigma0, root and program
// module is bundled by esbuild from its TypeScript entry point into one IIFE script that leaves
// its exports in `l4hurdModule` (the loader reads `default`, and `Kernel` for the kernel); data
// modules are copied as they are.
//
// Config (JSON): { "modules": [ { "name", "kind": kernel|sigma0|root|program|data,
//   "entry": TS file (code modules), "file": any file (data modules), "commandLine" } ] }
// Paths are relative to the config file. Bundles are built for no platform (no Node built-ins
// resolve), so a program that imports one fails to build.
//
// After bundling (which reports syntax errors and unresolvable imports module by module), each
// bundle but the kernel's is put through the loader's step-budget transform (tools/instrument.ts), so what the
// loader would refuse (an async function, import()) fails the build already, and the entry
// points are type-checked with the project's tsc and compiler options: a type error, like a
// syntax error or a missing file, stops the build with a one-line message.
//
// Every file read is a regular file of bounded size (`/dev/zero` as a data file or behind an
// import is refused); the image is written whole or not at all (tools/files.ts).

import type { Message, Plugin } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileError, readInputFile, readTextFile, writeOutputFile } from './files.ts';
import { InstrumentError, instrument } from './instrument.ts';
import { ImageError, MAX_IMAGE_BYTES, checkModuleSet, encodeImage, type ImageModule, type ModuleKindName } from './image.ts';

export class BuildError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BuildError';
  }
}

/** One module of an image config. */
export interface ModuleConfig {
  readonly name: string;
  readonly kind: ModuleKindName;
  /** The TypeScript entry point (code modules). */
  readonly entry?: string;
  /** The file whose bytes are the payload (data modules). */
  readonly file?: string;
  readonly commandLine?: string;
}

const KINDS = ['kernel', 'sigma0', 'root', 'program', 'data'];
/** The largest image config read (a config lists at most 64 modules). */
const CONFIG_LIMIT = 1024 * 1024;
/** The largest source file a bundle may include. */
const SOURCE_LIMIT = 64 * 1024 * 1024;
/** esbuild writes source paths into bundles relative to its working directory: fixing it to the
 * project root keeps images byte-identical wherever the build runs (tools/ or the bundled dist/). */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Reads and checks a config file. */
export function readConfig(path: string): ModuleConfig[] {
  let text: string;
  try {
    text = readTextFile(path, `the image config ${path}`, CONFIG_LIMIT);
  } catch (error) {
    if (error instanceof FileError) throw new BuildError(error.message);
    throw error;
  }
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (error) {
    throw new BuildError(`${path}: not valid JSON: ${(error as Error).message}`);
  }
  if (config === null || typeof config !== 'object' || Array.isArray(config)) throw new BuildError(`${path}: not an image config: a JSON object with a "modules" list is needed`);
  const modules = (config as { modules?: unknown }).modules;
  if (!Array.isArray(modules) || modules.length === 0) throw new BuildError(`${path}: "modules" must be a non-empty list`);
  return modules.map((m: unknown, i: number) => {
    const entry = m as Record<string, unknown>;
    const where = `${path}: module ${i}`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new BuildError(`${where}: not an object`);
    if (typeof entry.name !== 'string') throw new BuildError(`${where}: "name" must be a string`);
    if (typeof entry.kind !== 'string' || !KINDS.includes(entry.kind)) throw new BuildError(`${where} (${entry.name}): "kind" must be one of ${KINDS.join(', ')}`);
    const isData = entry.kind === 'data';
    if (isData ? typeof entry.file !== 'string' : typeof entry.entry !== 'string') {
      throw new BuildError(`${where} (${entry.name}): ${isData ? '"file" names the data' : '"entry" names the TypeScript entry point'}`);
    }
    if (entry.commandLine !== undefined && typeof entry.commandLine !== 'string') throw new BuildError(`${where} (${entry.name}): "commandLine" must be a string`);
    return { name: entry.name, kind: entry.kind as ModuleKindName, entry: entry.entry as string | undefined, file: entry.file as string | undefined, commandLine: entry.commandLine as string | undefined };
  });
}

/** Builds the image a config describes; writes it to `out` when given. */
export async function buildImage(configPath: string, out?: string): Promise<Uint8Array> {
  return buildModules(readConfig(configPath), dirname(resolve(configPath)), configPath, out);
}

/**
 * Builds an image of `configs` (paths relative to `base`); `label` names the set in messages
 * (the config's path). Writes it to `out` when given. Throws BuildError.
 */
export async function buildModules(configs: readonly ModuleConfig[], base: string, label: string, out?: string): Promise<Uint8Array> {
  try {
    checkModuleSet(configs.map((c) => ({ name: c.name, kind: c.kind, commandLine: c.commandLine ?? '' })));
  } catch (error) {
    if (error instanceof ImageError) throw new BuildError(`${label}: ${error.message}`);
    throw error;
  }
  const modules: ImageModule[] = [];
  for (const config of configs) {
    let payload: Uint8Array;
    if (config.kind === 'data') {
      const file = resolve(base, config.file!);
      try {
        payload = readInputFile(file, `the data file ${file}`, MAX_IMAGE_BYTES);
      } catch (error) {
        if (error instanceof FileError) throw new BuildError(`module ${config.name}: ${error.message}`);
        throw error;
      }
    } else {
      payload = await bundle(config.name, resolve(base, config.entry!));
      if (config.kind !== 'kernel') {
        try {
          instrument(new TextDecoder().decode(payload));
        } catch (error) {
          if (error instanceof InstrumentError) throw new BuildError(`module ${config.name}: ${error.message}`);
          throw error;
        }
      }
    }
    modules.push({ name: config.name, kind: config.kind, commandLine: config.commandLine ?? '', payload });
  }
  // Bundling reported syntax errors and unresolvable imports module by module; now the types.
  typeCheck(configs.filter((c) => c.kind !== 'data').map((c) => resolve(base, c.entry!)));
  let image: Uint8Array;
  try {
    image = encodeImage(modules);
  } catch (error) {
    if (error instanceof ImageError) throw new BuildError(`${label}: ${error.message}`);
    throw error;
  }
  if (out) {
    try {
      writeOutputFile(out, image, `the image ${out}`);
    } catch (error) {
      if (error instanceof FileError) throw new BuildError(error.message);
      throw error;
    }
  }
  return image;
}

/** A path as messages show it: relative to the working directory when it is inside it. */
function shownPath(path: string): string {
  const shown = relative(process.cwd(), path);
  return shown.startsWith('..') || isAbsolute(shown) ? path : shown;
}

/** Lets esbuild read only regular files of a bounded size: `/dev/zero` behind an import is refused. */
const regularFilesOnly: Plugin = {
  name: 'l4hurd-regular-files',
  setup(build) {
    build.onLoad({ filter: /.*/ }, (args) => {
      if (args.namespace !== 'file') return undefined;
      let why: string | null = null;
      try {
        const stats = statSync(args.path);
        if (stats.isDirectory()) why = 'it is a directory';
        else if (!stats.isFile()) why = 'not a regular file';
        else if (stats.size > SOURCE_LIMIT) why = `${stats.size} bytes, more than the ${SOURCE_LIMIT} bytes a source may have`;
      } catch {
        return undefined; // esbuild reports a missing file itself
      }
      return why ? { errors: [{ text: `cannot read ${shownPath(args.path)}: ${why}` }] } : undefined;
    });
  },
};

async function bundle(name: string, entry: string): Promise<Uint8Array> {
  try {
    // Loaded when first needed: a command that only boots never pays for esbuild's start-up.
    const { build } = await import('esbuild');
    const result = await build({
      entryPoints: [entry],
      bundle: true,
      write: false,
      format: 'iife',
      globalName: 'l4hurdModule',
      platform: 'neutral',
      absWorkingDir: ROOT,
      target: 'es2022',
      charset: 'utf8',
      legalComments: 'none',
      logLevel: 'silent',
      plugins: [regularFilesOnly],
    });
    return result.outputFiles[0]!.contents;
  } catch (error) {
    const errors = (error as { errors?: Message[] }).errors;
    const first = errors?.[0];
    if (first) {
      const where = first.location ? `${shownPath(resolve(ROOT, first.location.file))}:${first.location.line}:${first.location.column}: ` : '';
      throw new BuildError(`module ${name}: ${where}${first.text}`);
    }
    throw new BuildError(`module ${name}: ${(error as Error).message}`);
  }
}

/** Type-checks the entry points (and what they import) with the project's compiler options. */
function typeCheck(entries: readonly string[]): void {
  const tsc = join(ROOT, 'node_modules/.bin/tsc');
  if (!existsSync(tsc)) return; // an install without dev dependencies: esbuild's checks only
  const dir = mkdtempSync(join(tmpdir(), 'l4hurd-typecheck-'));
  try {
    const project = join(dir, 'tsconfig.json');
    writeFileSync(project, JSON.stringify({ extends: join(ROOT, 'tsconfig.json'), compilerOptions: { noEmit: true, typeRoots: [join(ROOT, 'node_modules/@types')] }, include: [], files: entries }));
    const result = spawnSync(tsc, ['-p', project, '--pretty', 'false'], { cwd: ROOT, encoding: 'utf8' });
    if (result.status === 0) return;
    const first = `${result.stdout}${result.stderr}`.split('\n').find((line) => line.includes('error')) ?? 'type check failed';
    throw new BuildError(`type error: ${first.trim()}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

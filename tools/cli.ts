// The l4hurd command line: one subcommand per tool. Bundled by tools/build-cli.mjs.
//
// Exit statuses: what the root task shut down with for `boot`; 2 for usage errors, a malformed
// image or a failed build; 3 when `boot` hits --max-cycles; 4 when the booted system went idle
// without shutting down.

import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runKernelBenchmarks, runMachineBenchmarks, runBootBenchmarks } from './bench.ts';
import { runPhysmemBenchmarks } from './bench-physmem.ts';
import { runSelfPagingBenchmarks } from './bench-selfpaging.ts';
import { BuildError, buildImage } from './build.ts';
import { compareCommand } from './compare.ts';
import { runDemo } from './demo.ts';
import { ImageError } from './image.ts';
import { LoadError, bootImage } from './loader.ts';
import type { TraceEvent, TraceKind } from '../kernel/kernel.ts';

const USAGE = `usage: l4hurd <command> [options]

commands:
  boot [IMAGE] [--ram SIZE] [--profile NAME] [--max-cycles N] [--json] [--trace KINDS]
                   boot an image (default: the default image, built if needed); exits with the
                   root task's status (3: cycle limit reached, 4: idle without shutdown)
                   SIZE: bytes or with K, M, G (e.g. 64M); KINDS: comma-separated from
                   syscall, ipc, fault, map, unmap, switch, halt, or all
  build [--config FILE] [--out FILE]
                   build a boot image from a config (default: images/default.json)
  demo [--profile NAME]
                   a tour of the MMU, then the kernel running sigma0 and two programs
  bench [--json]   run the benchmarks; --json prints one JSON object as the last line
  compare [--json] [--scale N] [--profile NAME]
                   boot the paging workloads self-paging and under the central pager, and
                   print one table of their page-ins, page-outs, faults and cycles
  help             this text
`;

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DEFAULT_CONFIG = join(ROOT, 'images/default.json');
const DEFAULT_IMAGE = join(ROOT, 'dist/default.img');
const TRACE_KINDS: readonly TraceKind[] = ['syscall', 'ipc', 'fault', 'map', 'unmap', 'switch', 'halt'];

class UsageError extends Error {}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'boot':
        return await boot(rest);
      case 'build': {
        const { values } = parseArgs({ args: rest, options: { config: { type: 'string' }, out: { type: 'string' } }, strict: true, allowPositionals: false });
        const config = values.config ?? DEFAULT_CONFIG;
        const out = values.out ?? (values.config ? config.replace(/\.json$/, '') + '.img' : DEFAULT_IMAGE);
        const image = await buildImage(config, out);
        process.stdout.write(`built ${out} (${image.length} bytes)\n`);
        return 0;
      }
      case 'demo': {
        const { values } = parseArgs({ args: rest, options: { profile: { type: 'string' } }, strict: true });
        process.stdout.write(runDemo(values.profile));
        return 0;
      }
      case 'bench': {
        const { values } = parseArgs({ args: rest, options: { json: { type: 'boolean', default: false } }, strict: true });
        const result = { ...runMachineBenchmarks(), ...runKernelBenchmarks(), ...(await runBootBenchmarks(DEFAULT_CONFIG)), ...(await runPhysmemBenchmarks()), ...(await runSelfPagingBenchmarks()) };
        const rows = Object.entries(result).map(([k, v]) => `${k.padEnd(22)} ${formatNumber(v)}`);
        process.stdout.write(rows.join('\n') + '\n');
        if (values.json) process.stdout.write(JSON.stringify(result) + '\n');
        return 0;
      }
      case 'compare':
        return await compareCommand(rest);
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return 0;
      default:
        process.stderr.write(command === undefined ? USAGE : `l4hurd: unknown command '${command}'\n${USAGE}`);
        return 2;
    }
  } catch (error) {
    if (error instanceof UsageError || (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))) {
      process.stderr.write(`l4hurd ${command}: ${error.message}\n${USAGE}`);
      return 2;
    }
    if (error instanceof ImageError || error instanceof LoadError || error instanceof BuildError || error instanceof RangeError) {
      process.stderr.write(`l4hurd ${command}: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}

async function boot(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      ram: { type: 'string' },
      profile: { type: 'string' },
      'max-cycles': { type: 'string' },
      json: { type: 'boolean', default: false },
      trace: { type: 'string' },
    },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length > 1) throw new UsageError('boot takes at most one image');
  const ramBytes = values.ram === undefined ? undefined : parseSize(values.ram);
  const maxCycles = values['max-cycles'] === undefined ? undefined : parseCount(values['max-cycles']);
  const trace = values.trace === undefined ? undefined : traceWriter(values.trace);
  let imagePath = positionals[0];
  if (imagePath === undefined) {
    if (isStale(DEFAULT_IMAGE)) await buildImage(DEFAULT_CONFIG, DEFAULT_IMAGE);
    imagePath = DEFAULT_IMAGE;
  }
  let image: Uint8Array;
  try {
    image = new Uint8Array(readFileSync(imagePath));
  } catch {
    throw new LoadError(`cannot read the image ${imagePath}`);
  }
  const result = bootImage(image, {
    ramBytes,
    profile: values.profile,
    maxCycles,
    trace,
    console: (text) => process.stdout.write(text),
  });
  if (values.json) process.stdout.write(JSON.stringify(result.counters) + '\n');
  else {
    process.stdout.write('counters:\n');
    for (const [name, value] of Object.entries(result.counters)) process.stdout.write(`  ${name.padEnd(16)} ${value}\n`);
  }
  return result.exitStatus;
}

function traceWriter(kinds: string): (event: TraceEvent) => void {
  const wanted = new Set<string>(kinds === 'all' ? TRACE_KINDS : kinds.split(','));
  for (const kind of wanted) if (!TRACE_KINDS.includes(kind as TraceKind)) throw new UsageError(`unknown trace kind '${kind}'`);
  return (event) => {
    if (wanted.has(event.kind)) process.stdout.write(`[${event.cycle}] ${event.kind} ${event.thread >>> 14}.${event.thread & 0x3fff} ${event.text}\n`);
  };
}

/** "64M", "256MiB", "1G", "65536": bytes. */
export function parseSize(text: string): number {
  const match = /^(\d+)\s*([KMG]?)(i?B)?$/i.exec(text.trim());
  if (!match) throw new UsageError(`--ram ${text}: give bytes, or a number with K, M or G`);
  const scale = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[match[2]!.toUpperCase() as '' | 'K' | 'M' | 'G'];
  const bytes = Number(match[1]) * scale;
  if (!Number.isSafeInteger(bytes) || bytes % 4096 !== 0 || bytes > 2 ** 32) throw new UsageError(`--ram ${text}: a whole number of 4 KiB pages up to 4G is needed`);
  return bytes;
}

function parseCount(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value <= 0) throw new UsageError(`--max-cycles ${text}: a positive whole number is needed`);
  return value;
}

/** Is the default image missing or older than any source it is built from? */
function isStale(image: string): boolean {
  if (!existsSync(image)) return true;
  const built = statSync(image).mtimeMs;
  const newer = (path: string): boolean => {
    const stat = statSync(path);
    if (stat.isDirectory()) return readdirSync(path).some((name) => newer(join(path, name)));
    return stat.mtimeMs > built;
  };
  return ['kernel', 'libl4', 'servers', 'images'].some((folder) => existsSync(join(ROOT, folder)) && newer(join(ROOT, folder)));
}

function formatNumber(value: number): string {
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  if (value >= 1000) return Math.round(value).toLocaleString('en-US');
  return value.toFixed(3);
}

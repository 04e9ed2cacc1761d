// The l4hurd command line: one subcommand per tool. Bundled by tools/build-cli.mjs.
//
// Every command answers --help; every failure is one line on standard error with an exit status
// from tools/failures.ts. `boot` and `run` run the machine in a worker thread
// (tools/contained.ts); the other commands run here.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PROFILES } from '../emulator/profiles.ts';
import type { TraceKind } from '../kernel/kernel.ts';
import { UsageError, helpText, parseCommand, synopsisLine, type CommandSpec, type OptionSpec } from './args.ts';
import { benchHealth, runBootBenchmarks, runKernelBenchmarks, runMachineBenchmarks, runProgramBenchmarks } from './bench.ts';
import { runFileReadBenchmarks } from './bench-fileread.ts';
import { runPhysmemBenchmarks } from './bench-physmem.ts';
import { runDebugBenchmarks } from './bench-debug.ts';
import { runSelfPagingBenchmarks } from './bench-selfpaging.ts';
import { formatCompare, runCompare } from './compare.ts';
import { BuildError, buildImage, buildModules, readConfig, type ModuleConfig } from './build.ts';
import { bootContained, type DiskRequest } from './contained.ts';
import { STOP_KINDS } from './debug/event-log.ts';
import { DebugHost } from './debug/host.ts';
import { FileDisk } from './disk-file.ts';
import { runDemo } from './demo.ts';
import { reportFailure } from './failures.ts';
import { readInputFile } from './files.ts';
import { COMMAND_LINE_BYTES, MAX_IMAGE_BYTES } from './image.ts';
import { writeOut } from './output.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DEFAULT_CONFIG = join(ROOT, 'images/default.json');
const DEFAULT_IMAGE = join(ROOT, 'dist/default.img');
const TRACE_KINDS: readonly TraceKind[] = ['syscall', 'ipc', 'fault', 'map', 'unmap', 'switch', 'halt', 'exception', 'interrupt', 'user'];
const DEFAULT_RAM = 64 * 1024 * 1024;
const DEFAULT_HOST_MEMORY = 2 * 1024 * 1024 * 1024;
/** The programs of the default image that `run` boots with a user's program: the system servers. */
const SYSTEM_PROGRAMS = ['physmem', 'task', 'policy'];
/** What `run --disk` adds to them: the disk driver and the file server. */
const DISK_PROGRAMS: readonly ModuleConfig[] = [
  { name: 'deva', kind: 'program', entry: join(ROOT, 'servers/deva/main.ts') },
  { name: 'ext2fs', kind: 'program', entry: join(ROOT, 'servers/ext2fs/main.ts') },
];

const MACHINE_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  ram: { type: 'string', value: 'SIZE', help: 'RAM of the machine: bytes, or a number with K, M or G (default 64M)' },
  profile: { type: 'string', value: 'NAME', help: `CPU profile: ${Object.keys(PROFILES).join(' or ')} (default p3)` },
  'max-cycles': { type: 'string', value: 'N', help: 'stop after N cycles (default 10000000000): exit status 3' },
  json: { type: 'boolean', help: 'print the final counters as one JSON object, the last line' },
  trace: { type: 'string', value: 'KINDS', help: `print a line per event of these kinds, comma-separated:\n${TRACE_KINDS.join(', ')}, or all` },
  'host-memory': { type: 'string', value: 'SIZE', help: 'host memory the machine may use besides its RAM (default 2G):\nexit status 5 when it needs more' },
  disk: { type: 'string', value: 'FILE', help: "the machine's disk: FILE's bytes, copy-on-write (FILE is never\nwritten); it overrides the image's disk module" },
  'disk-writable': { type: 'boolean', help: 'with --disk: what the machine writes goes to FILE' },
};

const EXIT_STATUSES = `exit statuses of boot and run (debug: 0, or 1 when a command of its --script failed, or 2, 5, 6, 8):
  the root task's   it shut the machine down (wortel: 0, or the first failed program's)
  2                 usage error, unreadable or malformed image, failed build
  3                 the cycle limit was reached (--max-cycles)
  4                 the system went idle without shutting down
  5                 the machine ran out of host memory (--host-memory)
  6                 standard output cannot be written (a closed pipe: quietly)
  7                 the kernel failed (a host exception in its code)
  8                 an internal error of l4hurd (a bug)`;

const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'boot',
    synopsis: '[IMAGE] [options]',
    summary: 'boot an image (default: the default image, built when needed)',
    description: `Boots IMAGE on an emulated machine and prints its console (the loader's memory map, the
kernel's reports, every program's output), then the counters. IMAGE is a built image, or an
image config (a .json file, such as images/mm-touch.json), which is built first. Without IMAGE
it boots dist/default.img, built from images/default.json when it is missing or older than its
sources. The exit status is the root task's, or one of l4hurd's own (l4hurd help).`,
    options: MACHINE_OPTIONS,
    maxPositionals: 1,
  },
  {
    name: 'run',
    synopsis: '[options] FILE.ts [ARGS...]',
    summary: 'build and boot the system with one program of yours',
    description: `Builds an image of the default image's system modules (the kernel, sigma0, the root
task, and its physmem, task and policy servers where it has them) and the program FILE.ts,
whose command line is ARGS, and boots it as boot does. Options go before FILE.ts; everything
after it is the program's. The program's module is named after the file. With --disk the
image also holds the disk driver (deva) and the ext2 file server (ext2fs), before the program.`,
    options: MACHINE_OPTIONS,
    maxPositionals: 1,
    program: true,
  },
  {
    name: 'debug',
    synopsis: '[IMAGE] [options]',
    summary: 'the debugger console on a booted, paused machine',
    description: `Boots IMAGE (a built image or an image config, as boot takes; default: the default image)
and opens a console on the machine, paused before anything runs: step through system calls,
IPCs, faults and program steps, go back by replay, set breakpoints and watchpoints, look at
threads, registers, memory, page tables, the TLB, the mapping database, physmem's containers
and a self-paging task's regions. help at the prompt lists the
commands; docs/debugger.md is the guide. With --script the commands come from FILE and the
console ends after them (exit status 1 if one failed); otherwise from standard input.`,
    options: {
      ram: MACHINE_OPTIONS.ram!,
      profile: MACHINE_OPTIONS.profile!,
      'max-cycles': MACHINE_OPTIONS['max-cycles']!,
      trace: { type: 'string', value: 'KINDS', help: `start with trace on KINDS (comma-separated): ${STOP_KINDS.join(', ')}, or all` },
      'host-memory': { type: 'string', value: 'SIZE', help: 'JavaScript heap each machine thread may use (default 2G): exit status 5 past it' },
      disk: { type: 'string', value: 'FILE', help: "the machine's disk: FILE's bytes, copy-on-write in every machine the\nconsole boots or replays (FILE is never written); it overrides the image's disk module" },
      script: { type: 'string', value: 'FILE', help: 'run the commands in FILE, then end' },
      batch: { type: 'boolean', help: 'print no prompts and do not echo commands' },
    },
    maxPositionals: 1,
  },
  {
    name: 'build',
    synopsis: '[--config FILE] [--out FILE]',
    summary: 'build a boot image from a config',
    description: `Bundles each module of an image config (default: images/default.json) and writes the
image to --out (default: the config's name with .img, or dist/default.img for the default
config). The format and the config are described in tools/README.md.`,
    options: {
      config: { type: 'string', value: 'FILE', help: 'the image config (default images/default.json)' },
      out: { type: 'string', value: 'FILE', help: 'where the image is written' },
    },
    maxPositionals: 0,
  },
  {
    name: 'demo',
    synopsis: '[--profile NAME]',
    summary: 'a tour of the MMU, then the kernel running sigma0 and two programs',
    description: `Shows page tables, a walk level by level, the TLB and a forgotten INVLPG caught by the
stale-translation check, then boots the kernel with sigma0 and two programs.`,
    options: { profile: MACHINE_OPTIONS.profile! },
    maxPositionals: 0,
  },
  {
    name: 'bench',
    synopsis: '[--json]',
    summary: 'run the benchmarks',
    description: `Measures the machine's hot paths against raw loops, the kernel's IPC and page faults, and
the boot of the default image, in one run (README.md, Benchmarks).`,
    options: { json: { type: 'boolean', help: 'print one JSON object as the last line' } },
    maxPositionals: 0,
  },
  {
    name: 'compare',
    synopsis: '[--json] [--scale N] [--profile NAME]',
    summary: 'the paging workloads self-paging and under the central pager, in one table',
    description: `Boots each paging workload of images/mm-*.json twice, its tasks paging themselves with
libhurd-mm and paged by the central pager, and prints one table: workload, pager, page-ins,
page-outs, faults, model cycles, and the ratio self-paging / central (README.md).`,
    options: {
      json: { type: 'boolean', help: 'also print the rows as one JSON array, the last line' },
      scale: { type: 'string', value: 'N', help: 'make every workload N times larger (1 to 64, default 1)' },
      profile: MACHINE_OPTIONS.profile!,
    },
    maxPositionals: 0,
  },
  {
    name: 'help',
    synopsis: '[COMMAND]',
    summary: 'this overview, or the help of COMMAND',
    description: 'Prints the overview of l4hurd, or what l4hurd COMMAND --help prints.',
    options: {},
    maxPositionals: 1,
  },
];

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return `usage: l4hurd <command> [options]
       l4hurd <command> --help
       l4hurd --version

commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`).join('\n')}

${EXIT_STATUSES}
`;
}

function commandSpec(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}

export function version(): string {
  try {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version?: unknown };
    return typeof version === 'string' ? version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Runs the command `argv` and returns its exit status. */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined) {
    return reportFailure(undefined, new UsageError('a command is needed'), overview());
  }
  if (command === '--version' || command === '-V' || command === 'version') return output(`l4hurd ${version()}\n`);
  if (command === '--help' || command === '-h') return output(overview());
  const spec = commandSpec(command);
  if (!spec) return reportFailure(undefined, new UsageError(`unknown command '${command}'`), overview());
  try {
    const parsed = parseCommand(spec, rest);
    if (parsed.help) {
      writeOut(helpText(spec));
      return 0;
    }
    switch (spec.name) {
      case 'boot':
        return await boot(parsed.values, parsed.positionals[0]);
      case 'run':
        return await run(parsed.values, parsed.positionals[0]!, parsed.rest);
      case 'debug':
        return await debug(parsed.values, parsed.positionals[0]);
      case 'build':
        return await build(parsed.values);
      case 'demo':
        writeOut(runDemo(profileOption(parsed.values.profile)));
        return 0;
      case 'bench':
        return await bench(parsed.values.json === true);
      case 'compare':
        return await compare(parsed.values);
      default: {
        const topic = parsed.positionals[0];
        if (topic === undefined) {
          writeOut(overview());
          return 0;
        }
        const about = commandSpec(topic);
        if (!about) throw new UsageError(`no command '${topic}'`);
        writeOut(helpText(about));
        return 0;
      }
    }
  } catch (error) {
    return reportFailure(command, error, synopsisLine(spec));
  }
}

function output(text: string): number {
  try {
    writeOut(text);
    return 0;
  } catch (error) {
    return reportFailure(undefined, error);
  }
}

type Values = Readonly<Record<string, string | boolean | undefined>>;

async function boot(values: Values, imagePath: string | undefined): Promise<number> {
  const machine = machineOptions(values);
  const image = await imageToBoot(imagePath);
  return bootContained({ command: 'boot', image, ...machine });
}

/**
 * The image boot and debug start: IMAGE as given; an image config (a .json file) built in
 * memory first, as build would build it; without IMAGE the default image, built when stale.
 */
async function imageToBoot(imagePath: string | undefined): Promise<Uint8Array> {
  if (imagePath !== undefined && imagePath.endsWith('.json')) return buildImage(imagePath);
  let path = imagePath;
  if (path === undefined) {
    if (isStale(DEFAULT_IMAGE)) await buildImage(DEFAULT_CONFIG, DEFAULT_IMAGE);
    path = DEFAULT_IMAGE;
  }
  return readInputFile(path, `the image ${path}`, MAX_IMAGE_BYTES);
}

async function debug(values: Values, imagePath: string | undefined): Promise<number> {
  const machine = machineOptions({ ...values, trace: undefined });
  if (values.json !== undefined) throw new UsageError("unknown option '--json'");
  const trace = values.trace === undefined ? undefined : debugTraceKinds(String(values.trace));
  let script: string[] | null = null;
  if (typeof values.script === 'string') {
    const text = new TextDecoder().decode(readInputFile(values.script, `the script ${values.script}`, 1024 * 1024));
    script = text.split('\n');
    if (script[script.length - 1] === '') script.pop();
  }
  const image = await imageToBoot(imagePath);
  const standbys = process.env.L4HURD_DEBUG_STANDBYS === undefined ? undefined : Number(process.env.L4HURD_DEBUG_STANDBYS);
  // One descriptor of the disk file for the whole session; every machine thread reads through it
  // with a copy-on-write overlay of its own.
  const disk = machine.disk ? new FileDisk(machine.disk.path) : undefined;
  try {
    return await new DebugHost({
      image,
      disk: disk ? { path: disk.path, descriptor: disk.descriptor } : undefined,
      ramBytes: machine.ramBytes,
      profile: machine.profile,
      maxCycles: machine.maxCycles,
      hostMemoryBytes: machine.hostMemoryBytes,
      script,
      batch: values.batch === true,
      trace,
      standbys: standbys !== undefined && Number.isSafeInteger(standbys) && standbys >= 0 ? standbys : undefined,
    }).run();
  } finally {
    disk?.close();
  }
}

function debugTraceKinds(text: string): string[] {
  const kinds = text === 'all' ? [...STOP_KINDS] : text.split(',');
  for (const kind of kinds) if (!(STOP_KINDS as readonly string[]).includes(kind)) throw new UsageError(`unknown trace kind '${kind}'`);
  return kinds;
}

async function run(values: Values, file: string, args: readonly string[]): Promise<number> {
  const machine = machineOptions(values);
  const commandLine = args.join(' ');
  const bytes = new TextEncoder().encode(commandLine).length;
  if (bytes >= COMMAND_LINE_BYTES) throw new UsageError(`the program's arguments take ${bytes} bytes; a command line holds at most ${COMMAND_LINE_BYTES - 1}`);
  const entry = resolve(file);
  if (!/\.[cm]?ts$/.test(entry)) throw new UsageError(`${file}: a TypeScript file (.ts) is needed`);
  const system = readConfig(DEFAULT_CONFIG).filter((m) => m.kind === 'kernel' || m.kind === 'sigma0' || m.kind === 'root' || (m.kind === 'program' && SYSTEM_PROGRAMS.includes(m.name)));
  const base = dirname(DEFAULT_CONFIG);
  const modules: ModuleConfig[] = system.map((m) => ({ ...m, entry: m.entry && resolve(base, m.entry), file: m.file && resolve(base, m.file) }));
  if (machine.disk) modules.push(...DISK_PROGRAMS);
  modules.push({ name: programName(entry, modules), kind: 'program', entry, commandLine });
  const image = await buildModules(modules, base, `l4hurd run ${file}`);
  return bootContained({ command: 'run', image, ...machine });
}

/** The module name of a user's program: its file name, made a valid and unused module name. */
function programName(entry: string, taken: readonly ModuleConfig[]): string {
  const stem = basename(entry).replace(/\.[cm]?ts$/, '').replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 28) || 'program';
  let name = stem;
  for (let n = 2; taken.some((m) => m.name === name); n++) name = `${stem}-${n}`;
  return name;
}

async function build(values: Values): Promise<number> {
  const config = typeof values.config === 'string' ? values.config : DEFAULT_CONFIG;
  const out = typeof values.out === 'string' ? values.out : typeof values.config === 'string' ? config.replace(/\.json$/, '') + '.img' : DEFAULT_IMAGE;
  if (out === config) throw new BuildError(`--out ${out} would overwrite the config`);
  const image = await buildImage(config, out);
  writeOut(`built ${out} (${image.length} bytes)\n`);
  return 0;
}

async function bench(json: boolean): Promise<number> {
  const result = { ...runMachineBenchmarks(), ...runProgramBenchmarks(), ...runKernelBenchmarks(), ...(await runBootBenchmarks(DEFAULT_CONFIG)), ...(await runPhysmemBenchmarks()), ...(await runFileReadBenchmarks()), ...(await runSelfPagingBenchmarks()), ...(await runDebugBenchmarks(DEFAULT_CONFIG)), ...benchHealth() };
  const rows = Object.entries(result).map(([k, v]) => `${k.padEnd(27)} ${formatNumber(v)}`);
  writeOut(rows.join('\n') + '\n');
  if (json) writeOut(JSON.stringify(result) + '\n');
  return 0;
}

async function compare(values: Values): Promise<number> {
  let scale: number | undefined;
  if (values.scale !== undefined) {
    scale = Number(values.scale);
    if (!Number.isSafeInteger(scale) || scale < 1 || scale > 64) throw new UsageError(`--scale ${String(values.scale)}: a whole number from 1 to 64 is needed`);
  }
  const rows = await runCompare({ scale, profile: profileOption(values.profile) });
  writeOut(formatCompare(rows));
  if (values.json === true) writeOut(JSON.stringify(rows) + '\n');
  return 0;
}

function machineOptions(values: Values): { ramBytes: number; profile?: string; maxCycles?: number; json: boolean; trace?: readonly TraceKind[]; hostMemoryBytes: number; disk?: DiskRequest } {
  if (values['disk-writable'] === true && values.disk === undefined) throw new UsageError('--disk-writable needs --disk FILE');
  let disk: DiskRequest | undefined;
  if (values.disk !== undefined) {
    disk = { path: resolve(String(values.disk)), writable: values['disk-writable'] === true };
    // Refused here, in the command's words, before the machine starts.
    new FileDisk(disk.path, { writable: disk.writable }).close();
  }
  return {
    disk,
    ramBytes: values.ram === undefined ? DEFAULT_RAM : parseSize('--ram', String(values.ram)),
    profile: profileOption(values.profile),
    maxCycles: values['max-cycles'] === undefined ? undefined : parseCount(String(values['max-cycles'])),
    json: values.json === true,
    trace: values.trace === undefined ? undefined : traceKinds(String(values.trace)),
    hostMemoryBytes: values['host-memory'] === undefined ? DEFAULT_HOST_MEMORY : parseHostMemory(String(values['host-memory'])),
  };
}

function profileOption(value: string | boolean | undefined): string | undefined {
  if (value === undefined) return undefined;
  const name = String(value);
  if (!Object.hasOwn(PROFILES, name)) throw new UsageError(`unknown CPU profile '${name}': known profiles are ${Object.keys(PROFILES).join(', ')}`);
  return name;
}

function traceKinds(text: string): TraceKind[] {
  const kinds = text === 'all' ? [...TRACE_KINDS] : text.split(',');
  for (const kind of kinds) if (!TRACE_KINDS.includes(kind as TraceKind)) throw new UsageError(`unknown trace kind '${kind}'`);
  return kinds as TraceKind[];
}

/** "64M", "256MiB", "1G", "65536": bytes, a whole number of 4 KiB pages up to 4G. */
export function parseSize(option: string, text: string): number {
  const bytes = sizeInBytes(option, text);
  if (bytes % 4096 !== 0 || bytes > 2 ** 32) throw new UsageError(`${option} ${text}: a whole number of 4 KiB pages up to 4G is needed`);
  return bytes;
}

function parseHostMemory(text: string): number {
  const bytes = sizeInBytes('--host-memory', text);
  if (bytes < 16 * 1024 * 1024) throw new UsageError(`--host-memory ${text}: at least 16M is needed`);
  return bytes;
}

function sizeInBytes(option: string, text: string): number {
  const match = /^(\d+)\s*([KMG]?)(i?B)?$/i.exec(text.trim());
  if (!match) throw new UsageError(`${option} ${text}: give bytes, or a number with K, M or G`);
  const scale = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[match[2]!.toUpperCase() as '' | 'K' | 'M' | 'G'];
  const bytes = Number(match[1]) * scale;
  if (!Number.isSafeInteger(bytes)) throw new UsageError(`${option} ${text}: too large`);
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
  return ['kernel', 'libl4', 'libhurd-mm', 'servers', 'images', 'tools/build.ts', 'tools/image.ts'].some((path) => existsSync(join(ROOT, path)) && newer(join(ROOT, path)));
}

function formatNumber(value: number): string {
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  if (value >= 1000) return Math.round(value).toLocaleString('en-US');
  return value.toFixed(3);
}

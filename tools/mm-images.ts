// Images of the paging workloads (servers/demo/mm-*.ts), for `l4hurd compare`, the paging
// benchmarks and the tests. Every module is bundled once (one build, one type check); each
// image is then put together from those bundles with its own programs and command lines, so a
// run of many images costs one build.
//
// An image holds the Hurd's memory system, the store, the central pager when `central` gives
// its pool (the image option that makes every startPager a client of it), and the workload
// programs. Booting one with `runMarked` also reads, at each `mm: start` and `mm: end` line a
// workload prints (servers/demo/mm-common.ts), the machine's cycles and the cycles the task's
// threads have run, and collects the `mm: stats` lines.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Kernel } from '../kernel/kernel.ts';
import { buildImage, readConfig } from './build.ts';
import { encodeImage, parseImage, type ImageModule } from './image.ts';
import { bootImage, type BootOptions, type BootResult } from './loader.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const SYSTEM: readonly (readonly [string, ImageModule['kind'], string])[] = [
  ['kernel', 'kernel', 'kernel/main.ts'],
  ['sigma0', 'sigma0', 'servers/sigma0.ts'],
  ['wortel', 'root', 'servers/wortel.ts'],
  ['physmem', 'program', 'servers/physmem/main.ts'],
  ['task', 'program', 'servers/task/main.ts'],
  ['policy', 'program', 'servers/policy/main.ts'],
  ['store', 'program', 'servers/store/main.ts'],
  ['central-pager', 'program', 'servers/central-pager/main.ts'],
];

/** The workload programs every set of bundles has, by the name images refer to them by. */
export const WORKLOADS: Readonly<Record<string, string>> = {
  'mm-touch': 'servers/demo/mm-touch.ts',
  'mm-database': 'servers/demo/mm-database.ts',
  'mm-cache': 'servers/demo/mm-cache.ts',
  'mm-qos': 'servers/demo/mm-qos.ts',
  'mm-bench': 'servers/demo/mm-bench.ts',
  'mm-reclaim': 'servers/demo/mm-reclaim.ts',
};

export interface WorkloadModule {
  /** The module's name in the image (a boot program's task is named by it). */
  readonly name: string;
  /** Which bundle: a key of WORKLOADS or of the extra programs given to buildBundles. */
  readonly program: string;
  readonly args?: string;
}

export interface MmImageSpec {
  readonly programs: readonly WorkloadModule[];
  /** The central pager's pool in frames: present only when given. */
  readonly central?: number;
  /** Command lines of the servers (default: physmem and the store quiet). */
  readonly physmem?: string;
  readonly policy?: string;
  readonly task?: string;
  readonly store?: string;
  /** Leave the store out. */
  readonly noStore?: boolean;
}

export class Bundles {
  private constructor(
    private readonly payloads: ReadonlyMap<string, Uint8Array>,
    /** Each bundle's entry point, from the project root. */
    private readonly entries: ReadonlyMap<string, string>,
  ) {}

  /** Bundles the system, the store, the central pager, the workloads and `extra` programs (name -> path from the project root). */
  static async build(extra: Readonly<Record<string, string>> = {}): Promise<Bundles> {
    const programs = { ...WORKLOADS, ...extra };
    const modules = [
      ...SYSTEM.map(([name, kind, entry]) => ({ name, kind, entry: join(ROOT, entry) })),
      ...Object.entries(programs).map(([name, entry]) => ({ name, kind: 'program', entry: join(ROOT, entry) })),
    ];
    const dir = mkdtempSync(join(tmpdir(), 'l4hurd-mm-'));
    let image: Uint8Array;
    try {
      const config = join(dir, 'bundles.json');
      writeFileSync(config, JSON.stringify({ modules }));
      image = await buildImage(config);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const entries = new Map<string, string>([...SYSTEM.map(([name, , entry]) => [name, entry] as [string, string]), ...Object.entries(programs)]);
    return new Bundles(new Map(parseImage(image).map((m) => [m.name, m.payload])), entries);
  }

  /**
   * The image an image config (images/*.json) describes, put together from these bundles: the
   * same modules, names and command lines `l4hurd build --config` would give it, without a build.
   */
  imageOf(configPath: string): Uint8Array {
    const base = dirname(resolve(configPath));
    const modules: ImageModule[] = readConfig(configPath).map((config) => {
      if (config.kind === 'data' || !config.entry) throw new Error(`${configPath}: module ${config.name} is not a program these bundles have`);
      const entry = resolve(base, config.entry);
      const bundle = [...this.entries].find(([, path]) => join(ROOT, path) === entry)?.[0];
      if (!bundle) throw new Error(`${configPath}: no bundle of ${entry}`);
      return { name: config.name, kind: config.kind, commandLine: config.commandLine ?? '', payload: this.payloads.get(bundle)! };
    });
    return encodeImage(modules);
  }

  /** The image `spec` describes. */
  image(spec: MmImageSpec): Uint8Array {
    const payload = (name: string): Uint8Array => {
      const found = this.payloads.get(name);
      if (!found) throw new Error(`no bundle ${name}`);
      return found;
    };
    const lines: Record<string, string> = { physmem: spec.physmem ?? 'quiet', task: spec.task ?? '', policy: spec.policy ?? '', store: spec.store ?? 'quiet' };
    const modules: ImageModule[] = [];
    for (const [name, kind] of SYSTEM) {
      if (name === 'store' && spec.noStore) continue;
      if (name === 'central-pager') {
        if (spec.central === undefined) continue;
        modules.push({ name, kind, commandLine: `frames=${spec.central} quiet`, payload: payload(name) });
        continue;
      }
      modules.push({ name, kind, commandLine: lines[name] ?? '', payload: payload(name) });
    }
    for (const program of spec.programs) modules.push({ name: program.name, kind: 'program', commandLine: program.args ?? '', payload: payload(program.program) });
    return encodeImage(modules);
  }
}

/**
 * A workload's marks: the machine's cycles, its task's own cycles and the host's clock (for
 * benchmarks only; nothing in the model sees it) at `mm: start` and `mm: end`.
 */
export interface Marks {
  readonly name: string;
  readonly task: number;
  startCycles: number;
  endCycles: number;
  startOwn: number;
  endOwn: number;
  startNs: bigint;
  endNs: bigint;
}

export interface MarkedRun {
  readonly result: BootResult;
  /** By workload name (the name its lines carry). */
  readonly marks: ReadonlyMap<string, Marks>;
  /** The last `mm: stats NAME ...` line of each workload, as numbers (mode as 1 self, 2 central). */
  readonly stats: ReadonlyMap<string, Readonly<Record<string, number>>>;
}

/** Cycles the threads of `task`'s space have run (0 if it has no space now). */
function ownCycles(kernel: Kernel, task: number): number {
  const space = kernel.spaces.find((s) => s.threads.some((t) => (t.id & 0x3fff) === task));
  return space ? space.cycles : 0;
}

/** Boots `image`, reading the marks and stats lines of the workloads in it. */
export function runMarked(image: Uint8Array, options: BootOptions = {}): MarkedRun {
  const marks = new Map<string, Marks>();
  let kernel: Kernel | null = null;
  let cpuCycles = (): number => 0;
  let pending = '';
  const result = bootImage(image, {
    ...options,
    onStart: (booted) => {
      kernel = booted.kernel;
      cpuCycles = () => booted.machine.cpu.cycles;
      options.onStart?.(booted);
    },
    console: (text) => {
      options.console?.(text);
      pending += text;
      let newline: number;
      while ((newline = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        const match = /^mm: (start|end) (\S+) task=(\d+)$/.exec(line);
        if (!match || !kernel) continue;
        const [, what, name, id] = match;
        const now = process.hrtime.bigint();
        const task = Number(id);
        const own = ownCycles(kernel, task);
        if (what === 'start') marks.set(name!, { name: name!, task, startCycles: cpuCycles(), endCycles: 0, startOwn: own, endOwn: 0, startNs: now, endNs: 0n });
        else {
          const known = marks.get(name!);
          if (known) {
            known.endCycles = cpuCycles();
            known.endOwn = own;
            known.endNs = now;
          }
        }
      }
    },
  });
  const stats = new Map<string, Record<string, number>>();
  for (const line of result.output.split('\n')) {
    const match = /^mm: stats (\S+) mode=(self|central) (.*)$/.exec(line);
    if (!match) continue;
    const values: Record<string, number> = { mode: match[2] === 'self' ? 1 : 2 };
    for (const pair of match[3]!.split(' ')) {
      const [key, value] = pair.split('=');
      values[key!] = Number(value);
    }
    stats.set(match[1]!, values);
  }
  return { result, marks, stats };
}

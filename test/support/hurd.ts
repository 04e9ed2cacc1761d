// Booting the Hurd for a test: an image of the system modules (the kernel, sigma0, wortel,
// physmem, the task server, the policy server) plus the test's own programs, built from a
// config written to a temporary folder, booted headlessly, and checked afterwards:
//   - physmem's own accounting and structure check (servers/physmem/check.ts) on its snapshot
//     as the machine left it;
//   - every mapping derived from a physmem frame comes from a container its space's task may
//     reach, and a frame shared copy-on-write is mapped nowhere writable;
//   - the kernel's page tables and mapping database agree.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildImage } from '../../tools/build.ts';
import { bootImage, type BootResult } from '../../tools/loader.ts';
import type { DiskBacking } from '../../emulator/disk.ts';
import type { Kernel, TraceEvent } from '../../kernel/kernel.ts';
import type { PhysmemSnapshot } from '../../servers/physmem/snapshot.ts';
import { FRAME_WINDOW, PAGE } from '../../servers/physmem/frames.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface TestProgram {
  readonly name: string;
  /** Path from the project root. */
  readonly entry: string;
  readonly commandLine?: string;
}

export interface HurdOptions {
  readonly ramBytes?: number;
  readonly maxCycles?: number;
  readonly profile?: string;
  /** physmem's and the policy server's command lines. */
  readonly physmem?: string;
  readonly policy?: string;
  readonly task?: string;
  /** Check the mapping invariant whenever physmem waits (default true; it slows the run down). */
  readonly watchMappings?: boolean;
  /** The machine's disk (emulator/disk.ts). */
  readonly disk?: DiskBacking;
  /** Called with every trace event besides the mapping check's (with the modules' introspection). */
  readonly trace?: (event: TraceEvent, introspect: (module: string) => unknown) => void;
}

export interface HurdBoot {
  readonly result: BootResult;
  readonly output: string;
  /** physmem's state when the machine stopped. */
  readonly physmem: PhysmemSnapshot;
  /**
   * The mapping invariant, checked each time physmem waited for a request (all its effects
   * done): how many derived mappings were looked at, and the problems found.
   */
  readonly mappings: { readonly checks: number; readonly checked: number; readonly problems: readonly string[] };
}

/** physmem's first thread: the first program of the image (thread 1000), task 2. */
const PHYSMEM_THREAD = ((1000 << 14) | 2) >>> 0;

const images = new Map<string, Promise<Uint8Array>>();

/** Builds (once per distinct config) and boots an image of the system servers and `programs`. */
export async function bootHurd(programs: readonly TestProgram[], options: HurdOptions = {}): Promise<HurdBoot> {
  const modules = [
    { name: 'kernel', kind: 'kernel', entry: join(root, 'kernel/main.ts') },
    { name: 'sigma0', kind: 'sigma0', entry: join(root, 'servers/sigma0.ts') },
    { name: 'wortel', kind: 'root', entry: join(root, 'servers/wortel.ts') },
    { name: 'physmem', kind: 'program', entry: join(root, 'servers/physmem/main.ts'), commandLine: options.physmem ?? '' },
    { name: 'task', kind: 'program', entry: join(root, 'servers/task/main.ts'), commandLine: options.task ?? '' },
    { name: 'policy', kind: 'program', entry: join(root, 'servers/policy/main.ts'), commandLine: options.policy ?? '' },
    ...programs.map((p) => ({ name: p.name, kind: 'program', entry: join(root, p.entry), commandLine: p.commandLine ?? '' })),
  ];
  const config = JSON.stringify({ modules });
  let image = images.get(config);
  if (!image) {
    image = (async () => {
      const dir = mkdtempSync(join(tmpdir(), 'l4hurd-test-'));
      try {
        const path = join(dir, 'image.json');
        writeFileSync(path, config);
        return await buildImage(path);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    })();
    images.set(config, image);
  }
  const mappings = { checks: 0, checked: 0, problems: [] as string[] };
  let watch: ((event: TraceEvent) => void) | undefined;
  let look: (module: string) => unknown = () => undefined;
  const result = bootImage(await image, {
    ramBytes: options.ramBytes,
    maxCycles: options.maxCycles,
    profile: options.profile,
    checkStale: true,
    onStart: ({ kernel, introspect }) => {
      look = introspect;
      watch = (event) => {
        if (event.kind !== 'syscall' || event.thread !== PHYSMEM_THREAD || !event.text.startsWith('Ipc(') || !event.text.includes(', ffffffff,')) return;
        const snapshot = introspect('physmem') as PhysmemSnapshot | null;
        if (!snapshot) return;
        const found = physmemMappings(kernel, snapshot);
        mappings.checks++;
        mappings.checked += found.checked;
        if (mappings.problems.length < 10) mappings.problems.push(...found.problems.map((p) => `at cycle ${event.cycle}: ${p}`));
      };
    },
    disk: options.disk,
    trace:
      options.watchMappings === false && !options.trace
        ? undefined
        : (event) => {
            options.trace?.(event, look);
            if (options.watchMappings !== false) watch?.(event);
          },
  });
  const physmem = result.introspect('physmem') as PhysmemSnapshot;
  return { result, output: result.output, physmem, mappings };
}

/**
 * The mapping invariant of physmem's frames: every mapping made from physmem's frame window
 * (a child of physmem's own mapping of a frame) is in a space whose task holds a reference to a
 * container with a page on that frame, and a frame shared copy-on-write is never mapped
 * writable anywhere below physmem. Returns the problems found.
 */
export function physmemMappings(kernel: Kernel, snapshot: PhysmemSnapshot): { checked: number; problems: string[] } {
  const problems: string[] = [];
  const taskOfSpace = new Map<number, number>();
  for (const space of kernel.spaces) {
    const thread = space.threads[0];
    if (thread) taskOfSpace.set(space.id, thread.id & 0x3fff);
  }
  const physmemSpace = kernel.spaces.find((s) => s.threads.some((t) => (t.id & 0x3fff) === 2 && t.id >>> 14 >= 1000));
  if (!physmemSpace) return { checked: 0, problems: ['physmem has no space'] };
  let checked = 0;
  // Which tasks reach each frame, through which containers.
  const reach = new Map<number, Set<number>>();
  const containersOf = new Map<number, Set<number>>();
  for (const container of snapshot.containers) {
    const tasks = new Set(container.references.map((r) => r.task));
    containersOf.set(container.id, tasks);
    for (const slot of container.slots) {
      if (slot.frame < 0) continue;
      let set = reach.get(slot.frame);
      if (!set) reach.set(slot.frame, (set = new Set()));
      for (const task of tasks) set.add(task);
    }
  }
  for (const frame of snapshot.frames) {
    const window = FRAME_WINDOW + frame.number * PAGE;
    // physmem's mapping of the frame: its 4 KiB page, or the 4 MiB page of the window holding it.
    const node = kernel.mdb.lookup(physmemSpace.id, window);
    if (!node) {
      problems.push(`frame ${frame.number} is not mapped in physmem's window`);
      continue;
    }
    const physical = node.frame + (window - node.address);
    // The mappings of this frame only: below a 4 MiB node, the children that cover its part.
    const walk = (parent: typeof node, top: boolean): void => {
      for (const child of kernel.mdb.childrenCovering(parent, physical)) {
        checked++;
        const task = taskOfSpace.get(child.space);
        if (top && (task === undefined || !reach.get(frame.number)?.has(task))) {
          problems.push(`frame ${frame.number} is mapped at 0x${child.address.toString(16)} in the space of task ${task}, which holds no container with it`);
        }
        if (frame.pages > 1 && child.rights & 2) problems.push(`frame ${frame.number} is shared copy-on-write but mapped writable at 0x${child.address.toString(16)} (task ${task})`);
        walk(child, false);
      }
    };
    walk(node, true);
  }
  return { checked, problems };
}

/** Lines of `output` that a program printed with a prefix, e.g. `check:`. */
export function linesOf(output: string, prefix: string): string[] {
  return output.split('\n').filter((line) => line.startsWith(prefix));
}

// Regression boots: each image is built from its config, booted headlessly, and its console output
// and final counters (exact cycle counts included) compared with the golden files in golden/.
// With L4HURD_UPDATE_GOLDEN=1 (`npm run golden`) the test writes the golden files instead.
//
// Where the loader puts the modules (and so how much conventional memory sigma0 is left with)
// follows from the sizes of the bundles, which change with any edit of any module, a comment or a
// file name included, while the boot does exactly the same. The golden output therefore holds
// those values as tokens (<placed>, <KiB>), and the test fills them in from the image by the
// loader's layout rules, restated below, before it compares the output byte for byte.
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildImage } from '../../tools/build.ts';
import { parseImage } from '../../tools/image.ts';
import { bootImage, type BootCounters, type BootOptions, type BootResult } from '../../tools/loader.ts';
import type { TraceEvent } from '../../kernel/kernel.ts';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const goldenDir = join(here, 'golden');
const update = process.env.L4HURD_UPDATE_GOLDEN === '1';

/** The stable counter names of `l4hurd boot --json`, in their order. */
const COUNTER_NAMES = ['cycles', 'accesses', 'tlbHits', 'tlbMisses', 'pageWalks', 'pageFaults', 'ipcs', 'contextSwitches', 'exceptions', 'syscalls', 'exitStatus'];

interface BootCase {
  readonly name: string;
  readonly config: string;
  /** Lines the boot must print, in this order (other lines may come between). */
  readonly lines: readonly string[];
}

const CASES: readonly BootCase[] = [
  {
    name: 'default',
    config: join(root, 'images/default.json'),
    lines: [
      'wortel: 10 boot modules, 7 programs (physmem, task and policy: the Hurd)',
      'wortel: starting physmem as task 2, thread 1000',
      'wortel: starting task as task 3, thread 1001',
      'wortel: starting policy as task 4, thread 1002',
      'wortel: hello is task 5, thread 1003 (from the default image)',
      'wortel: touch is task 6, thread 1004 (pages=256)',
      'wortel: server is task 7, thread 1005 (role=server)',
      'wortel: client is task 8, thread 1006 (role=client peer=1005 rounds=500)',
      'hello: hello, world (from the default image)',
      'ipc-task: client made 500 calls, 0 wrong answers',
      'touch: 256 pages written and read back, sum 97920',
      'ipc-task: server answered 500 calls',
      'wortel: all programs done, shutting down with status 0',
    ],
  },
  {
    name: 'hello',
    config: join(here, 'images/hello.json'),
    lines: [
      'laden: 7 modules, RAM 64 MiB, CPU p3',
      'laden: starting the kernel',
      'wortel: 7 boot modules, 4 programs (physmem, task and policy: the Hurd)',
      'wortel: hello is task 5, thread 1003 (from the hello image)',
      'hello: hello, world (from the hello image)',
      'wortel: hello exited with status 0',
      'wortel: all programs done, shutting down with status 0',
    ],
  },
  {
    name: 'page-touch',
    config: join(here, 'images/page-touch.json'),
    lines: [
      'wortel: touch is task 5, thread 1003 (pages=100)',
      'touch: 100 pages written and read back, sum 14850',
      'wortel: touch exited with status 0',
      'wortel: all programs done, shutting down with status 0',
    ],
  },
  {
    name: 'ipc',
    config: join(here, 'images/ipc.json'),
    lines: [
      'wortel: server is task 5, thread 1003 (role=server)',
      'wortel: client is task 6, thread 1004 (role=client peer=1003 rounds=100)',
      'ipc-task: client made 100 calls, 0 wrong answers',
      'wortel: client exited with status 0',
      'ipc-task: server answered 100 calls',
      'wortel: server exited with status 0',
      'wortel: all programs done, shutting down with status 0',
    ],
  },
  {
    name: 'bare',
    config: join(here, 'images/bare.json'),
    lines: [
      'wortel: 7 boot modules, 4 programs (a bare image)',
      'wortel: starting hello as thread 1000 (from the bare image)',
      'wortel: starting client as thread 1003 (role=client peer=1002 rounds=20)',
      'hello: hello, world (from the bare image)',
      'touch: 50 pages written and read back, sum 3675',
      'ipc-task: client made 20 calls, 0 wrong answers',
      'ipc-task: server answered 20 calls',
      'wortel: all programs done, shutting down with status 0',
    ],
  },
];

const built = new Map<string, Promise<Uint8Array>>();
/** Each image is built once per run (without writing it anywhere). */
function imageOf(c: BootCase): Promise<Uint8Array> {
  let image = built.get(c.name);
  if (!image) {
    image = buildImage(c.config);
    built.set(c.name, image);
  }
  return image;
}

async function boot(c: BootCase, options: BootOptions = {}): Promise<BootResult> {
  return bootImage(await imageOf(c), options);
}

/** Checks that `lines` occur in `output` as whole lines, in order. */
function expectLinesInOrder(output: string, lines: readonly string[]): void {
  const all = output.split('\n');
  let at = 0;
  for (const line of lines) {
    const found = all.indexOf(line, at);
    expect(found, `line '${line}' (in order) in:\n${output}`).toBeGreaterThanOrEqual(0);
    at = found + 1;
  }
}

const PAGE = 4096;
const alignUp = (value: number, to: number): number => Math.ceil(value / to) * to;
const hex = (value: number): string => `0x${value.toString(16).padStart(8, '0')}`;
/** A module line of the loader: 'laden: KIND NAME FIRST-END ...' (not the kernel memory line). */
const MODULE_LINE = /^(laden: (?!kernel memory )\S+\s+\S+\s+)0x[0-9a-f]{8}-0x[0-9a-f]{8}/gm;
const BOOT_INFO_LINE = /^laden: boot information at 0x[0-9a-f]{8}$/m;
const SIGMA0_LINE = /^sigma0: \d+ KiB of conventional memory to hand out$/m;

/** The output with the placement values replaced by tokens (what the golden file holds). */
function maskPlacement(output: string): string {
  return output
    .replace(MODULE_LINE, '$1<placed>')
    .replace(BOOT_INFO_LINE, 'laden: boot information at <placed>')
    .replace(SIGMA0_LINE, 'sigma0: <KiB> KiB of conventional memory to hand out');
}

/**
 * The golden output with its tokens filled in for `image`, by the loader's rules: the modules one
 * after another from the end of the kernel region, each on a page boundary; the boot information
 * on the next 16 KiB boundary, one page per 32 entries of 128 bytes after a 16-byte header; and
 * sigma0 left with RAM less the kernel region, the module pages (at least one each) and the boot
 * information.
 */
function fillPlacement(golden: string, image: Uint8Array, ramBytes = 64 * 1024 * 1024): string {
  const modules = parseImage(image);
  const region = /^laden: kernel memory 0x([0-9a-f]{8})-0x([0-9a-f]{8}) \(reserved\)$/m.exec(golden);
  expect(region, 'the golden output names the kernel region').not.toBeNull();
  const [regionBase, regionEnd] = [Number.parseInt(region![1]!, 16), Number.parseInt(region![2]!, 16)];
  let next = regionEnd;
  let modulePages = 0;
  const ranges = modules.map((module) => {
    const base = next;
    next = alignUp(base + module.payload.length, PAGE);
    modulePages += Math.max(1, alignUp(module.payload.length, PAGE) / PAGE);
    return `${hex(base)}-${hex(base + module.payload.length)}`;
  });
  const bootInfo = alignUp(next, 16384);
  const bootInfoPages = alignUp(16 + modules.length * 128, PAGE) / PAGE;
  const freeKiB = (ramBytes - (regionEnd - regionBase) - (modulePages + bootInfoPages) * PAGE) / 1024;
  let index = 0;
  const filled = golden
    .replace(/^(laden: (?!kernel memory )\S+\s+\S+\s+)<placed>/gm, (_, head: string) => head + (ranges[index++] ?? '<missing module>'))
    .replace('laden: boot information at <placed>', `laden: boot information at ${hex(bootInfo)}`)
    .replace('sigma0: <KiB> KiB', `sigma0: ${freeKiB} KiB`);
  expect(index, 'one module line per module of the image').toBe(modules.length);
  return filled;
}

function thread(id: number): string {
  return `${id >>> 14}.${id & 0x3fff}`;
}

describe('boot images against golden files', () => {
  for (const c of CASES) {
    it(`${c.name}: console output and counters ${update ? 'written to' : 'match'} golden/${c.name}.out and .json`, async () => {
      const result = await boot(c);
      expect(result.exitStatus).toBe(0);
      expect(result.run.reason).toBe('shutdown');
      expect(Object.keys(result.counters)).toEqual(COUNTER_NAMES);
      const outFile = join(goldenDir, `${c.name}.out`);
      const jsonFile = join(goldenDir, `${c.name}.json`);
      const countersText = JSON.stringify(result.counters, null, 2) + '\n';
      const image = await imageOf(c);
      if (update) {
        mkdirSync(goldenDir, { recursive: true });
        const golden = maskPlacement(result.output);
        // The tokens must fill back in to exactly what the boot printed.
        expect(fillPlacement(golden, image)).toBe(result.output);
        writeFileSync(outFile, golden);
        writeFileSync(jsonFile, countersText);
        return;
      }
      expect(existsSync(outFile) && existsSync(jsonFile), `golden files for ${c.name} are missing: run \`npm run golden\``).toBe(true);
      expect(result.output).toBe(fillPlacement(readFileSync(outFile, 'utf8'), image));
      expect(result.counters).toEqual(JSON.parse(readFileSync(jsonFile, 'utf8')) as BootCounters);
    });
  }
});

describe('boot images: what the programs do', () => {
  for (const c of CASES) {
    it(`${c.name}: exits 0 and prints its programs' lines in order`, async () => {
      const result = await boot(c);
      expect(result.exitStatus).toBe(0);
      expect(result.counters.exitStatus).toBe(0);
      expectLinesInOrder(result.output, c.lines);
      expect(result.output).not.toMatch(/error|faulted at|cannot/);
    });
  }

  it('page-touch: every fault on the 100 pages is answered by physmem mapping a frame there, asked by the task\'s pager', async () => {
    const events: TraceEvent[] = [];
    const traced = await boot(CASES[2]!, { trace: (event) => events.push(event) });
    const plain = await boot(CASES[2]!);
    // Tracing observes; it changes nothing.
    expect(traced.counters).toEqual(plain.counters);
    expect(traced.output).toBe(plain.output);
    const touched = (address: number): boolean => address >= 0x10000000 && address < 0x10000000 + 100 * 4096;
    // touch is task 5, its first thread 1003; physmem is thread 1000 of task 2.
    const faults = events.filter((e) => e.kind === 'fault' && thread(e.thread) === '1003.5');
    const faulted = faults.map((e) => Number.parseInt(/at 0x([0-9a-f]+)/.exec(e.text)![1]!, 16)).filter(touched);
    expect(faulted).toEqual(Array.from({ length: 100 }, (_, i) => 0x10000000 + i * 4096));
    // physmem maps each frame to the task's pager thread, whose space is the task's (not to the
    // task server, thread 1001, whose startup-page window is at 0x10000000 too).
    const maps = events.filter((e) => e.kind === 'map' && thread(e.thread) === '1000.2' && / -> (?!1001:)\d+:1[0-9a-f]{7} /.test(e.text));
    const mapped = maps.map((e) => Number.parseInt(/-> \d+:([0-9a-f]+)/.exec(e.text)![1]!, 16));
    expect(mapped).toEqual(faulted);
    // Each map follows its fault, before the next fault.
    const order = events.filter((e) => (faults.includes(e) && touched(Number.parseInt(/at 0x([0-9a-f]+)/.exec(e.text)![1]!, 16))) || maps.includes(e)).map((e) => e.kind);
    expect(order).toEqual(Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? 'fault' : 'map')));
    expect(plain.counters.pageFaults).toBeGreaterThanOrEqual(100);
  });

  it('ipc: the client calls the server 100 times (at least 200 IPCs)', async () => {
    const result = await boot(CASES[3]!);
    expect(result.counters.ipcs).toBeGreaterThanOrEqual(200);
  });
});

describe('determinism', () => {
  it('building an image twice gives the same bytes', async () => {
    const again = await buildImage(CASES[0]!.config);
    expect(Buffer.from(again).equals(Buffer.from(await imageOf(CASES[0]!)))).toBe(true);
  });

  for (const c of [CASES[0]!, CASES[3]!]) {
    it(`${c.name}: booting the same image twice gives byte-identical output and identical counters`, async () => {
      const image = await imageOf(c);
      const chunks: string[] = [];
      const first = bootImage(image, { console: (text) => chunks.push(text) });
      const second = bootImage(image);
      expect(first.exitStatus).toBe(0);
      expect(Buffer.from(second.output).equals(Buffer.from(first.output))).toBe(true);
      expect(second.counters).toEqual(first.counters);
      // What the console callback received is the output, byte for byte.
      expect(chunks.join('')).toBe(first.output);
    });
  }
});

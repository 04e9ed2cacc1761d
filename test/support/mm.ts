// Booting paging workloads for a test: images put together from one set of bundles
// (tools/mm-images.ts: one build per test file, not one per image), booted with the checks of
// support/hurd.ts: physmem's accounting and structure at the end, the mapping invariant of
// physmem's frames whenever physmem waits (optional: it slows a long run down), the kernel's
// page tables against its mapping database, and no stale translation used.
import type { TraceEvent } from '../../kernel/kernel.ts';
import type { PhysmemSnapshot } from '../../servers/physmem/snapshot.ts';
import { Bundles, runMarked, type MarkedRun, type MmImageSpec } from '../../tools/mm-images.ts';
import { physmemMappings } from './hurd.ts';

export { Bundles };

const PHYSMEM_THREAD = ((1000 << 14) | 2) >>> 0;

export interface MmBoot extends MarkedRun {
  readonly output: string;
  readonly physmem: PhysmemSnapshot;
  readonly mappings: { checks: number; problems: string[] };
}

export interface MmBootOptions {
  readonly ramBytes?: number;
  readonly watchMappings?: boolean;
}

let bundles: Promise<Bundles> | null = null;

/** The bundles of the workloads and the test programs, built once per test file. */
export function testBundles(): Promise<Bundles> {
  bundles ??= Bundles.build({ 'mm-cases': 'test/servers/programs/mm-cases.ts', 'mm-hostile': 'test/servers/programs/mm-hostile.ts' });
  return bundles;
}

export async function bootMm(spec: MmImageSpec, options: MmBootOptions = {}): Promise<MmBoot> {
  const image = (await testBundles()).image(spec);
  const mappings = { checks: 0, problems: [] as string[] };
  let watch: ((event: TraceEvent) => void) | undefined;
  const run = runMarked(image, {
    ramBytes: options.ramBytes,
    checkStale: true,
    onStart: ({ kernel, introspect }) => {
      watch = (event) => {
        if (event.kind !== 'syscall' || event.thread !== PHYSMEM_THREAD || !event.text.startsWith('Ipc(') || !event.text.includes(', ffffffff,')) return;
        const snapshot = introspect('physmem') as PhysmemSnapshot | null;
        if (!snapshot) return;
        mappings.checks++;
        const found = physmemMappings(kernel, snapshot);
        if (mappings.problems.length < 10) mappings.problems.push(...found.problems.map((p) => `at cycle ${event.cycle}: ${p}`));
      };
    },
    trace: options.watchMappings ? (event) => watch?.(event) : undefined,
  });
  return { ...run, output: run.result.output, physmem: run.result.introspect('physmem') as PhysmemSnapshot, mappings };
}

/** What every run must show: no broken invariant anywhere, nothing halted, no stale TLB use. */
export function problemsOf(boot: MmBoot): string[] {
  const problems: string[] = [];
  for (const line of boot.output.split('\n')) if (/invariant violated|internal error|halted|cannot serve/.test(line)) problems.push(line);
  problems.push(...boot.mappings.problems);
  const { stats } = boot.physmem;
  if (stats.free + stats.allocated + stats.reserved !== stats.total) problems.push(`physmem: free ${stats.free} + allocated ${stats.allocated} + reserved ${stats.reserved} != total ${stats.total}`);
  problems.push(...boot.result.kernel.checkInvariants());
  const stale = boot.result.machine.cpu.counters.staleTranslations;
  if (stale > 0) problems.push(`${stale} stale TLB uses`);
  return problems;
}

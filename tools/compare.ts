// `l4hurd compare` (also `npm run compare`): the seeds' claim measured. Each workload of
// servers/demo/mm-*.ts boots self-paging (libhurd-mm) and under the central pager (the same
// image with the central pager in it, its pool the frames the self-paging tasks are
// guaranteed), with nothing else changed, and one table shows, for the enclosed part of each
// run: page-ins, page-outs and faults of the workload's task, the model cycles between its
// marks, the cycles its own threads ran (its pager thread included when it pages itself), and
// the ratio of the self-paging cycles to the central pager's.
//
// The workloads (sizes: COMPARE_SCALE multiplies the frames, default 1):
//   touch       4x more memory than the guarantee, seeded random writes, checked whole
//   database    a table scan of 1.5x the frames repeated, plus index lookups: clock for all,
//               then the application's policy (mru for the table, clock for the index)
//   cache       Zipf lookups over a cache twice the frames that the task can rebuild:
//               discardable (dropped, never written), then anonymous (paged to the store)
//   qos         a well-behaved task whose guarantee fits its working set, alone and next to a
//               task that thrashes (self-paging: each pays for its own; central: one clock)

import { Bundles, runMarked, type MarkedRun, type MmImageSpec } from './mm-images.ts';

export interface CompareRow {
  readonly workload: string;
  readonly variant: string;
  readonly pager: 'self' | 'central';
  readonly pageIns: number;
  readonly pageOuts: number;
  readonly faults: number;
  /** Model cycles between the workload's marks. */
  readonly cycles: number;
  /** Cycles the workload task's own threads ran between the marks. */
  readonly ownCycles: number;
  /** cycles / the central pager's cycles for the same workload and variant (self rows only). */
  ratio: number | null;
}

interface Case {
  readonly workload: string;
  readonly variant: string;
  /** The variant of the central row this one is compared with. */
  readonly pairedWith: string;
  /** The workload whose marks and stats make the row. */
  readonly measured: string;
  /** The images, self-paging and central (its pool given). */
  readonly spec: MmImageSpec;
  readonly central: number | null;
}

function cases(scale: number): Case[] {
  const frames = 64 * scale;
  const good = 56 * scale;
  const thrash = 16 * scale;
  const list: Case[] = [];
  const both = (workload: string, variant: string, pairedWith: string, spec: MmImageSpec, pool: number, centralToo: boolean): void => {
    const measured = spec.programs[0]!.name;
    list.push({ workload, variant, pairedWith, measured, spec, central: null });
    if (centralToo) list.push({ workload, variant: pairedWith, pairedWith, measured, spec: { ...spec, central: pool }, central: pool });
  };
  both('touch', '4x the guarantee', '4x the guarantee', { programs: [{ name: 'touch', program: 'mm-touch', args: `guarantee=${frames} factor=4` }] }, frames, true);
  both('database', 'clock for all', 'one clock', { programs: [{ name: 'database', program: 'mm-database', args: `guarantee=${frames} app=0` }] }, frames, false);
  both('database', 'mru table, clock index', 'one clock', { programs: [{ name: 'database', program: 'mm-database', args: `guarantee=${frames} app=1` }] }, frames, true);
  both('cache', 'discardable', 'paged', { programs: [{ name: 'cache', program: 'mm-cache', args: `guarantee=${frames} kind=discardable` }] }, frames, false);
  both('cache', 'anonymous', 'paged', { programs: [{ name: 'cache', program: 'mm-cache', args: `guarantee=${frames} kind=anonymous` }] }, frames, true);
  const goodTask = { name: 'good', program: 'mm-qos', args: `role=good guarantee=${good}` };
  const thrasher = { name: 'thrash', program: 'mm-qos', args: `role=thrash guarantee=${thrash}` };
  both('qos', 'alone', 'alone', { programs: [goodTask] }, good + thrash, true);
  both('qos', 'next to a thrasher', 'next to a thrasher', { programs: [goodTask, thrasher] }, good + thrash, true);
  return list;
}

function row(c: Case, run: MarkedRun): CompareRow {
  if (run.result.exitStatus !== 0) throw new Error(`compare: ${c.workload} (${c.variant}, ${c.central === null ? 'self' : 'central'}) failed with status ${run.result.exitStatus}:\n${run.result.output}`);
  const marks = run.marks.get(c.measured);
  const stats = run.stats.get(c.measured);
  if (!marks || !stats) throw new Error(`compare: ${c.workload} printed no marks or stats:\n${run.result.output}`);
  return {
    workload: c.workload,
    variant: c.variant,
    pager: c.central === null ? 'self' : 'central',
    pageIns: stats.pageIns!,
    pageOuts: stats.pageOuts!,
    faults: stats.faults!,
    cycles: marks.endCycles - marks.startCycles,
    ownCycles: marks.endOwn - marks.startOwn,
    ratio: null,
  };
}

/** Boots every workload under both pagers; the rows in table order. */
export async function runCompare(options: { scale?: number; profile?: string } = {}): Promise<CompareRow[]> {
  const scale = options.scale ?? (Number(process.env.COMPARE_SCALE) || 1);
  const bundles = await Bundles.build();
  const rows: CompareRow[] = [];
  for (const c of cases(scale)) rows.push(row(c, runMarked(bundles.image(c.spec), { profile: options.profile })));
  for (const r of rows) {
    if (r.pager !== 'self') continue;
    const c = cases(scale).find((x) => x.workload === r.workload && x.variant === r.variant && x.central === null)!;
    const central = rows.find((x) => x.pager === 'central' && x.workload === r.workload && x.variant === c.pairedWith);
    if (central && central.cycles > 0) r.ratio = r.cycles / central.cycles;
  }
  return rows;
}

/** The table as text (a Markdown table, so the README can show it as printed). */
export function formatCompare(rows: readonly CompareRow[]): string {
  const header = ['workload', 'variant', 'pager', 'page-ins', 'page-outs', 'faults', 'model cycles', 'own cycles', 'self / central'];
  const cells = rows.map((r) => [r.workload, r.variant, r.pager, count(r.pageIns), count(r.pageOuts), count(r.faults), count(r.cycles), count(r.ownCycles), r.ratio === null ? '' : r.ratio.toFixed(3)]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const right = [false, false, false, true, true, true, true, true, true];
  const line = (values: readonly string[]): string => `| ${values.map((v, i) => (right[i] ? v.padStart(widths[i]!) : v.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (right[i] ? `${'-'.repeat(w + 1)}:` : `${'-'.repeat(w + 2)}`)).join('|')}|`;
  return [line(header), rule, ...cells.map(line)].join('\n') + '\n';
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}

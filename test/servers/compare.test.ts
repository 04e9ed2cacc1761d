// The seeds' claim, measured: `l4hurd compare`'s workloads booted self-paging and under the
// central pager (tools/compare.ts). The claims of the demonstrations are checked on the table,
// and the table itself (every count and cycle) against golden/compare.json: the runs are
// deterministic. L4HURD_UPDATE_GOLDEN=1 (`npm run golden`) writes the golden file instead.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCompare, type CompareRow } from '../../tools/compare.ts';

const golden = join(dirname(fileURLToPath(import.meta.url)), '../boot/golden/compare.json');

function find(rows: readonly CompareRow[], workload: string, variant: string, pager: 'self' | 'central'): CompareRow {
  const row = rows.find((r) => r.workload === workload && r.variant === variant && r.pager === pager);
  if (!row) throw new Error(`no row ${workload} / ${variant} / ${pager}`);
  return row;
}

describe('self-paging against the central pager', () => {
  it('shows every demonstration\'s claim, with the same counts and cycles on every run', async () => {
    const rows = await runCompare();
    // 4x the guarantee: every page went out and came back, under both pagers, with the same data.
    const touchSelf = find(rows, 'touch', '4x the guarantee', 'self');
    expect(touchSelf.pageOuts).toBeGreaterThan(3 * 64);
    expect(touchSelf.pageIns).toBeGreaterThan(3 * 64);
    // The database: clock misses on every table page of every pass (96 a pass, 4 passes);
    // the application's policy takes far fewer page-ins; the central pager is clock for all.
    const clock = find(rows, 'database', 'clock for all', 'self');
    const app = find(rows, 'database', 'mru table, clock index', 'self');
    const centralDb = find(rows, 'database', 'one clock', 'central');
    expect(clock.pageIns).toBeGreaterThanOrEqual(4 * 96);
    expect(app.pageIns).toBeLessThan(clock.pageIns / 2);
    expect(centralDb.pageIns).toBeGreaterThanOrEqual(4 * 96);
    expect(app.ratio!).toBeLessThan(0.5);
    // The cache: discardable pages go without a write and finish sooner than paged ones.
    const discardable = find(rows, 'cache', 'discardable', 'self');
    const anonymous = find(rows, 'cache', 'anonymous', 'self');
    expect(discardable.pageOuts).toBe(0);
    expect(discardable.pageIns).toBe(0);
    expect(anonymous.pageOuts).toBeGreaterThan(0);
    expect(discardable.cycles).toBeLessThan(anonymous.cycles);
    expect(discardable.ratio!).toBeLessThan(1);
    // QoS: next to a thrasher the well-behaved task's faults and own cycles stay within 5% of
    // running alone when it pages itself; under the central pager they do not.
    const alone = find(rows, 'qos', 'alone', 'self');
    const beside = find(rows, 'qos', 'next to a thrasher', 'self');
    expect(beside.faults).toBeLessThanOrEqual(alone.faults * 1.05);
    expect(beside.ownCycles).toBeLessThanOrEqual(alone.ownCycles * 1.05);
    const centralAlone = find(rows, 'qos', 'alone', 'central');
    const centralBeside = find(rows, 'qos', 'next to a thrasher', 'central');
    expect(centralBeside.faults).toBeGreaterThan(centralAlone.faults + 100);
    expect(centralBeside.pageIns).toBeGreaterThan(100);
    expect(centralBeside.cycles).toBeGreaterThan(beside.cycles);
    if (process.env.L4HURD_UPDATE_GOLDEN === '1') writeFileSync(golden, JSON.stringify(rows, null, 1) + '\n');
    expect(existsSync(golden), 'golden/compare.json is missing: run npm run golden').toBe(true);
    expect(rows).toEqual(JSON.parse(readFileSync(golden, 'utf8')));
  }, 240_000);
});

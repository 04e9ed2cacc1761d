// `regions`: a self-paging task's regions and pages as its libhurd-mm keeps them, read through
// the introspection libhurd-mm publishes (libhurd-mm/introspect.ts), on the paging workloads'
// images; looking at them changes nothing.
import { beforeAll, describe, expect, it } from 'vitest';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildImage } from '../../tools/build.ts';
import { drive, machineState } from './harness.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
let database: Uint8Array;
let central: Uint8Array;
let liar: Uint8Array;

beforeAll(async () => {
  database = await buildImage(join(root, 'images/mm-database.json'));
  central = await buildImage(join(root, 'images/mm-cache-central.json'));
  liar = await buildImage(join(root, 'test/debug/images/liar.json'));
}, 120_000);

/** The rows of a `regions TASK` table: [start, end, pages, rights, kind, policy, hint, resident, dirty, stored, discarded]. */
function regionRows(output: string, task: number): string[][] {
  const lines = output.split('\n');
  const at = lines.indexOf(`(l4hurd) regions ${task}`);
  expect(at).toBeGreaterThanOrEqual(0);
  const rows: string[][] = [];
  for (let i = at + 1; i < lines.length && !lines[i]!.startsWith('(l4hurd)'); i++) {
    const m = /^0x([0-9a-f]{8})-0x([0-9a-f]{8})\s+(.*)$/.exec(lines[i]!);
    if (m) rows.push([m[1]!, m[2]!, ...m[3]!.trim().split(/\s+/)]);
  }
  return rows;
}

describe('regions', () => {
  it("shows each self-paging task's regions, own policies and pages, consistent with its frames", () => {
    const { output } = drive(database, ['until 20000000', 'regions', 'regions 6', 'regions 7', 'regions 4', 'regions 1 2']);
    // The list: both database tasks page themselves under clock.
    expect(output).toMatch(/^6\s+db-clock\s+self-paging\s+clock\s+\S+\s+1\s+\d+$/m);
    expect(output).toMatch(/^7\s+db-app\s+self-paging\s+clock\s+\S+\s+2\s+\d+$/m);
    // db-clock: one anonymous region, no policy of its own.
    const clock = regionRows(output, 6);
    expect(clock).toHaveLength(1);
    expect(clock[0]!.slice(3, 7)).toEqual(['rw-', 'anonymous', '-', '-']);
    // db-app: the table under mru, the index under clock, next to each other.
    const app = regionRows(output, 7);
    expect(app.map((r) => r[5])).toEqual(['mru', 'clock']);
    expect(parseInt(app[0]![1]!, 16) + 1).toBe(parseInt(app[1]![0]!, 16));
    for (const [task, rows] of [[6, clock], [7, app]] as const) {
      const held = Number(new RegExp(`task ${task} \\(db-\\w+\\): self-paging[^]*?frames held (\\d+)`).exec(output)![1]);
      expect(held).toBe(64);
      const resident = rows.reduce((n, r) => n + Number(r[7]), 0);
      // Every resident page is in one of the task's frames; the run has paged by now.
      expect(resident).toBeGreaterThan(0);
      expect(resident).toBeLessThanOrEqual(held);
      for (const r of rows) {
        expect(Number(r[8])).toBeLessThanOrEqual(Number(r[7]));
        expect(Number(r[9])).toBeLessThanOrEqual(Number(r[2]));
      }
      expect(rows.reduce((n, r) => n + Number(r[9]), 0)).toBeGreaterThan(0);
    }
    expect(output).toContain('regions: no task 4 has started libhurd-mm (those that have: 6, 7)');
    expect(output).toContain('regions: regions takes one TASK at most');
  }, 120_000);

  it('changes nothing: a run that looks at the regions ends in the same machine as one that does not', () => {
    const looked = drive(database, ['until 20000000', 'regions', 'regions 6', 'regions 7', 'until 24000000', 'regions 7', 'until 30000000']);
    const plain = drive(database, ['until 30000000']);
    expect(machineState(looked.session)).toEqual(machineState(plain.session));
  }, 120_000);

  it('a task under the central pager is listed as its client', () => {
    const { output } = drive(central, ['until 6000000', 'regions', 'regions 7']);
    expect(output).toMatch(/^7\s+cache-disc\s+central pager\s+-\s+\S+\s+1\s+-$/m);
    expect(output).toMatch(/task 7 \(cache-disc\): paged by the central pager/);
    expect(regionRows(output, 7)[0]!.slice(3, 11)).toEqual(['rw-', 'discardable', '-', '-', '-', '-', '-', '-']);
  }, 120_000);

  it("a program's introspection of the wrong shape, or one that throws, is one line naming the module, never an internal error", () => {
    const { output } = drive(liar, ['step 30', 'regions', 'regions', 'regions', 'regions 9', 'frames', 'containers', 'echo still here']);
    expect(output).not.toMatch(/internal error/);
    expect(output).toContain("module liar's introspection is not libhurd-mm's: task 0's policy is not a string");
    expect(output).toContain("module liar's introspection is not libhurd-mm's: task 0's region 0's start is not a number");
    expect(output).toContain("module liar's introspection failed: Error: no introspection today");
    expect(output).toMatch(/regions: no task 9 has started libhurd-mm; module liar's/);
    expect(output).toContain('still here');
  }, 120_000);
});

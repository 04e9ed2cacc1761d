// The eviction policies on hand-made sequences, without the machine: a fake MMU supplies the
// referenced and dirty bits each status read takes (and resets), as Unmap does.
import { describe, expect, it } from 'vitest';
import type { Op } from '../../libl4/abi.ts';
import { Page } from '../../libhurd-mm/page.ts';
import { chooseVictim, makeScope, seededRandom, STATUS_BATCH, type ChoiceContext } from '../../libhurd-mm/policies.ts';
import type { Candidate, Policy } from '../../libhurd-mm/types.ts';

/** Runs a generator that never yields to a kernel (the fake context does no system calls). */
function run<T>(op: Op<T>): T {
  for (;;) {
    const step = op.next();
    if (step.done) return step.value;
  }
}

/** The fake MMU: bits set by `touch`, read and reset by status reads. */
class FakeMmu implements ChoiceContext {
  readonly accessed = new Set<number>();
  readonly written = new Set<number>();
  reads = 0;
  readonly warnings: string[] = [];
  now = 0;
  private readonly draw = seededRandom(42);
  touch(page: Page, write = false): void {
    this.accessed.add(page.address);
    if (write) this.written.add(page.address);
  }
  *readStatus(pages: readonly Page[]): Op<void> {
    expect(pages.length).toBeLessThanOrEqual(STATUS_BATCH);
    this.reads++;
    for (const page of pages) {
      if (this.accessed.delete(page.address)) {
        page.refs = 3;
        page.lastUse = this.now;
      }
      if (this.written.delete(page.address)) page.dirty = true;
    }
  }
  random(n: number): number {
    return this.draw(n);
  }
  *warn(text: string): Op<void> {
    this.warnings.push(text);
  }
}

function pages(n: number): Page[] {
  return Array.from({ length: n }, (_, i) => {
    const page = new Page(0x10000000 + i * 4096);
    page.mapped = 6;
    page.index = i;
    return page;
  });
}

function scopeOf(policy: Policy, members: readonly Page[], level: 0 | 1 = 0) {
  const scope = makeScope(policy, level);
  for (const page of members) scope.insert(page);
  return scope;
}

describe('clock', () => {
  it('gives referenced pages a second chance and evicts the first that was not referenced', () => {
    const mmu = new FakeMmu();
    const [a, b, c, d] = pages(4) as [Page, Page, Page, Page];
    const clock = scopeOf('clock', [a, b, c, d]);
    mmu.touch(a);
    mmu.touch(c);
    expect(run(clock.choose(mmu))).toBe(b);
    clock.remove(b);
    // The hand is at c, which was referenced (read at the last choice, not yet passed): it is
    // spared, and d goes.
    expect(run(clock.choose(mmu))).toBe(d);
    clock.remove(d);
    // a's bit was cleared when the hand passed it; c's just now. Neither was touched since: a.
    expect(run(clock.choose(mmu))).toBe(a);
  });

  it('clears every bit in one turn when all were referenced, then evicts where it started', () => {
    const mmu = new FakeMmu();
    const list = pages(5);
    const clock = scopeOf('clock', list);
    for (const page of list) mmu.touch(page);
    expect(run(clock.choose(mmu))).toBe(list[0]);
    expect(list.every((page) => (page.refs & 1) === 0)).toBe(true);
  });

  it('reads the bits of at most 64 pages a call, and never chooses a pinned page', () => {
    const mmu = new FakeMmu();
    const list = pages(200);
    const clock = scopeOf('clock', list);
    for (const page of list.slice(0, 150)) mmu.touch(page);
    list[150]!.pins = 1;
    expect(run(clock.choose(mmu))).toBe(list[151]);
    expect(mmu.reads).toBe(3);
  });

  it('new pages go behind the hand: the last the hand reaches', () => {
    const mmu = new FakeMmu();
    const [a, b, c] = pages(3) as [Page, Page, Page];
    const clock = scopeOf('clock', [a, b]);
    mmu.touch(a);
    expect(run(clock.choose(mmu))).toBe(b); // the hand is now at a
    clock.remove(b);
    clock.insert(c); // behind the hand: after a
    mmu.touch(a);
    expect(run(clock.choose(mmu))).toBe(c);
    expect(clock.members()).toEqual([a, c]);
  });
});

describe('fifo, mru and random', () => {
  it('fifo evicts the page that came in first, skipping pinned ones', () => {
    const mmu = new FakeMmu();
    const list = pages(4);
    const fifo = scopeOf('fifo', list);
    for (const page of list) mmu.touch(page);
    expect(run(fifo.choose(mmu))).toBe(list[0]);
    list[0]!.pins = 1;
    expect(run(fifo.choose(mmu))).toBe(list[1]);
    expect(mmu.reads).toBe(0);
  });

  it('mru evicts the page that came in last', () => {
    const mmu = new FakeMmu();
    const list = pages(4);
    const mru = scopeOf('mru', list);
    expect(run(mru.choose(mmu))).toBe(list[3]);
    mru.remove(list[3]!);
    expect(run(mru.choose(mmu))).toBe(list[2]);
    const late = new Page(0x20000000);
    mru.insert(late);
    expect(run(mru.choose(mmu))).toBe(late);
  });

  it('random draws members with the seeded generator, the same sequence every time', () => {
    const draws = (): number[] => {
      const mmu = new FakeMmu();
      const list = pages(8);
      const random = scopeOf('random', list);
      const out: number[] = [];
      for (let i = 0; i < 40; i++) out.push(list.indexOf(run(random.choose(mmu))!));
      return out;
    };
    const first = draws();
    expect(draws()).toEqual(first);
    expect(new Set(first).size).toBeGreaterThan(4);
    expect(first.every((i) => i >= 0 && i < 8)).toBe(true);
  });

  it('random removal keeps the rest drawable', () => {
    const mmu = new FakeMmu();
    const list = pages(3);
    const random = scopeOf('random', list);
    random.remove(list[0]!);
    list[1]!.pins = 1;
    for (let i = 0; i < 10; i++) expect(run(random.choose(mmu))).toBe(list[2]);
  });
});

describe('a policy function', () => {
  it('is obeyed, and sees fresh referenced and dirty bits and ages, oldest first', () => {
    const mmu = new FakeMmu();
    const list = pages(4);
    mmu.now = 10;
    list.forEach((page, i) => (page.lastUse = i * 2));
    let seen: readonly Candidate[] = [];
    // Evict the youngest page not referenced.
    const policy = (candidates: readonly Candidate[]): Candidate => {
      seen = candidates;
      return candidates.filter((c) => !c.referenced).sort((x, y) => x.age - y.age)[0]!;
    };
    const scope = scopeOf(policy, list);
    mmu.touch(list[3]!, true);
    mmu.touch(list[0]!);
    expect(run(scope.choose(mmu))).toBe(list[2]);
    expect(seen.map((c) => c.address)).toEqual(list.map((p) => p.address));
    expect(seen.map((c) => c.referenced)).toEqual([true, false, false, true]);
    expect(seen.map((c) => c.dirty)).toEqual([false, false, false, true]);
    expect(seen.map((c) => c.age)).toEqual([0, 8, 6, 0]);
    expect(Object.isFrozen(seen[0])).toBe(true);
  });

  it('may answer with an address', () => {
    const mmu = new FakeMmu();
    const list = pages(3);
    const scope = scopeOf((candidates) => candidates[1]!.address, list);
    expect(run(scope.choose(mmu))).toBe(list[1]);
  });

  it('one that throws or answers nothing it was offered gets the oldest page, and one warning', () => {
    const mmu = new FakeMmu();
    const list = pages(3);
    const bad = scopeOf(() => ({ address: 1, referenced: false, dirty: false, age: 0 }), list);
    expect(run(bad.choose(mmu))).toBe(list[0]);
    expect(run(bad.choose(mmu))).toBe(list[0]);
    expect(mmu.warnings).toEqual(['the policy function returned no candidate; the oldest page goes instead']);
    const throwing = scopeOf(() => {
      throw new Error('no idea');
    }, pages(2));
    run(throwing.choose(mmu));
    expect(mmu.warnings[1]).toBe('the policy function threw no idea; the oldest page goes instead');
  });
});

describe('two levels', () => {
  it("the task's policy picks the region, the region's own policy the page", () => {
    const mmu = new FakeMmu();
    const table = pages(4);
    const index = pages(2).map((p) => new Page(p.address + 0x1000000));
    for (const page of index) page.mapped = 6;
    const task = makeScope('clock', 0);
    const tableScope = makeScope('mru', 1);
    const indexScope = makeScope('clock', 1);
    // Interleaved arrival: index pages first, then the table.
    for (const page of [...index, ...table]) task.insert(page);
    for (const page of table) {
      tableScope.insert(page);
      page.own = tableScope;
    }
    for (const page of index) {
      indexScope.insert(page);
      page.own = indexScope;
    }
    // The index is in use, the table was scanned long ago: the task's clock lands on the table,
    // whose mru gives up its newest page.
    for (const page of index) mmu.touch(page);
    expect(run(chooseVictim(task, mmu))).toBe(table[3]);
    // Under clock alone the table's oldest page would have gone.
    const plainTable = pages(4);
    const plainIndex = pages(2).map((p) => Object.assign(new Page(p.address + 0x1000000), { mapped: 6 }));
    const plain = makeScope('clock', 0);
    for (const page of [...plainIndex, ...plainTable]) plain.insert(page);
    for (const page of plainIndex) mmu.touch(page);
    expect(run(chooseVictim(plain, mmu))).toBe(plainTable[0]);
  });
});

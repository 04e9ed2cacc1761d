// Kernel memory running out while a pager's map item is installed: the faulting thread retries a
// bounded number of times and is then halted and reported, the counter records every item cut
// short, and the rest of the system runs on (and the same fault is served once memory is back).

import { describe, expect, it } from 'vitest';
import { ErrorCode, ExchangeControl, TCR_MY_GLOBAL_ID, type Op, type ProgramEnv } from '../../libl4/abi.ts';
import { fpage, Rights } from '../../libl4/fpage.ts';
import { mapItem } from '../../libl4/map-item.ts';
import { msgTag } from '../../libl4/msg-tag.ts';
import { loadMRs, readTcr, storeMRs } from '../../libl4/registers.ts';
import { exchangeRegisters, receive, replyWait, send, spaceControl, threadControl, wait } from '../../libl4/syscalls.ts';
import { MAP_RETRY_LIMIT } from '../../kernel/api/page-faults.ts';
import { sigma0 } from '../../servers/sigma0.ts';
import { timeout } from '../../libl4/timeout.ts';
import { ROOT_ID, boot, tid } from './support.ts';

describe('kernel memory exhaustion during map', () => {
  it('the faulting thread is halted after a bounded number of refused maps; the counter says so; the system runs on', () => {
    const PAGER = tid(200);
    const TOUCHER = tid(201);
    const SECOND = tid(202);
    const FILLER = 300;
    // A page in a 4 MiB region of the toucher's space that has no page table yet.
    const ADDRESS = 0x40000000;
    const seen: Record<string, number | string> = {};
    let faultsServed = 0;
    function* pager(env: ProgramEnv): Op<void> {
      // Serves every fault with the root task's page at 0x01000000 (mapped from sigma0).
      let r = yield* wait(env);
      for (;;) {
        faultsServed++;
        const [address] = yield* storeMRs(env, 1, 1);
        yield* loadMRs(env, [msgTag(0, 0, 2), ...mapItem((address! & ~0xfff) >>> 0, fpage(0x01000000, 12, Rights.Full))]);
        r = yield* replyWait(env, r.from);
      }
    }
    function* toucher(env: ProgramEnv): Op<void> {
      yield* env.write32(ADDRESS, 1);
      seen.toucherDone = 'yes';
    }
    function* second(env: ProgramEnv): Op<void> {
      yield* env.write32(ADDRESS, 2);
      yield* loadMRs(env, [msgTag(7, 1), yield* env.read32(ADDRESS)]);
      yield* send(env, ROOT_ID);
    }
    const b = boot(
      function* root(env: ProgramEnv): Op<void> {
        const me = yield* readTcr(env, TCR_MY_GLOBAL_ID);
        yield* env.write32(0x01000000, 0); // our page, which the pager hands on
        yield* threadControl(env, PAGER, me, me, me, 0xbf000200);
        yield* exchangeRegisters(env, PAGER, ExchangeControl.SetIp | ExchangeControl.HaltValid, 0, env.codeAddress(pager), 0, 0, 0);
        for (const [id, body] of [
          [TOUCHER, toucher],
          [SECOND, second],
        ] as const) {
          yield* threadControl(env, id, id, me, 0, 0xbf000000);
          yield* spaceControl(env, id, 0, fpage(0xbff00000, 12), fpage(0xbf000000, 12), 0);
          yield* threadControl(env, id, id, me, me, 0xbf000000);
          void body;
        }
        // Take every frame of kernel memory that is left, with threads that never run.
        let fillers = 0;
        for (;;) {
          const r = yield* threadControl(env, tid(FILLER + fillers), me, me, 0, 0xbf000400 + 0x200 * fillers);
          if (!r.ok) {
            seen.fillError = r.errorCode;
            break;
          }
          fillers++;
        }
        seen.fillers = fillers;
        seen.free = b.kernel.kmem.available;
        // The toucher's fault needs a page table: the pager's map cannot be installed. (Started
        // by us, its pager until then.)
        yield* loadMRs(env, [msgTag(0, 2), env.codeAddress(toucher), 0]);
        yield* send(env, TOUCHER);
        yield* threadControl(env, TOUCHER, TOUCHER, 0, PAGER, 0xffffffff);
        yield* receive(env, me, timeout(500));
        seen.afterExhaustion = b.kernel.counters.mapNoMemory;
        // Memory comes back: the second thread's same fault is served, and it reports.
        for (let i = 0; i < 4; i++) yield* threadControl(env, tid(FILLER + i), 0, 0, 0, 0xffffffff);
        yield* loadMRs(env, [msgTag(0, 2), env.codeAddress(second), 0]);
        yield* send(env, SECOND);
        yield* threadControl(env, SECOND, SECOND, 0, PAGER, 0xffffffff);
        const r = yield* receive(env, SECOND);
        seen.secondLabel = r.tag.label;
        seen.secondValue = (yield* storeMRs(env, 1, 1))[0]!;
      },
      { sigma0, config: { kernelMemory: { base: 0x100000, size: 0x40000 } } },
    );
    const result = b.run(1e10);
    expect(result.reason).toBe('idle');
    expect(seen.fillError).toBe(ErrorCode.NoMemory);
    expect(seen.free).toBe(0);
    expect(seen.toucherDone).toBeUndefined();
    // The first fault and MAP_RETRY_LIMIT retries, each answered by a map the kernel refused.
    expect(seen.afterExhaustion).toBe(MAP_RETRY_LIMIT + 1);
    expect(b.output()).toContain(`kernel: thread 201.1 halted: page fault at 0x40000000: kernel memory ran out mapping the pager's reply (${MAP_RETRY_LIMIT + 1} times)`);
    expect(b.kernel.counters.threadsHalted).toBe(1);
    expect(seen.secondLabel).toBe(7);
    expect(seen.secondValue).toBe(2);
    expect(faultsServed).toBe(MAP_RETRY_LIMIT + 2);
    expect(b.kernel.counters.mapNoMemory).toBe(MAP_RETRY_LIMIT + 1);
    expect(b.kernel.checkInvariants()).toEqual([]);
    expect(b.machine.cpu.counters.staleTranslations).toBe(0);
  });
});

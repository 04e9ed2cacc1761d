// A task that uses physmem the way the seeds describe, printing what it sees as `ops: ...` lines
// (test/servers/physmem.test.ts checks them): the "mapping a page" example, info and stats, a
// copy-on-write copy and a shared copy within one task (with the data read back through both
// mappings), create_from, copy_gather, unmap_all, locks, and the refusals of the interface.
import type { Op, ProgramEnv } from '../../../libl4/abi.ts';
import { Rights } from '../../../libl4/fpage.ts';
import * as physmem from '../../../servers/physmem/client.ts';
import * as policy from '../../../servers/policy/client.ts';
import { print, program } from '../../../servers/runtime.ts';

const A = 0x20000000;
const B = 0x21000000;
const C = 0x22000000;

function* refusal(op: Op<unknown>): Op<string> {
  try {
    yield* op;
    return 'ok';
  } catch (error) {
    return error instanceof physmem.PhysmemError ? error.code : `unexpected ${String(error)}`;
  }
}

export default program(function* ops(env: ProgramEnv): Op<number> {
  const out = (line: string): Op<void> => print(env, `ops: ${line}\n`);
  const start = yield* physmem.stats(env);
  yield* out(`stats total=${start.total} free=${start.free} reserved=${start.reserved} allocated=${start.allocated}`);

  // Mapping a page: create, allocate, map, touch, read back.
  const a = yield* physmem.create(env);
  yield* out(`create version ${(yield* physmem.info(env, a)).version}`);
  yield* out(`allocate version ${yield* physmem.allocate(env, a, 0, 4)}`);
  const reserved = yield* physmem.stats(env);
  yield* out(`after allocate free=${start.free - reserved.free} reserved=${reserved.reserved - start.reserved}`);
  yield* out(`map version ${yield* physmem.map(env, a, 0, 4, A, Rights.ReadWrite)}`);
  for (let i = 0; i < 4; i++) yield* env.write32(A + i * 4096, 0xa0000000 + i);
  const values: number[] = [];
  for (let i = 0; i < 4; i++) values.push(yield* env.read32(A + i * 4096));
  yield* out(`read back ${values.map((v) => v.toString(16)).join(' ')}`);
  const info = yield* physmem.info(env, a);
  yield* out(`info frames=${info.frames} version=${info.version} locked=${info.locked} weak=${info.weak}`);

  // A copy-on-write copy: the same data, and a write on either side leaves the other's alone.
  const b = yield* physmem.create(env, { frames: 4 });
  yield* out(`copy version ${yield* physmem.copy(env, a, 0, b, 0, 4)} source version ${(yield* physmem.info(env, a)).version}`);
  yield* physmem.map(env, b, 0, 4, B, Rights.Read);
  yield* out(`copy reads ${(yield* env.read32(B + 4096)).toString(16)}`);
  yield* physmem.map(env, b, 1, 1, B + 4096, Rights.ReadWrite);
  yield* env.write32(B + 4096, 0xbbbb0001);
  yield* physmem.map(env, a, 2, 1, A + 2 * 4096, Rights.ReadWrite);
  yield* env.write32(A + 2 * 4096, 0xaaaa0002);
  yield* physmem.map(env, b, 2, 1, B + 2 * 4096, Rights.Read);
  yield* out(`after writes a=${(yield* env.read32(A + 4096)).toString(16)},${(yield* env.read32(A + 2 * 4096)).toString(16)} b=${(yield* env.read32(B + 4096)).toString(16)},${(yield* env.read32(B + 2 * 4096)).toString(16)}`);

  // A shared copy: writes through either container are seen through both.
  const c = yield* physmem.create(env);
  yield* physmem.copy(env, a, 3, c, 0, 1, { shared: true });
  yield* physmem.map(env, c, 0, 1, C, Rights.ReadWrite);
  yield* env.write32(C, 0xcccc0003);
  yield* physmem.map(env, a, 3, 1, A + 3 * 4096, Rights.ReadWrite);
  yield* out(`shared a3=${(yield* env.read32(A + 3 * 4096)).toString(16)}`);

  // create_from and copy_gather.
  const d = yield* physmem.createFrom(env, a, 1, 2);
  yield* physmem.map(env, d, 0, 2, C + 0x10000, Rights.Read);
  yield* out(`create_from ${(yield* env.read32(C + 0x10000)).toString(16)} ${(yield* env.read32(C + 0x11000)).toString(16)}`);
  const g = yield* physmem.create(env);
  yield* physmem.copyGather(env, a, [3, 0], g, 5);
  yield* physmem.map(env, g, 5, 2, C + 0x20000, Rights.Read);
  yield* out(`copy_gather ${(yield* env.read32(C + 0x20000)).toString(16)} ${(yield* env.read32(C + 0x21000)).toString(16)}`);

  // Locks.
  const physical = yield* physmem.lockPhysical(env, a, false);
  yield* out(`lock_physical ${physical.length} frames, ${physical.every((p) => p % 4096 === 0) ? 'page aligned' : 'unaligned'}, ${new Set(physical).size} distinct`);
  yield* out(`locked: deallocate ${yield* refusal(physmem.deallocate(env, a, 0, 1))}, destroy ${yield* refusal(physmem.destroy(env, a))}, lock ${yield* refusal(physmem.lockMap(env, a, false))}, copy over ${yield* refusal(physmem.copy(env, b, 0, a, 0, 1))}`);
  yield* out(`unlock version ${yield* physmem.unlock(env, a)}`);
  yield* out(`unmap_all version ${yield* physmem.unmapAll(env, a)}`);
  // The mappings are gone; the next access faults and the default pager maps the page again.
  yield* out(`after unmap_all reads ${(yield* env.read32(A + 2 * 4096)).toString(16)}`);
  yield* physmem.map(env, a, 0, 1, A, Rights.Read);
  yield* out(`mapped again reads ${(yield* env.read32(A)).toString(16)}`);

  // Refusals.
  yield* out(`allocated twice ${yield* refusal(physmem.allocate(env, a, 0, 1))}`);
  yield* out(`deallocate unallocated ${yield* refusal(physmem.deallocate(env, a, 9, 1))}`);
  yield* out(`map unallocated ${yield* refusal(physmem.map(env, a, 3, 2, A, Rights.Read))}`);
  yield* out(`map unaligned ${yield* refusal(physmem.map(env, a, 0, 1, A + 4, Rights.Read))}`);
  yield* out(`map without read ${yield* refusal(physmem.map(env, a, 0, 1, A, Rights.Write))}`);
  yield* out(`map over the UTCB area ${yield* refusal(physmem.map(env, a, 0, 1, 0xbf000000, Rights.Read))}`);
  yield* out(`forged handle ${yield* refusal(physmem.info(env, 0x1234567))}`);
  yield* out(`too many frames ${yield* refusal(physmem.create(env, { frames: start.total + 1 }))}`);
  yield* out(`control without the capability ${yield* refusal(physmem.setGuarantee(env, 5, 1))}`);
  yield* out(`unlock when unlocked ${yield* refusal(physmem.unlock(env, a))}`);
  yield* out(`grant to no task ${yield* refusal(physmem.grantAccess(env, a, 0x3ffe))}`);
  yield* physmem.destroy(env, d);
  yield* out(`stale handle ${yield* refusal(physmem.info(env, d))}`);

  // Guarantees through the policy server.
  const granted = yield* policy.negotiate(env, 100);
  const after = yield* physmem.stats(env);
  yield* out(`negotiated ${granted}, guaranteed ${after.guaranteed - start.guaranteed} more`);

  for (const cap of [a, b, c, g]) yield* physmem.destroy(env, cap);
  return 0;
});

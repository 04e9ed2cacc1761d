import { describe, expect, it } from 'vitest';
import { Syscall, mrOffset, type ProgramEnv } from '../../libl4/abi.ts';
import { ROOT_ID, boot, tid } from './support.ts';

describe('kernel smoke', () => {
  it('boots a root task that prints, creates a thread, starts it and exchanges IPC', () => {
    const child = tid(100);
    const b = boot(function* (env: ProgramEnv) {
      yield* env.print('root: hello\n');
      const [kip] = yield* env.syscall(Syscall.KernelInterface, []);
      const magic = yield* env.read32(kip!);
      yield* env.print(`root: kip magic ${magic!.toString(16)}\n`);
      const worker = function* (e: ProgramEnv) {
        yield* e.print(`worker: started sp=${e.sp}\n`);
        // receive from anyone, reply with label 7 and word = x + 1
        yield* e.write32(e.utcb + mrOffset(0), 0);
        const [from] = yield* e.syscall(Syscall.Ipc, [0, 0xffffffff, 0]);
        const x = yield* e.read32(e.utcb + mrOffset(1));
        yield* e.write32(e.utcb + mrOffset(0), (7 << 16) | 1);
        yield* e.write32(e.utcb + mrOffset(1), x + 1);
        yield* e.syscall(Syscall.Ipc, [from!, 0, 0x04000400]);
      };
      const [ok] = yield* env.syscall(Syscall.ThreadControl, [child, ROOT_ID, ROOT_ID, ROOT_ID, 0xbf000200]);
      yield* env.print(`root: ThreadControl -> ${ok}\n`);
      // start message: MR0 tag u=2, MR1 ip, MR2 sp
      yield* env.writeWords(env.utcb + mrOffset(0), [2, env.codeAddress(worker), 1234]);
      yield* env.syscall(Syscall.Ipc, [child, 0, 0]);
      // call the worker
      yield* env.writeWords(env.utcb + mrOffset(0), [1, 41]);
      const [from] = yield* env.syscall(Syscall.Ipc, [child, child, 0]);
      const [tag, value] = yield* env.readWords(env.utcb + mrOffset(0), 2);
      yield* env.print(`root: reply from ${from!.toString(16)} tag ${tag!.toString(16)} value ${value}\n`);
    });
    const result = b.run();
    expect(b.output()).toContain('root: kip magic 4be6344c');
    expect(b.output()).toContain('root: ThreadControl -> 1');
    expect(b.output()).toContain('worker: started sp=1234');
    expect(b.output()).toContain('root: reply from bf000200 tag 70001 value 42');
    expect(result.reason).toBe('idle');
    expect(b.kernel.checkInvariants()).toEqual([]);
    expect(b.machine.cpu.counters.staleTranslations).toBe(0);
  });
});

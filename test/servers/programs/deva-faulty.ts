// The disk driver with a fault injected, for the tests (module name `deva`: wortel gives the
// disk to the module of that name). fault=extra-operation: one operation on the container more
// than it reports (an unmap_all after the unlock); fault=dma-outside: every DMA address moved
// past the end of RAM (the controller refuses the commands). The faults spare the first
// container the driver serves (the file server's metadata buffer), so that the volume mounts.
import type { Op, ProgramEnv } from '../../../libl4/abi.ts';
import { driver } from '../../../servers/deva/main.ts';
import { commandLineOptions, program } from '../../../servers/runtime.ts';

export default program(function* faultyDeva(env: ProgramEnv, args: string): Op<number> {
  const fault = commandLineOptions(args).fault;
  return yield* driver(env, args, fault === 'extra-operation' ? { extraOperation: true, fromContainer: 1 } : fault === 'dma-outside' ? { dmaOffset: 0x80000000, fromContainer: 1 } : {});
});

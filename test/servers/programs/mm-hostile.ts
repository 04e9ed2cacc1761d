// A hostile client of the store and the central pager: seeded random requests (their labels
// and others, 0 to 6 words of small numbers, page addresses and any 32-bit values, page-fault
// messages it has no business sending, an attach of its own thread), each a call with a receive
// timeout, so that a request the server does not answer costs only the wait. It prints how the
// servers answered: `mm-hostile: N requests, A answered (E refused), S silent`.
//   ops=N (default 300) seed=S
import { TCR_MY_GLOBAL_ID, type Op, type ProgramEnv } from '../../../libl4/abi.ts';
import { loadMessage, readTcr } from '../../../libl4/registers.ts';
import { call } from '../../../libl4/syscalls.ts';
import { timeout, timeouts } from '../../../libl4/timeout.ts';
import { CentralOp } from '../../../servers/central-pager/protocol.ts';
import { commandLineOptions, numberOption, print, program } from '../../../servers/runtime.ts';
import { StoreOp } from '../../../servers/store/protocol.ts';
import * as task from '../../../servers/task/client.ts';
import { seededRandom } from './common.ts';

const LABELS = [...Object.values(StoreOp), ...Object.values(CentralOp), 0xffe2, 0xffe4, 0x5440, 0x5a01, 0];

export default program(function* hostile(env: ProgramEnv, args: string): Op<number> {
  const options = commandLineOptions(args);
  const ops = numberOption(options, 'ops', 300);
  const random = seededRandom(numberOption(options, 'seed', 99));
  const me = yield* readTcr(env, TCR_MY_GLOBAL_ID);
  const targets: number[] = [];
  for (const name of ['store', 'central-pager']) {
    try {
      targets.push(yield* task.lookup(env, name));
    } catch {
      // Not in this image.
    }
  }
  const word = (): number => {
    switch (random(5)) {
      case 0:
        return random(16);
      case 1:
        return (0x10000000 + random(64) * 4096) >>> 0;
      case 2:
        return random(0x7fffffff) * 2 + random(2);
      case 3:
        return me;
      default:
        return [0, 1, 4096, 0xffffffff, 0xbf000000, 0x80000000][random(6)]!;
    }
  };
  let answered = 0;
  let refused = 0;
  let silent = 0;
  for (let i = 0; i < ops; i++) {
    const to = targets[random(targets.length)]!;
    const label = random(8) === 0 ? random(0x10000) : LABELS[random(LABELS.length)]!;
    const words = Array.from({ length: random(7) }, word);
    yield* loadMessage(env, { label, words });
    const result = yield* call(env, to, timeouts(timeout(1000), timeout(2000)));
    if (result.tag.error) silent++;
    else {
      answered++;
      if (result.tag.label !== 0) refused++;
    }
  }
  yield* print(env, `mm-hostile: ${ops} requests, ${answered} answered (${refused} refused), ${silent} silent\n`);
  return 0;
});

// A client of the checksum server: it writes text into a container of its own, shares the
// container with the server's task, and asks for the sum of the bytes.
//
// Command line: `server=N`, the server's thread number (a boot program's first thread is 1000
// plus its place among the image's programs).
import { Rights } from '../../libl4/fpage.ts';
import type { Op, ProgramEnv } from '../../libl4/abi.ts';
import { loadMessage, storeMessage } from '../../libl4/registers.ts';
import { call } from '../../libl4/syscalls.ts';
import * as physmem from '../../servers/physmem/client.ts';
import { commandLineOptions, numberOption, print, program } from '../../servers/runtime.ts';
import * as task from '../../servers/task/client.ts';
import { encodeUtf8 } from '../../servers/text.ts';
import { CHECKSUM, STOP } from './checksum-server.ts';

const TEXT = 0x10000000;

export default program(function* checksumClient(env: ProgramEnv, args: string): Op<number> {
  const server = yield* task.threadId(env, numberOption(commandLineOptions(args), 'server', 1003));
  const text = encodeUtf8('Containers let a client supply the memory a server works on.');

  // Memory of our own: a container of one frame, mapped where we like, written like any memory.
  const container = yield* physmem.create(env, { frames: 1 });
  yield* physmem.map(env, container, 0, 1, TEXT, Rights.ReadWrite);
  yield* env.writeBytes(TEXT, text);

  // The server gets a weak reference: it may map and read, not destroy or free our frames.
  const handle = yield* physmem.share(env, container, yield* task.taskOf(env, server));
  yield* loadMessage(env, { label: CHECKSUM, words: [handle, text.length] });
  const reply = yield* call(env, server);
  const [sum] = (yield* storeMessage(env, reply.tag)).words;
  const expected = text.reduce((a, b) => a + b, 0);
  yield* print(env, `checksum-client: the server says ${sum}, we say ${expected}\n`);

  yield* loadMessage(env, { label: STOP });
  yield* call(env, server);
  return sum === expected ? 0 : 1;
});

// A first server: it sums the bytes a client hands it in a container.
//
// The client shares a container with us (a weak reference, valid in our task) and calls with
// label CHECKSUM, MR1 = the handle, MR2 = the byte count. We map the container's frames into our
// own space, read the bytes, and reply with label 0 and MR1 = their sum; a bad request gets an
// error number as the reply label. `serve` is libl4's reply-wait loop.
import { Rights } from '../../libl4/fpage.ts';
import type { Op, ProgramEnv } from '../../libl4/abi.ts';
import type { OutgoingMessage } from '../../libl4/registers.ts';
import { serve, type ServerRequest } from '../../libl4/server.ts';
import { Errno } from '../../servers/errno.ts';
import * as physmem from '../../servers/physmem/client.ts';
import { print, program } from '../../servers/runtime.ts';

export const CHECKSUM = 1;
export const STOP = 2;
const WINDOW = 0x20000000;

export default program(function* checksumServer(env: ProgramEnv): Op<number> {
  let served = 0;
  yield* serve(env, function* (request: ServerRequest): Op<OutgoingMessage | { stop: true; reply: OutgoingMessage } | null> {
    if (request.tag.label === STOP) return { stop: true, reply: { label: 0 } };
    const [handle, bytes] = request.words;
    if (request.tag.label !== CHECKSUM || handle === undefined || bytes === undefined || bytes > 16 * 4096) return { label: Errno.EINVAL };
    const pages = Math.ceil(bytes / 4096);
    try {
      yield* physmem.map(env, handle, 0, pages, WINDOW, Rights.Read);
    } catch (error) {
      return { label: error instanceof physmem.PhysmemError ? Errno[error.code] : Errno.EIO };
    }
    let sum = 0;
    for (const byte of yield* env.readBytes(WINDOW, bytes)) sum = (sum + byte) >>> 0;
    served++;
    return { label: 0, words: [sum] };
  });
  yield* print(env, `checksum-server: served ${served} requests\n`);
  return 0;
});

// The store: a swap server that keeps paged-out pages for its clients (libhurd-mm's pagers and
// the central pager), on a medium that stands in for a disk (disk.ts).
//
// Clients supply the memory of every transfer (002: "clients should supply required resources
// to servers"): a client shares a container of its own with the store and attaches it, and each
// request names a frame of it. To write, the store maps that frame into its own space read-only,
// copies the page out and unmaps it; to read, it maps the frame writable and copies the page in.
// The store holds no frames of its own and no mapping of a client's memory between requests.
//
// The cost of the medium: every page written or read is charged PAGE_CYCLES of work (the
// command line's page-cycles), on top of what the transfer costs on the machine (the map
// request, 1,024 accesses to copy the page, the Unmap). The default, 50,000 cycles (68 µs on the
// p3's 733 MHz), is a fast swap device without seeks: 50,000 times a memory access that hits
// the TLB (1 cycle), the "thousands of times slower than memory" of 002. A rotating disk's seek
// and rotation (about 5 ms) would be 3.7 million cycles on the p3.
//
// A handle names a container only in the store's own table, so a client could try to name a
// container someone else shared with the store. Attach refuses (EPERM) unless physmem says the
// caller is the task that gave the store that reference. Keys are kept per client task; a client
// that dies loses its pages (the store watches every client it serves).
//
// Command line: page-cycles=N (default 50000), pages=N (the medium's size in pages, default
// 262144: 1 GiB), quiet (no boot line).

import type { Op, ProgramEnv } from '../../libl4/abi.ts';
import { acceptor } from '../../libl4/acceptor.ts';
import { completeFpage, fpage, Rights } from '../../libl4/fpage.ts';
import type { OutgoingMessage } from '../../libl4/registers.ts';
import { setAcceptor } from '../../libl4/registers.ts';
import type { ServerRequest } from '../../libl4/server.ts';
import { unmapFpages } from '../../libl4/syscalls.ts';
import { Refusal, refuseUnless, ServerError } from '../errno.ts';
import * as physmem from '../physmem/client.ts';
import { PhysmemOp } from '../physmem/protocol.ts';
import { commandLineOptions, numberOption, print, program } from '../runtime.ts';
import { ServerLoop } from '../server-loop.ts';
import { startupOf } from '../startup.ts';
import * as task from '../task/client.ts';
import { BLOCK_BYTES, Disk } from './disk.ts';
import { StoreOp } from './protocol.ts';

/** The medium's cost per page moved, in cycles, unless the command line says otherwise. */
export const DEFAULT_PAGE_CYCLES = 50_000;
/** The store's own bookkeeping per request (an estimate, as physmem's). */
export const STORE_REQUEST_CYCLES = 200;
/** Where a client's frame appears in the store's space during a transfer. */
const WINDOW = 0x10000000;
const WINDOW_FPAGE = fpage(WINDOW, 12, Rights.Full);

interface Client {
  readonly task: number;
  /** The attached container: the store's handle for it (0 until attached). */
  handle: number;
  /** Kept pages: object -> offset -> block. */
  readonly objects: Map<number, Map<number, number>>;
  kept: number;
  reads: number;
  writes: number;
}

export default program(function* store(env: ProgramEnv, args: string): Op<number> {
  const options = commandLineOptions(args);
  const pageCycles = numberOption(options, 'page-cycles', DEFAULT_PAGE_CYCLES);
  const disk = new Disk(numberOption(options, 'pages', 262_144));
  const startup = yield* startupOf(env);
  yield* setAcceptor(env, 0);
  const clients = new Map<number, Client>();
  if (!('quiet' in options)) yield* print(env, `store: ${disk.capacity} pages, ${pageCycles} cycles a page moved\n`);

  function* clientOf(taskId: number): Op<Client> {
    let client = clients.get(taskId);
    if (!client) {
      client = { task: taskId, handle: 0, objects: new Map(), kept: 0, reads: 0, writes: 0 };
      clients.set(taskId, client);
      // Its pages go when it does.
      yield* task.watch(env, taskId);
    }
    return client;
  }

  /** Maps frame `index` of the client's container at the window (physmem's map, no bookkeeping). */
  function* mapFrame(client: Client, index: number, rights: number): Op<void> {
    refuseUnless(client.handle !== 0, 'EINVAL', `task ${client.task} attached no container`);
    try {
      yield* physmem.request(env, PhysmemOp.Map, [client.handle, index >>> 0, 1, WINDOW, rights], acceptor(completeFpage()));
    } catch (error) {
      if (error instanceof ServerError) throw new Refusal(error.code, `frame ${index} of task ${client.task}'s container: ${error.message}`);
      throw error;
    }
  }

  function* unmapWindow(): Op<void> {
    yield* unmapFpages(env, [WINDOW_FPAGE], true);
  }

  function drop(client: Client, object: number, offset: number): boolean {
    const pages = client.objects.get(object);
    const block = pages?.get(offset);
    if (block === undefined) return false;
    pages!.delete(offset);
    if (pages!.size === 0) client.objects.delete(object);
    disk.release(block);
    client.kept--;
    return true;
  }

  function* handle(request: ServerRequest): Op<OutgoingMessage | null> {
    const death = task.deathNotice(request.tag.label, request.words);
    if (death) {
      if (request.from !== startup.taskServer) return null;
      const client = clients.get(death.task);
      if (client) {
        for (const pages of client.objects.values()) for (const block of pages.values()) disk.release(block);
        clients.delete(death.task);
      }
      return null;
    }
    const w = request.words;
    const word = (i: number): number => (w[i] ?? 0) >>> 0;
    refuseUnless(request.tag.typed === 0, 'EINVAL', 'requests carry no typed items');
    const client = yield* clientOf(request.from & 0x3fff);
    yield* env.work(STORE_REQUEST_CYCLES);
    switch (request.tag.label) {
      case StoreOp.Attach: {
        let info: physmem.ContainerInfo;
        try {
          info = yield* physmem.info(env, word(0));
        } catch (error) {
          if (error instanceof ServerError) throw new Refusal(error.code, `no container ${word(0)}`);
          throw error;
        }
        refuseUnless(info.giver === client.task, 'EPERM', `task ${client.task} did not give the store container ${word(0)}`);
        client.handle = word(0);
        return { label: 0 };
      }
      case StoreOp.Write: {
        const [index, object, offset] = [word(0), word(1), word(2)];
        let block = client.objects.get(object)?.get(offset);
        const fresh = block === undefined;
        if (fresh) {
          block = disk.take();
          refuseUnless(block >= 0, 'ENOSPC', `the store is full (${disk.capacity} pages)`);
        }
        try {
          yield* mapFrame(client, index, Rights.Read);
          const bytes = yield* env.readBytes(WINDOW, BLOCK_BYTES);
          disk.block(block!).set(bytes);
          yield* unmapWindow();
        } catch (error) {
          if (fresh) disk.release(block!);
          throw error;
        }
        if (fresh) {
          let pages = client.objects.get(object);
          if (!pages) client.objects.set(object, (pages = new Map()));
          pages.set(offset, block!);
          client.kept++;
        }
        client.writes++;
        yield* env.work(pageCycles);
        return { label: 0 };
      }
      case StoreOp.Read: {
        const [index, object, offset] = [word(0), word(1), word(2)];
        const block = client.objects.get(object)?.get(offset);
        refuseUnless(block !== undefined, 'ENOENT', `task ${client.task} keeps no page (${object}, ${offset})`);
        yield* mapFrame(client, index, Rights.ReadWrite);
        yield* env.writeBytes(WINDOW, disk.block(block));
        yield* unmapWindow();
        client.reads++;
        yield* env.work(pageCycles);
        return { label: 0 };
      }
      case StoreOp.Discard: {
        const [object, offset, count] = [word(0), word(1), word(2)];
        const pages = client.objects.get(object);
        let dropped = 0;
        if (pages) {
          if (count <= pages.size) {
            for (let i = 0; i < count; i++) if (drop(client, object, offset + i)) dropped++;
          } else {
            const end = offset + count;
            for (const key of [...pages.keys()]) if (key >= offset && key < end && drop(client, object, key)) dropped++;
          }
        }
        return { label: 0, words: [dropped] };
      }
      case StoreOp.Stats:
        return { label: 0, words: [client.kept, client.reads, client.writes, disk.used, disk.capacity] };
      default:
        throw new Refusal('EINVAL', `no operation 0x${request.tag.label.toString(16)}`);
    }
  }

  return yield* new ServerLoop(env, 'store', handle).run();
});

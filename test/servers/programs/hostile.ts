// Hostile clients of physmem: attackers created from this module make seeded random requests,
// well-formed and not: their own handles, handles they were given, forged and stale ones,
// out-of-range starts and counts, double deallocations, locks and unlocks without access, raw
// messages with any label and any words, map items sent to physmem, and requests that use
// containers of an attacker the parent has destroyed meanwhile. Each keeps one container of its
// own that nobody else ever reaches, and checks it at the end. physmem runs with its
// self-check on (its output says if an invariant broke). Lines start with `hostile:`.
import { TCR_MY_GLOBAL_ID, type Op, type ProgramEnv } from '../../../libl4/abi.ts';
import { Rights } from '../../../libl4/fpage.ts';
import { mapItem } from '../../../libl4/map-item.ts';
import { fpage } from '../../../libl4/fpage.ts';
import { loadMessage, readTcr } from '../../../libl4/registers.ts';
import { call } from '../../../libl4/syscalls.ts';
import * as physmem from '../../../servers/physmem/client.ts';
import { rpc } from '../../../servers/rpc.ts';
import { commandLineOptions, numberOption, print, program } from '../../../servers/runtime.ts';
import { startupOf } from '../../../servers/startup.ts';
import * as task from '../../../servers/task/client.ts';
import { answer, ask, next, refusal, seededRandom } from './common.ts';

const PRECIOUS = 0x50000000;
const PRECIOUS_PAGES = 4;
const WINDOW = 0x20000000;

const attacker = program(function* attack(env: ProgramEnv, args: string): Op<number> {
  const options = commandLineOptions(args);
  const parent = numberOption(options, 'parent', 0);
  const random = seededRandom(numberOption(options, 'seed', 1));
  const ops = numberOption(options, 'ops', 100);
  const self = yield* task.self(env);
  const physmemThread = (yield* startupOf(env)).physmem;

  const precious = yield* physmem.create(env, { frames: PRECIOUS_PAGES });
  yield* physmem.map(env, precious, 0, PRECIOUS_PAGES, PRECIOUS, Rights.ReadWrite);
  for (let i = 0; i < PRECIOUS_PAGES; i++) yield* env.write32(PRECIOUS + i * 4096 + 8, 0xc0ffee00 + self * 16 + i);

  // Ready: the parent answers with the other attackers' task ids.
  const others = (yield* ask(env, parent, [1])).filter((t) => t !== self);
  const handles: number[] = [];
  const outcomes = new Map<string, number>();
  const pick = (): number => {
    const r = random(10);
    if (r < 6 && handles.length > 0) return handles[random(handles.length)]!;
    // Forged, foreign or stale, or by chance one of ours, but never 1 or 2: the task's own default
    // container and its precious one (a task may destroy its own memory; that is no test of physmem).
    if (r < 9) return 3 + random(64);
    return random(2) ? 0xffffffff : random(0x100000000);
  };
  const number = (): number => (random(8) === 0 ? [0xffffffff, 1 << 20, (1 << 20) - 1, 0x7fffffff][random(4)]! : random(6));

  for (let i = 0; i < ops; i++) {
    if (i === ops >> 1) yield* ask(env, parent, [2]); // halfway: the parent may destroy one of us
    const op = random(20);
    let outcome: string;
    switch (op) {
      case 0: {
        outcome = yield* refusal(
          (function* (): Op<void> {
            handles.push(yield* physmem.create(env, { frames: random(8) === 0 ? 100_000 : random(4), lockTimeCycles: random(3) * 50_000 }));
          })(),
        );
        break;
      }
      case 1:
        outcome = yield* refusal(physmem.allocate(env, pick(), number(), 1 + random(3), random(5) === 0 ? { contiguous: true } : random(7) === 0 ? { below: random(0x2000000) } : {}));
        break;
      case 2:
        outcome = yield* refusal(physmem.deallocate(env, pick(), number(), 1 + random(2)));
        break;
      case 3:
        outcome = yield* refusal(physmem.map(env, pick(), number(), 1 + random(3), WINDOW + random(64) * 4096, [Rights.Read, Rights.ReadWrite, Rights.Full, Rights.Write, 0][random(5)]!));
        break;
      case 4:
        outcome = yield* refusal(physmem.copy(env, pick(), number(), pick(), number(), 1 + random(3), { shared: random(3) === 0 }));
        break;
      case 5:
        outcome = yield* refusal(physmem.copyGather(env, pick(), [number(), number(), number()], pick(), number()));
        break;
      case 6:
      case 7: {
        const target = random(4) === 0 ? random(0x4000) : others[random(Math.max(1, others.length))] ?? self;
        outcome = yield* refusal(
          (function* (): Op<void> {
            yield* (random(2) ? physmem.share(env, pick(), target) : physmem.grantAccess(env, pick(), target));
          })(),
        );
        break;
      }
      case 8:
        outcome = yield* refusal(random(2) ? physmem.lockMap(env, pick(), random(2) === 0) : physmem.lockPhysical(env, pick(), random(2) === 0));
        break;
      case 9:
        outcome = yield* refusal(physmem.unlock(env, pick()));
        break;
      case 10:
        outcome = yield* refusal(physmem.unmapAll(env, pick()));
        break;
      case 11:
        outcome = yield* refusal(physmem.destroy(env, pick()));
        break;
      case 12:
        outcome = yield* refusal(physmem.info(env, pick()));
        break;
      case 13:
        outcome = yield* refusal(physmem.createFrom(env, pick(), number(), 1 + random(2)));
        break;
      case 14:
        outcome = yield* refusal(physmem.setGuarantee(env, self, random(10)));
        break;
      case 15:
        outcome = yield* refusal(physmem.onReclaim(env, random(2) ? yield* readTcr(env, TCR_MY_GLOBAL_ID) : random(0x100000000)));
        break;
      case 16: {
        // A raw request: any label near physmem's, any words (but not handles 1 and 2, see pick).
        const words = Array.from({ length: random(12) }, () => (random(3) === 0 ? random(0x100000000) : 3 + random(8)));
        const reply = yield* rpc(env, physmemThread, 0x5000 + random(0x50), words);
        outcome = reply.label === 0 ? 'ok' : reply.label === -1 ? 'ipc error' : `errno ${reply.label}`;
        break;
      }
      case 17: {
        // A map item to physmem: its receive window is closed, so the IPC itself fails.
        yield* loadMessage(env, { label: 0x5006, words: [1], items: mapItem(PRECIOUS, fpage(PRECIOUS, 12, Rights.Full)) });
        const result = yield* call(env, physmemThread);
        outcome = result.tag.error ? 'map item refused' : 'map item taken';
        break;
      }
      case 18: {
        // Touch its own precious pages: their mappings may have gone with a revocation (L4
        // mappings are a cache), and the default pager maps them again. (Touching the window where
        // random maps landed could meet a container that died meanwhile: a fault that ends the
        // task, as it should, but no test of physmem.)
        yield* env.read32(PRECIOUS + random(PRECIOUS_PAGES) * 4096);
        outcome = 'touched';
        break;
      }
      default:
        outcome = yield* refusal(physmem.stats(env));
    }
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  }
  let intact = 0;
  for (let i = 0; i < PRECIOUS_PAGES; i++) if ((yield* env.read32(PRECIOUS + i * 4096 + 8)) === 0xc0ffee00 + self * 16 + i) intact++;
  const summary = [...outcomes].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}=${v}`).join(' ');
  yield* ask(env, parent, [3, intact, outcomes.get('ok') ?? 0, outcomes.get('EBADF') ?? 0, outcomes.get('EINVAL') ?? 0, outcomes.get('map item taken') ?? 0]);
  yield* print(env, `hostile: attacker ${numberOption(options, 'seed', 1)} ${summary}\n`);
  return 0;
});

export default program(function* hostile(env: ProgramEnv, args: string): Op<number> {
  const options = commandLineOptions(args);
  const me = yield* readTcr(env, TCR_MY_GLOBAL_ID);
  const count = numberOption(options, 'attackers', 3);
  const ops = numberOption(options, 'ops', 300);
  const seed = numberOption(options, 'seed', 1);
  const out = (line: string): Op<void> => print(env, `hostile: ${line}\n`);
  const start = yield* physmem.stats(env);
  const attackers: number[] = [];
  for (let i = 0; i < count; i++) {
    const id = yield* task.createTask(env, attacker, `parent=${me} seed=${seed * 100 + i} ops=${ops}`);
    yield* task.watch(env, id);
    attackers.push(id);
  }
  let ready = 0;
  let halfway = 0;
  let alive = count;
  let victim = 0;
  const held: number[] = [];
  let intact = 0;
  let good = 0;
  let taken = 0;
  while (alive > 0) {
    const message = yield* next(env);
    const death = task.deathNotice(message.label, message.words);
    if (death) {
      alive--;
      continue;
    }
    const [step, ...rest] = message.words;
    if (step === 1) {
      held.push(message.from);
      if (++ready === count) for (const thread of held.splice(0)) yield* answer(env, thread, attackers);
    } else if (step === 2) {
      // The first attacker halfway through is destroyed: the others go on with its handles.
      if (++halfway === 1 && count > 1) {
        victim = message.from & 0x3fff;
        yield* task.destroyTask(env, victim);
      } else yield* answer(env, message.from, []);
    } else if (step === 3) {
      intact += rest[0]!;
      good += rest[1]! > 0 ? 1 : 0;
      taken += rest[4]!;
      yield* answer(env, message.from, []);
    }
  }
  const survivors = count - (victim ? 1 : 0);
  yield* out(`${survivors} attackers finished, ${intact} of ${survivors * PRECIOUS_PAGES} precious pages intact, ${good} made successful requests, ${taken} map items taken`);
  const end = yield* physmem.stats(env);
  yield* out(`frames afterwards: ${end.free === start.free && end.allocated === start.allocated && end.reserved === start.reserved ? 'as before' : `free ${end.free} (was ${start.free})`}`);
  return 0;
});

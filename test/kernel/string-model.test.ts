// String transfers against a reference model: seeded random send strings (simple, with
// substrings, compound, several per message) and buffer strings (or none accepted) between two
// threads in new spaces, with some of both sides' pages unmapped so the copy stops at faults on
// either side and goes on after the pager's reply. For every transfer the receiver's memory, both
// sides' error codes and the byte offset must be what a byte-by-byte model of X.2's rules gives.
// L4HURD_FUZZ_STRINGS sets the number of transfers (default 150).

import { describe, expect, it } from 'vitest';
import { IpcError, type Op, type ProgramEnv } from '../../libl4/abi.ts';
import { acceptor } from '../../libl4/acceptor.ts';
import { decodeIpcError } from '../../libl4/error.ts';
import { fpage, Rights } from '../../libl4/fpage.ts';
import { msgTag } from '../../libl4/msg-tag.ts';
import { loadMRs, setAcceptor } from '../../libl4/registers.ts';
import { bufferStrings, compoundString, loadBufferStrings, type StringPart } from '../../libl4/string-item.ts';
import { receive, send, unmapFpages } from '../../libl4/syscalls.ts';
import { sigma0 } from '../../servers/sigma0.ts';
import { SeededRandom, sizeFromEnvironment } from '../support/random.ts';
import { L4Test, getKilled } from './l4test.ts';
import { boot } from './support.ts';

const REGION = 4 * 4096;
const SRC = 0x01000000;
const DST = 0x01100000;

interface Case {
  readonly strings: StringPart[][];
  readonly buffers: StringPart[][] | null;
  /** Pages of each side's region to unmap before the transfer (bit i: page i). */
  readonly senderHoles: number;
  readonly receiverHoles: number;
}

interface Expected {
  readonly memory: Uint8Array;
  /** 0, or the error code both sides get. */
  readonly error: number;
  readonly offset: number;
}

function randomParts(rng: SeededRandom, base: number, maxParts: number): StringPart[] {
  const parts: StringPart[] = [];
  const count = 1 + rng.below(maxParts);
  for (let p = 0; p < count; p++) {
    const length = rng.below(5) === 0 ? 0 : 1 + rng.below(1500);
    const addresses: number[] = [];
    const substrings = 1 + rng.below(3);
    for (let s = 0; s < substrings; s++) addresses.push(base + rng.below(REGION - length));
    parts.push({ length, addresses });
  }
  return parts;
}

function randomCase(rng: SeededRandom): Case {
  for (;;) {
    const strings = Array.from({ length: 1 + rng.below(3) }, () => randomParts(rng, SRC, 3));
    const buffers = rng.below(8) === 0 ? null : Array.from({ length: 1 + rng.below(3) }, () => randomParts(rng, DST, 3));
    // Messages must fit the registers: 63 words after MR0, 32 buffer registers.
    if (strings.flatMap((parts) => compoundString(parts)).length > 63) continue;
    if (buffers && bufferStrings(buffers).length > 32) continue;
    return { strings, buffers, senderHoles: rng.below(16), receiverHoles: rng.below(16) };
  }
}

/** X.2's rules, byte by byte (the receiver's region starts as 0xff; the sender's byte at offset i is pattern(i)). */
function model(c: Case): Expected {
  const memory = new Uint8Array(REGION).fill(0xff);
  if (!c.buffers) return { memory, error: IpcError.MessageOverflow, offset: 0 };
  let total = 0;
  for (let k = 0; k < c.strings.length; k++) {
    const buffer = c.buffers[k];
    if (!buffer) return { memory, error: IpcError.MessageOverflow, offset: total };
    const targets: number[] = [];
    for (const part of buffer) for (const a of part.addresses) for (let i = 0; i < part.length; i++) targets.push(a - DST + i);
    let t = 0;
    for (const part of c.strings[k]!)
      for (const a of part.addresses)
        for (let i = 0; i < part.length; i++) {
          if (t >= targets.length) return { memory, error: IpcError.MessageOverflow, offset: total };
          memory[targets[t++]!] = pattern(a - SRC + i);
          total++;
        }
  }
  return { memory, error: 0, offset: 0 };
}

function pattern(i: number): number {
  return (i * 13 + 5) & 0xff;
}

describe('string transfers against a reference model', () => {
  it('random strings and buffers, with faults on both sides, give the model\'s bytes, codes and offsets', () => {
    const count = sizeFromEnvironment('L4HURD_FUZZ_STRINGS', 150);
    const rng = new SeededRandom(0x5717);
    const cases = Array.from({ length: count }, () => randomCase(rng));
    const lt = new L4Test();
    const results: Array<{ memory: Uint8Array; receiver: number; sender: number }> = [];

    function* holes(env: ProgramEnv, base: number, mask: number): Op<void> {
      for (let page = 0; page < 4; page++) if (mask & (1 << page)) yield* unmapFpages(env, [fpage(base + page * 4096, 12, Rights.Full)], true);
    }

    function* receiver(env: ProgramEnv): Op<void> {
      for (const c of cases) {
        yield* env.fill(DST, REGION, 0xff);
        yield* holes(env, DST, c.receiverHoles);
        if (c.buffers) yield* loadBufferStrings(env, c.buffers);
        yield* setAcceptor(env, acceptor(0, c.buffers !== null));
        const r = yield* receive(env, lt.t2);
        const memory = yield* env.readBytes(DST, REGION);
        results.push({ memory, receiver: r.tag.error ? r.errorCode : 0, sender: -1 });
        yield* loadMRs(env, [0]);
        yield* send(env, lt.t2);
      }
      yield* getKilled(env);
    }

    function* sender(env: ProgramEnv): Op<void> {
      const data = new Uint8Array(REGION).map((_, i) => pattern(i));
      for (const c of cases) {
        yield* env.writeBytes(SRC, data);
        yield* holes(env, SRC, c.senderHoles);
        const items = c.strings.flatMap((parts) => compoundString(parts));
        yield* loadMRs(env, [msgTag(0, 0, items.length), ...items]);
        const r = yield* send(env, lt.t1);
        const senderError = r.tag.error ? r.errorCode : 0;
        yield* receive(env, lt.t1);
        results[results.length - 1]!.sender = senderError;
      }
      yield* getKilled(env);
    }

    const b = boot(function* (env) {
      yield* lt.setupIpcThreads(env, receiver, sender, false, false);
    }, { sigma0 });
    const run = b.run(1e11);
    expect(run.reason).toBe('idle');
    expect(b.output()).not.toContain('halted');
    expect(results).toHaveLength(count);
    const mismatches: string[] = [];
    cases.forEach((c, i) => {
      const want = model(c);
      const got = results[i]!;
      const wantReceiver = want.error ? (want.offset << 4) | (want.error << 1) | 1 : 0;
      const wantSender = want.error ? (want.offset << 4) | (want.error << 1) : 0;
      if (got.receiver !== wantReceiver) mismatches.push(`case ${i}: receiver ${JSON.stringify(decodeIpcError(got.receiver))} want ${JSON.stringify(decodeIpcError(wantReceiver))}`);
      if (got.sender !== wantSender) mismatches.push(`case ${i}: sender ${got.sender.toString(16)} want ${wantSender.toString(16)}`);
      const wrong = got.memory.findIndex((v, j) => v !== want.memory[j]);
      if (wrong >= 0) mismatches.push(`case ${i}: byte ${wrong} is ${got.memory[wrong]}, want ${want.memory[wrong]}`);
    });
    expect(mismatches.slice(0, 10)).toEqual([]);
    // The holes made the copies stop at faults on both sides.
    expect(b.kernel.counters.stringFaults).toBeGreaterThan(count / 2);
    expect(b.kernel.checkInvariants()).toEqual([]);
    expect(b.machine.cpu.counters.staleTranslations).toBe(0);
  });
});

// UTCB register helpers against the fake environment: each register at its abi.ts offset, whole
// messages in one access, unsigned values, and the range checks.
import { describe, expect, it } from 'vitest';
import { TCR_ERROR_CODE, TCR_MY_GLOBAL_ID, TCR_PAGER, TCR_THREAD_WORD1 } from '../../libl4/abi.ts';
import { decodeMsgTag } from '../../libl4/msg-tag.ts';
import {
  loadBRs,
  loadMRs,
  loadMessage,
  readTcr,
  setAcceptor,
  storeMRs,
  storeMessage,
  writeTcr,
} from '../../libl4/registers.ts';
import { FakeEnv, TEST_UTCB, run } from './fake-env.ts';

describe('message registers', () => {
  it('loadMRs writes MR0.. at UTCB + 0x100 in one access', () => {
    const env = new FakeEnv();
    run(loadMRs(env, [0x11, 0x22, 0xffffffff]));
    expect(env.peek32(TEST_UTCB + 0x100)).toBe(0x11);
    expect(env.peek32(TEST_UTCB + 0x104)).toBe(0x22);
    expect(env.peek32(TEST_UTCB + 0x108)).toBe(0xffffffff);
    expect(env.accesses).toEqual([{ kind: 'write', address: TEST_UTCB + 0x100, size: 12 }]);
  });

  it('loadMRs from a later register and up to MR63', () => {
    const env = new FakeEnv();
    run(loadMRs(env, [7], 63));
    expect(env.peek32(TEST_UTCB + 0x1fc)).toBe(7);
    expect(() => run(loadMRs(env, [1, 2], 63))).toThrow(RangeError);
    expect(() => run(loadMRs(env, new Array(65).fill(0)))).toThrow(RangeError);
  });

  it('storeMRs reads MR0.., unsigned', () => {
    const env = new FakeEnv();
    env.setMr(0, 0xdeadbeef);
    env.setMr(1, 5);
    env.setMr(2, 6);
    expect(run(storeMRs(env, 2))).toEqual([0xdeadbeef, 5]);
    expect(run(storeMRs(env, 2, 1))).toEqual([5, 6]);
    expect(run(storeMRs(env, 0))).toEqual([]);
    expect(env.reads().map((access) => access.address)).toEqual([TEST_UTCB + 0x100, TEST_UTCB + 0x104]);
    expect(() => run(storeMRs(env, 65))).toThrow(RangeError);
  });
});

describe('buffer and thread control registers', () => {
  it('setAcceptor writes BR0 at UTCB + 0x40; loadBRs writes BRi at + 0x40 + 4i', () => {
    const env = new FakeEnv();
    run(setAcceptor(env, 0x100001c1));
    expect(env.peek32(TEST_UTCB + 0x40)).toBe(0x100001c1);
    run(loadBRs(env, [1, 2], 31));
    expect(env.peek32(TEST_UTCB + 0x40 + 4 * 31)).toBe(1);
    expect(env.peek32(TEST_UTCB + 0x40 + 4 * 32)).toBe(2);
    expect(() => run(loadBRs(env, [1, 2], 32))).toThrow(RangeError);
  });

  it('readTcr/writeTcr use the abi.ts offsets and refuse others', () => {
    const env = new FakeEnv();
    env.poke32(TEST_UTCB + 0x18, 0x3);
    expect(run(readTcr(env, TCR_ERROR_CODE))).toBe(3);
    run(writeTcr(env, TCR_PAGER, 0x44001));
    expect(env.peek32(TEST_UTCB + 0x0c)).toBe(0x44001);
    run(writeTcr(env, TCR_THREAD_WORD1, -1));
    expect(run(readTcr(env, TCR_THREAD_WORD1))).toBe(0xffffffff);
    expect(run(readTcr(env, TCR_MY_GLOBAL_ID))).toBe(0);
    expect(() => run(readTcr(env, 0x40))).toThrow(RangeError);
    expect(() => run(readTcr(env, 0x2))).toThrow(RangeError);
    expect(() => run(writeTcr(env, -4, 0))).toThrow(RangeError);
  });
});

describe('whole messages', () => {
  it('loadMessage writes the tag, the untyped words and the items', () => {
    const env = new FakeEnv();
    run(loadMessage(env, { label: 0x42, words: [1, 2, 3], items: [0x1008, 0x10c7] }));
    expect(env.mrs(6)).toEqual([0x00420083, 1, 2, 3, 0x1008, 0x10c7]);
    expect(env.writes()).toHaveLength(1);
    run(loadMessage(env, { label: 7 }));
    expect(env.mr(0)).toBe(0x00070000);
  });

  it('loadMessage refuses more than 63 words', () => {
    const env = new FakeEnv();
    expect(() => run(loadMessage(env, { label: 0, words: new Array(40).fill(0), items: new Array(24).fill(0) }))).toThrow(
      RangeError,
    );
    expect(env.writes()).toHaveLength(0);
  });

  it('storeMessage splits untyped words from typed ones', () => {
    const env = new FakeEnv();
    env.setMr(0, 0x00420083);
    [1, 2, 3, 0x1008, 0x10c7, 99].forEach((word, i) => env.setMr(i + 1, word));
    const message = run(storeMessage(env));
    expect(message.tag).toEqual(decodeMsgTag(0x00420083));
    expect(message.words).toEqual([1, 2, 3]);
    expect(message.items).toEqual([0x1008, 0x10c7]);
    // With the tag given, MR0 is not read again.
    const before = env.reads().length;
    expect(run(storeMessage(env, decodeMsgTag(0x00000001))).words).toEqual([1]);
    expect(env.reads().slice(before)).toEqual([{ kind: 'read', address: TEST_UTCB + 0x104, size: 4 }]);
  });

  it('storeMessage cuts counts that run past MR63', () => {
    const env = new FakeEnv();
    env.setMr(0, 0x00000fff); // u 63, t 63
    const message = run(storeMessage(env));
    expect(message.words).toHaveLength(63);
    expect(message.items).toHaveLength(0);
  });
});

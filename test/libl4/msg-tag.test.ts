// Message tags: hand-checked words (the kernel's page-fault and sigma0 tags), every field and flag
// in its bits, round trips, and the checks of encodeMsgTag.
import { describe, expect, it } from 'vitest';
import { Label } from '../../libl4/abi.ts';
import { decodeMsgTag, encodeMsgTag, msgTag } from '../../libl4/msg-tag.ts';
import type { MsgTag } from '../../libl4/msg-tag.ts';

describe('message tag', () => {
  it('encodes the page-fault and sigma0 tags as X.2 spells them', () => {
    expect(encodeMsgTag({ label: Label.PageFault | 2, untyped: 2 })).toBe(0xffe20002);
    expect(encodeMsgTag({ label: Label.PageFault | 4, untyped: 2 })).toBe(0xffe40002);
    expect(msgTag(Label.Sigma0, 2)).toBe(0xffa00002);
    expect(msgTag(Label.Exception, 12)).toBe(0xffb0000c);
  });

  it('puts each field and flag in its own bits', () => {
    expect(encodeMsgTag({ label: 0, untyped: 63 })).toBe(0x3f);
    expect(encodeMsgTag({ label: 0, typed: 63 })).toBe(0xfc0);
    expect(encodeMsgTag({ label: 0, propagated: true })).toBe(0x1000);
    expect(encodeMsgTag({ label: 0, redirected: true })).toBe(0x2000);
    expect(encodeMsgTag({ label: 0, crossCpu: true })).toBe(0x4000);
    expect(encodeMsgTag({ label: 0, error: true })).toBe(0x8000);
    expect(encodeMsgTag({ label: 0xffff })).toBe(0xffff0000);
    expect(encodeMsgTag({ label: 0x1234, untyped: 3, typed: 2 })).toBe(0x12340083);
  });

  it('decodes every field', () => {
    expect(decodeMsgTag(0xffe2a0c5)).toEqual({
      label: 0xffe2,
      untyped: 5,
      typed: 3,
      propagated: false,
      redirected: true,
      crossCpu: false,
      error: true,
    });
    expect(decodeMsgTag(0x5000).propagated).toBe(true);
    expect(decodeMsgTag(0x5000).crossCpu).toBe(true);
    expect(decodeMsgTag(-1).label).toBe(0xffff);
  });

  it('round-trips', () => {
    const tags: MsgTag[] = [
      { label: 0, untyped: 0, typed: 0, propagated: false, redirected: false, crossCpu: false, error: false },
      { label: 0xabcd, untyped: 60, typed: 3, propagated: true, redirected: false, crossCpu: true, error: false },
      { label: 0xffff, untyped: 1, typed: 62, propagated: true, redirected: true, crossCpu: true, error: true },
    ];
    for (const tag of tags) expect(decodeMsgTag(encodeMsgTag(tag))).toEqual(tag);
    for (const word of [0, 0x12340083, 0xfffff03f, 0x8001f05f]) {
      expect(encodeMsgTag(decodeMsgTag(word))).toBe(word >>> 0);
    }
  });

  it('refuses fields that do not fit and messages over 63 words', () => {
    expect(() => encodeMsgTag({ label: 0x10000 })).toThrow(RangeError);
    expect(() => encodeMsgTag({ label: -1 })).toThrow(RangeError);
    expect(() => encodeMsgTag({ label: 0, untyped: 64 })).toThrow(RangeError);
    expect(() => encodeMsgTag({ label: 0, typed: 64 })).toThrow(RangeError);
    expect(() => encodeMsgTag({ label: 0, untyped: 32, typed: 32 })).toThrow(/63 words/);
    expect(() => encodeMsgTag({ label: 0, untyped: 1.5 })).toThrow(RangeError);
    expect(encodeMsgTag({ label: 0, untyped: 32, typed: 31 })).toBe(0x7e0 | 32);
  });
});

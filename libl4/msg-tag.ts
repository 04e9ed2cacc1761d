// The message tag (MR0 of every IPC): how many untyped and typed words follow, four flags, and
// the label that says what the message is.
//
//   31            16 15 14 13 12 11      6 5       0
//  +----------------+--+--+--+--+---------+---------+
//  | label          |E |X |r |p | t       | u       |
//  +----------------+--+--+--+--+---------+---------+
//   u untyped words (MR1..MRu), t typed words (after them), p propagate, r redirected,
//   X cross-processor, E error (set by the kernel when an IPC failed).
//
// Encoding validates (a tag that cannot describe a message is a bug in the caller); decoding never
// throws, because the word comes from the kernel or from another thread and every value has a
// meaning field by field.

/** The fields of a message tag. */
export interface MsgTag {
  label: number;
  untyped: number;
  typed: number;
  propagated: boolean;
  redirected: boolean;
  crossCpu: boolean;
  error: boolean;
}

/** What encodeMsgTag needs: the flags default to false, the counts to 0. */
export interface MsgTagInit {
  label: number;
  untyped?: number;
  typed?: number;
  propagated?: boolean;
  redirected?: boolean;
  crossCpu?: boolean;
  error?: boolean;
}

export const MSG_TAG_UNTYPED_MASK = 0x3f;
export const MSG_TAG_TYPED_SHIFT = 6;
export const MSG_TAG_TYPED_MASK = 0x3f;
export const MSG_TAG_PROPAGATED = 1 << 12;
export const MSG_TAG_REDIRECTED = 1 << 13;
export const MSG_TAG_CROSS_CPU = 1 << 14;
export const MSG_TAG_ERROR = 1 << 15;
export const MSG_TAG_LABEL_SHIFT = 16;
export const MAX_LABEL = 0xffff;
/** MR0 holds the tag, so at most 63 words (untyped plus typed) follow it. */
export const MAX_MESSAGE_WORDS = 63;

function checkField(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`message tag ${name} ${value} is outside 0..${max}`);
  }
}

/** The MR0 word for `tag`. Throws a RangeError if a field does not fit or u + t exceeds 63. */
export function encodeMsgTag(tag: MsgTagInit): number {
  const untyped = tag.untyped ?? 0;
  const typed = tag.typed ?? 0;
  checkField('label', tag.label, MAX_LABEL);
  checkField('untyped count', untyped, MSG_TAG_UNTYPED_MASK);
  checkField('typed count', typed, MSG_TAG_TYPED_MASK);
  if (untyped + typed > MAX_MESSAGE_WORDS) {
    throw new RangeError(`message of ${untyped} untyped and ${typed} typed words exceeds ${MAX_MESSAGE_WORDS} words`);
  }
  let word = (tag.label << MSG_TAG_LABEL_SHIFT) | (typed << MSG_TAG_TYPED_SHIFT) | untyped;
  if (tag.propagated) word |= MSG_TAG_PROPAGATED;
  if (tag.redirected) word |= MSG_TAG_REDIRECTED;
  if (tag.crossCpu) word |= MSG_TAG_CROSS_CPU;
  if (tag.error) word |= MSG_TAG_ERROR;
  return word >>> 0;
}

/** The fields of the MR0 word `word`. */
export function decodeMsgTag(word: number): MsgTag {
  return {
    label: word >>> MSG_TAG_LABEL_SHIFT,
    untyped: word & MSG_TAG_UNTYPED_MASK,
    typed: (word >>> MSG_TAG_TYPED_SHIFT) & MSG_TAG_TYPED_MASK,
    propagated: (word & MSG_TAG_PROPAGATED) !== 0,
    redirected: (word & MSG_TAG_REDIRECTED) !== 0,
    crossCpu: (word & MSG_TAG_CROSS_CPU) !== 0,
    error: (word & MSG_TAG_ERROR) !== 0,
  };
}

/** Shorthand: the tag of a message with `label`, `untyped` and `typed` words and no flags. */
export function msgTag(label: number, untyped = 0, typed = 0): number {
  return encodeMsgTag({ label, untyped, typed });
}

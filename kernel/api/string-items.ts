// String items as X.2 lays them out, read from a sender's message registers or a receiver's
// buffer registers into the pieces of one logical string.
//
//   word 0:  31            10   9   8     4   3   2  1   0
//           +----------------+---+--------+---+------+---+
//           | length (22)    | c | j (5)  | 0 |  hh  | C |
//           +----------------+---+--------+---+------+---+
//   words 1..j+1: the addresses of j+1 substrings of `length` bytes each
//
//   c  compound: the next item continues this logical string (with its own length and j)
//   C  in the buffer registers: another buffer string follows this one
//   hh cache hints (ignored)
//
// A sender's logical string is copied into one logical buffer string of the receiver; what is left
// of the buffer is skipped, and the next string goes into the next buffer (kernel/README.md).

/** One contiguous piece of a logical string. */
export interface Piece {
  readonly address: number;
  readonly length: number;
}

/** A logical string read from registers. */
export interface LogicalString {
  readonly pieces: Piece[];
  /** Index of the register after the string's last word. */
  readonly end: number;
  /** The string was cut short: its last item ran past the registers (an overflow once its pieces are used). */
  readonly truncated: boolean;
  /** C of its last item: another buffer string follows (buffer registers only). */
  readonly more: boolean;
}

/** Is `word0` a string item's first word (bit 3 clear)? */
export function isStringItem(word0: number): boolean {
  return (word0 & 0x8) === 0;
}

/**
 * Reads the logical string whose first item is at register `at`; registers `limit` and beyond do
 * not belong to the message. `read(i)` gives register i.
 */
export function readLogicalString(read: (i: number) => number, at: number, limit: number): LogicalString {
  const pieces: Piece[] = [];
  let index = at;
  for (;;) {
    const word0 = read(index) >>> 0;
    const length = word0 >>> 10;
    const count = ((word0 >>> 4) & 0x1f) + 1;
    const compound = (word0 & 0x200) !== 0;
    // An item that is no string, or whose addresses run past the registers, ends the string
    // before any of its own pieces.
    if (!isStringItem(word0) || index + count >= limit) return { pieces, end: limit, truncated: true, more: false };
    for (let k = 1; k <= count; k++) pieces.push({ address: read(index + k) >>> 0, length });
    index += count + 1;
    if (!compound) return { pieces, end: index, truncated: false, more: (word0 & 1) !== 0 };
    if (index >= limit) return { pieces, end: limit, truncated: true, more: false };
  }
}

// IPC timeouts: the 16-bit relative time periods of the Ipc timeouts word.
//
//   15 14       10 9          0
//  +--+-----------+------------+
//  | 0| e         | m          |     period = m * 2^e microseconds
//  +--+-----------+------------+
//   0x0000 = never (m = 0, e = 0); 0x0400 = zero time (m = 0, e = 1); bit 15 set means an
//   absolute time point, which this library neither makes nor decodes.
//   The Ipc timeouts word carries the send timeout in bits 31-16 and the receive timeout in 15-0.
//
// timeout(µs) choice: the encoding means exactly the requested period when one exists; otherwise
// it is the smallest representable period longer than the request (rounding up, so a timeout
// never fires early). Several encodings can mean the same period (m = 2, e = 0 and m = 1, e = 1);
// the one with the largest e (smallest m) is chosen, which makes the encoding canonical. Fractions
// of a microsecond round up too. The longest period is 1023 * 2^31 µs (about 25 days); longer
// finite requests are a RangeError, and Infinity gives never.

/** A 16-bit timeout. */
export type Timeout = number;

export const NEVER: Timeout = 0;
export const ZERO_TIME: Timeout = 0x0400;
export const TIMEOUT_MANTISSA_MASK = 0x3ff;
export const TIMEOUT_EXPONENT_SHIFT = 10;
export const TIMEOUT_EXPONENT_MASK = 0x1f;
export const TIMEOUT_ABSOLUTE = 0x8000;
export const MAX_TIMEOUT_MANTISSA = 1023;
export const MAX_TIMEOUT_EXPONENT = 31;
/** The longest finite relative timeout, in microseconds. */
export const MAX_TIMEOUT_MICROSECONDS = MAX_TIMEOUT_MANTISSA * 2 ** MAX_TIMEOUT_EXPONENT;

function encode(mantissa: number, exponent: number): Timeout {
  return (exponent << TIMEOUT_EXPONENT_SHIFT) | mantissa;
}

/** The relative timeout for `microseconds` (rounded up, see above): 0 gives zero time, Infinity never. */
export function timeout(microseconds: number): Timeout {
  if (microseconds === Infinity) return NEVER;
  if (Number.isNaN(microseconds) || microseconds < 0) {
    throw new RangeError(`timeout ${microseconds} µs is not a non-negative period`);
  }
  const wanted = Math.ceil(microseconds);
  if (wanted === 0) return ZERO_TIME;
  if (wanted > MAX_TIMEOUT_MICROSECONDS) {
    throw new RangeError(`timeout ${microseconds} µs exceeds the longest relative timeout (${MAX_TIMEOUT_MICROSECONDS} µs)`);
  }
  // The finest exponent whose mantissa fits gives the smallest period >= wanted.
  let exponent = 0;
  let mantissa = wanted;
  while (mantissa > MAX_TIMEOUT_MANTISSA) {
    exponent += 1;
    mantissa = Math.ceil(wanted / 2 ** exponent);
  }
  // Then the same period with the largest exponent.
  while (mantissa % 2 === 0 && exponent < MAX_TIMEOUT_EXPONENT) {
    mantissa /= 2;
    exponent += 1;
  }
  return encode(mantissa, exponent);
}

/** The period of a relative timeout in microseconds: Infinity for never. RangeError for absolute ones. */
export function timeoutMicroseconds(value: Timeout): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) {
    throw new RangeError(`timeout 0x${value.toString(16)} is not a 16-bit word`);
  }
  if ((value & TIMEOUT_ABSOLUTE) !== 0) {
    throw new RangeError(`timeout 0x${value.toString(16)} is an absolute time point, not a period`);
  }
  if (value === NEVER) return Infinity;
  const mantissa = value & TIMEOUT_MANTISSA_MASK;
  const exponent = (value >>> TIMEOUT_EXPONENT_SHIFT) & TIMEOUT_EXPONENT_MASK;
  return mantissa * 2 ** exponent;
}

/** The Ipc timeouts word: send timeout in bits 31-16, receive timeout in bits 15-0. */
export function timeouts(send: Timeout, receive: Timeout): number {
  for (const [name, value] of [['send', send], ['receive', receive]] as const) {
    if (!Number.isInteger(value) || value < 0 || value > 0xffff) {
      throw new RangeError(`${name} timeout ${value} is not a 16-bit word`);
    }
  }
  return ((send << 16) | receive) >>> 0;
}

/** The send timeout (bits 31-16) of an Ipc timeouts word. */
export function sendTimeout(word: number): Timeout {
  return word >>> 16;
}

/** The receive timeout (bits 15-0) of an Ipc timeouts word. */
export function receiveTimeout(word: number): Timeout {
  return word & 0xffff;
}

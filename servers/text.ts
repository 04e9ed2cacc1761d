// Text for programs: UTF-8 without host encoders (programs run in empty contexts, which have no
// TextEncoder), and bytes packed into 32-bit message words, little-endian, as every server that
// carries text in a message (print, names, command lines) does.

/** UTF-8 bytes to a string. */
export function decodeUtf8(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i]!;
    let code: number;
    let extra: number;
    if (b < 0x80) [code, extra] = [b, 0];
    else if (b >= 0xf0) [code, extra] = [b & 0x07, 3];
    else if (b >= 0xe0) [code, extra] = [b & 0x0f, 2];
    else if (b >= 0xc0) [code, extra] = [b & 0x1f, 1];
    else [code, extra] = [0xfffd, 0];
    for (let j = 1; j <= extra; j++) code = (code << 6) | ((bytes[i + j] ?? 0) & 0x3f);
    out += String.fromCodePoint(code > 0x10ffff ? 0xfffd : code);
    i += 1 + extra;
  }
  return out;
}

/** A string to UTF-8 bytes. */
export function encodeUtf8(text: string): Uint8Array {
  const out: number[] = [];
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (code < 0x80) out.push(code);
    else if (code < 0x800) out.push(0xc0 | (code >> 6), 0x80 | (code & 0x3f));
    else if (code < 0x10000) out.push(0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f));
    else out.push(0xf0 | (code >> 18), 0x80 | ((code >> 12) & 0x3f), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f));
  }
  return new Uint8Array(out);
}

/** `bytes` as little-endian words, zero-padded to `size` bytes (default: the next whole word). */
export function packWords(bytes: Uint8Array, size: number = Math.ceil(bytes.length / 4) * 4): number[] {
  const words: number[] = [];
  for (let i = 0; i < size; i += 4) {
    words.push(((bytes[i] ?? 0) | ((bytes[i + 1] ?? 0) << 8) | ((bytes[i + 2] ?? 0) << 16) | ((bytes[i + 3] ?? 0) << 24)) >>> 0);
  }
  return words;
}

/** The first `length` bytes of little-endian `words` (missing words read as zero). */
export function unpackWords(words: readonly number[], length: number): Uint8Array {
  const bytes = new Uint8Array(Math.max(0, length));
  for (let i = 0; i < bytes.length; i++) bytes[i] = ((words[i >> 2] ?? 0) >>> ((i & 3) * 8)) & 0xff;
  return bytes;
}

/** A NUL-terminated (or NUL-padded) UTF-8 string. */
export function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return decodeUtf8(end < 0 ? bytes : bytes.subarray(0, end));
}

/** `count` and the noun, plural unless the count is 1 ("1 frame", "16 frames"). */
export function counted(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

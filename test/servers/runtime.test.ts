// The program runtime's pure parts: command-line options, UTF-8 without host encoders, and the
// text of print messages.
import { describe, expect, it } from 'vitest';
import { PRINT_CHUNK, commandLineOptions, decodeUtf8, encodeUtf8, numberOption, printText } from '../../servers/runtime.ts';

/** Packs bytes as a print message's untyped words: the count, then little-endian words. */
function packed(bytes: Uint8Array): number[] {
  const words = [bytes.length];
  for (let i = 0; i < bytes.length; i += 4) words.push((bytes[i]! | ((bytes[i + 1] ?? 0) << 8) | ((bytes[i + 2] ?? 0) << 16) | ((bytes[i + 3] ?? 0) << 24)) >>> 0);
  return words;
}

describe('program runtime', () => {
  it('parses key=value command lines', () => {
    expect(commandLineOptions('role=client  peer=1002 verbose')).toEqual({ role: 'client', peer: '1002', verbose: '' });
    expect(numberOption({ pages: '12' }, 'pages', 1)).toBe(12);
    expect(numberOption({}, 'pages', 7)).toBe(7);
    expect(() => numberOption({ pages: 'x' }, 'pages', 1)).toThrow(/pages=x/);
  });

  it('encodes and decodes UTF-8 like the host does', () => {
    for (const text of ['', 'hello', 'grüße', '€ 100', 'emoji 🐧 and more', 'a\u0000b']) {
      const bytes = encodeUtf8(text);
      expect([...bytes]).toEqual([...new TextEncoder().encode(text)]);
      expect(decodeUtf8(bytes)).toBe(text);
    }
  });

  it('reads the text of a print message, and never past its words', () => {
    const text = 'wortel prints this: ü€🐧';
    expect(printText(packed(encodeUtf8(text)))).toBe(text);
    // A count larger than the words carried is cut to what is there.
    const words = packed(encodeUtf8('abcd'));
    words[0] = 400;
    expect(printText(words)).toBe('abcd');
    expect(PRINT_CHUNK % 4).toBe(0);
  });
});

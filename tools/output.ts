// Standard output and standard error of the l4hurd command, written synchronously on the file
// descriptors (from the main thread or from the thread that runs a machine alike), so that
// output is never reordered or lost in a buffer when the machine's thread ends abruptly, and a
// write that fails is seen at once: a full disk (`> /dev/full`) or a closed pipe
// (`| head`) raises OutputError, which ends the command with exit status 6 (a closed pipe
// quietly, as a pipeline expects).

import { writeSync } from 'node:fs';
import { reason } from './files.ts';

/** Standard output cannot be written; `code` is the system's error code (ENOSPC, EPIPE, ...). */
export class OutputError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = 'OutputError';
    this.code = code;
  }
}

const encoder = new TextEncoder();
/** For sleeping while a non-blocking descriptor is full. */
const pause = new Int32Array(new SharedArrayBuffer(4));

function writeFully(fd: number, text: string): void {
  const bytes = encoder.encode(text);
  let written = 0;
  while (written < bytes.length) {
    try {
      written += writeSync(fd, bytes, written, bytes.length - written);
    } catch (error) {
      // A descriptor left non-blocking by another process: wait until the reader catches up.
      if ((error as { code?: string }).code === 'EAGAIN') Atomics.wait(pause, 0, 0, 1);
      else throw error;
    }
  }
}

/** Writes to standard output. Throws OutputError. */
export function writeOut(text: string): void {
  try {
    writeFully(1, text);
  } catch (error) {
    const code = String((error as { code?: unknown }).code ?? 'EIO');
    throw new OutputError(code, `cannot write to standard output: ${reason(error)}`);
  }
}

/** Writes to standard error; a failure there has nowhere to be reported and is ignored. */
export function writeErr(text: string): void {
  try {
    writeFully(2, text);
  } catch {
    // nothing left to tell it on
  }
}

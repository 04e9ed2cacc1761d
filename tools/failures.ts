// How the l4hurd command tells a failure and which exit status it ends with: one line on
// standard error, `l4hurd COMMAND: what went wrong`, never a host stack trace.
//
//   the root task's status   `boot` and `run`: the root task shut the machine down
//   2   usage error, unreadable or malformed image or config, image too large for the RAM,
//       failed build, an output file that cannot be written
//   3   the cycle limit was reached (--max-cycles)
//   4   the booted system went idle without shutting down
//   5   the machine ran out of host memory (its limit is RAM plus --host-memory)
//   6   standard output cannot be written (a full disk; a closed pipe ends the command quietly)
//   7   the kernel failed (a host exception in the kernel's own code)
//   8   an internal error of l4hurd itself (a bug; L4HURD_DEBUG=1 prints its stack)

import { UsageError } from './args.ts';
import { BuildError } from './build.ts';
import { FileError } from './files.ts';
import { ImageError } from './image.ts';
import { KernelError, LoadError } from './loader.ts';
import { OutputError, writeErr } from './output.ts';

export const EXIT_USAGE = 2;
export const EXIT_HOST_MEMORY = 5;
export const EXIT_OUTPUT = 6;
export const EXIT_KERNEL = 7;
export const EXIT_INTERNAL = 8;

/** The first line of an error's text, whatever was thrown. */
export function oneLine(error: unknown): string {
  try {
    const text = error instanceof Error ? error.message : String(error);
    return text.split(/[\r\n\u2028\u2029]/)[0]!;
  } catch {
    return 'an exception that cannot be shown';
  }
}

/**
 * Tells `error` on standard error as `l4hurd COMMAND: message` and returns the exit status.
 * `after` is printed below the message for usage errors (the command's synopsis).
 */
export function reportFailure(command: string | undefined, error: unknown, after = ''): number {
  const prefix = command ? `l4hurd ${command}: ` : 'l4hurd: ';
  if (error instanceof OutputError) {
    if (error.code !== 'EPIPE') writeErr(`${prefix}${error.message}\n`);
    return EXIT_OUTPUT;
  }
  if (error instanceof UsageError) {
    writeErr(`${prefix}${error.message}\n${after}`);
    return EXIT_USAGE;
  }
  if (error instanceof ImageError || error instanceof LoadError || error instanceof BuildError || error instanceof FileError) {
    writeErr(`${prefix}${oneLine(error)}\n`);
    return EXIT_USAGE;
  }
  if (error instanceof KernelError) {
    writeErr(`${prefix}${oneLine(error)}\n`);
    return EXIT_KERNEL;
  }
  writeErr(`${prefix}internal error: ${error instanceof Error ? `${error.name}: ` : ''}${oneLine(error)} (a bug in l4hurd; L4HURD_DEBUG=1 shows where)\n`);
  if (process.env.L4HURD_DEBUG === '1' && error instanceof Error && error.stack) writeErr(`${error.stack}\n`);
  return EXIT_INTERNAL;
}

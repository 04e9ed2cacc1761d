// POSIX error names and the numbers the servers carry them as.
//
// A server answers every request with a reply whose label is 0 on success or one of these
// numbers (hurd-l4's convention: the reply label carries the errno). Client stubs turn a
// non-zero label into a thrown error whose `code` is the name, so a program writes
//   try { yield* physmem.allocate(env, cap, 0, 4); } catch (e) { if (e.code === 'ENOMEM') ... }
// The numbers are Linux's, so they read as users expect in traces.

export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EIO: 5,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EBUSY: 16,
  ENODEV: 19,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  EMFILE: 24,
  EFBIG: 27,
  ENOSPC: 28,
  EROFS: 30,
  ENAMETOOLONG: 36,
  ENOSYS: 38,
  ELOOP: 40,
} as const;
export type ErrorName = keyof typeof Errno;

const NAMES = new Map<number, ErrorName>(Object.entries(Errno).map(([name, number]) => [number, name as ErrorName]));

/** The name of error number `number`; unknown numbers (a misbehaving server) read as EIO. */
export function errorName(number: number): ErrorName {
  return NAMES.get(number) ?? 'EIO';
}

/** An error a server answered with: `code` is its POSIX name, `server` who answered. */
export class ServerError extends Error {
  readonly code: ErrorName;
  constructor(server: string, code: ErrorName, message?: string) {
    super(`${server}: ${code}${message ? `: ${message}` : ''}`);
    this.name = 'ServerError';
    this.code = code;
  }
}

/** A request a server refuses: thrown inside the server, answered as the reply label. */
export class Refusal extends Error {
  readonly errno: number;
  constructor(code: ErrorName, message: string) {
    super(`${code}: ${message}`);
    this.name = 'Refusal';
    this.errno = Errno[code];
  }
}

/** Throws a Refusal with `code` unless `condition` holds. */
export function refuseUnless(condition: boolean, code: ErrorName, message: string): asserts condition {
  if (!condition) throw new Refusal(code, message);
}

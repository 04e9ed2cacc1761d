// libl4 in one import: the ABI constants and types (abi.ts), the encodings of thread ids and
// message words, error names, the UTCB register helpers, the system-call wrappers and the server
// loop. Programs import from here; each file below keeps one mechanism.

export * from './abi.ts';
export * from './thread-id.ts';
export * from './message.ts';
export * from './error.ts';
export * from './registers.ts';
export * from './syscalls.ts';
export * from './server.ts';
export * from './exception.ts';
export * from './interrupt.ts';

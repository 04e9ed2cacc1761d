// The kernel module's entry point: what the boot image's kernel bundle exports to the loader.
// The loader evaluates the bundle in a context of its own and constructs the kernel with the
// machine's hardware interface and the boot configuration (kernel.ts: KernelConfig).
export { Kernel } from './kernel.ts';
export type { KernelConfig, RunResult, TraceEvent } from './kernel.ts';

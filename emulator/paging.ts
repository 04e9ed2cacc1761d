// IA-32 32-bit paging formats: entry bits, control-register bits, page-fault error codes, the
// permission table, and the exceptions the MMU raises. Shared by the walker, the TLB check and
// the debugger view, so every place that reads an entry reads it the same way.
//
// Page-directory entry (PDE) and page-table entry (PTE), 32 bits:
//
//   31                12 11  9 8 7 6 5 4 3 2 1 0
//  +--------------------+-----+-+-+-+-+-+-+-+-+-+
//  | frame address      | AVL |G|S|D|A|C|W|U|R|P|     S: PS (PDE only), G and D: leaf only
//  +--------------------+-----+-+-+-+-+-+-+-+-+-+
//
// A PDE with PS = 1 (honoured only when CR4.PSE = 1) maps a 4 MiB page:
//
//   31        22 21       13 12 11  9 8 7 6 5 4 3 2 1 0
//  +------------+-----------+--+-----+-+-+-+-+-+-+-+-+-+
//  | frame      | reserved  |AT| AVL |G|1|D|A|C|W|U|R|P|     AT: PAT (bit 12), ignored here
//  +------------+-----------+--+-----+-+-+-+-+-+-+-+-+-+
//
// Bits 21:13 are reserved because this machine has 32-bit physical addresses (no PSE-36):
// a present 4 MiB PDE with any of them set faults with RSVD.

/** Entry bit: present. */
export const PG_P = 1 << 0;
/** Entry bit: read/write (1 = writable). */
export const PG_RW = 1 << 1;
/** Entry bit: user/supervisor (1 = user accessible). */
export const PG_US = 1 << 2;
/** Entry bit: page-level write-through (kept, not modelled: no caches). */
export const PG_PWT = 1 << 3;
/** Entry bit: page-level cache disable (kept, not modelled: no caches). */
export const PG_PCD = 1 << 4;
/** Entry bit: accessed. */
export const PG_A = 1 << 5;
/** Entry bit: dirty (leaf only). */
export const PG_D = 1 << 6;
/** Entry bit: page size (PDE only; 4 MiB page when CR4.PSE = 1). */
export const PG_PS = 1 << 7;
/** Entry bit: global (leaf only; honoured when CR4.PGE = 1). */
export const PG_G = 1 << 8;
/** Frame address of a PTE or of a 4 KiB-table PDE. */
export const PG_FRAME = 0xfffff000 | 0;
/** Frame address of a 4 MiB PDE. */
export const PG_LARGE_FRAME = 0xffc00000 | 0;
/** Reserved bits of a 4 MiB PDE with 32-bit physical addresses (bits 21:13). */
export const PG_LARGE_RESERVED = 0x003fe000;

export const SMALL_PAGE_SIZE = 4096;
export const LARGE_PAGE_SIZE = 4 * 1024 * 1024;

/** CR0 bits. */
export const CR0_PE = 1 << 0;
export const CR0_WP = 1 << 16;
export const CR0_PG = 1 << 31;
/** CR4 bits. */
export const CR4_PSE = 1 << 4;
export const CR4_PAE = 1 << 5;
export const CR4_PGE = 1 << 7;

/** Page-fault error code bits. */
export const PF_P = 1 << 0; // 1: protection violation; 0: not present
export const PF_W = 1 << 1; // 1: the access was a write
export const PF_U = 1 << 2; // 1: the access was made at CPL 3
export const PF_RSVD = 1 << 3; // 1: a reserved bit was set in a paging entry
export const PF_I = 1 << 4; // 1: instruction fetch (only with NX or SMEP; never set here)

/** Access kinds. A read-modify-write translates as a Write. */
export const Access = { Read: 0, Write: 1, Fetch: 2 } as const;
export type AccessKind = (typeof Access)[keyof typeof Access];
export type Cpl = 0 | 3;

export const ACCESS_NAMES: readonly string[] = ['read', 'write', 'fetch'];

/**
 * May this access go ahead? Indexed by `permissionIndex(write, user, wp, us, rw)`:
 *
 *   user  write  allowed when
 *   ----  -----  -------------------------------------------------
 *    0     0     always (no SMEP/SMAP on this CPU class)
 *    0     1     rw = 1, or CR0.WP = 0
 *    1     0     us = 1
 *    1     1     us = 1 and rw = 1 (CR0.WP does not matter)
 *
 * `us` and `rw` are the combined bits: the AND of the PDE's and the leaf's (test386's
 * paging_p.asm table; the 1990 i386/i486 manuals print it wrongly).
 */
export const PERMITTED: Uint8Array = (() => {
  const table = new Uint8Array(32);
  for (let i = 0; i < 32; i++) {
    const write = (i >> 4) & 1;
    const user = (i >> 3) & 1;
    const wp = (i >> 2) & 1;
    const us = (i >> 1) & 1;
    const rw = i & 1;
    let ok: boolean;
    if (user) ok = us === 1 && (!write || rw === 1);
    else ok = !write || rw === 1 || wp === 0;
    table[i] = ok ? 1 : 0;
  }
  return table;
})();

/** Index into PERMITTED. Each argument is 0 or 1. */
export function permissionIndex(write: number, user: number, wp: number, us: number, rw: number): number {
  return (write << 4) | (user << 3) | (wp << 2) | (us << 1) | rw;
}

/** #PF: raised by a translation; `linear` is what CR2 receives. */
export class PageFault extends Error {
  readonly linear: number;
  readonly errorCode: number;

  constructor(linear: number, errorCode: number) {
    super(`page fault at ${hex32(linear)}: ${describeErrorCode(errorCode)}`);
    this.name = 'PageFault';
    this.linear = linear >>> 0;
    this.errorCode = errorCode;
  }
}

/** #GP(0): raised by a control-register write that sets a reserved bit or an illegal combination. */
export class GeneralProtection extends Error {
  constructor(reason: string) {
    super(`general protection fault: ${reason}`);
    this.name = 'GeneralProtection';
  }
}

/** "not-present write, user" and the like: a readable page-fault error code. */
export function describeErrorCode(code: number): string {
  const parts = [code & PF_RSVD ? 'reserved bit' : code & PF_P ? 'protection' : 'not-present'];
  parts.push(code & PF_W ? 'write' : 'read');
  parts.push(code & PF_U ? 'user' : 'supervisor');
  return `${parts.join(' ')} (error code ${code})`;
}

export function hex32(value: number): string {
  return '0x' + (value >>> 0).toString(16).padStart(8, '0');
}

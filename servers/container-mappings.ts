// The container pages a task has mapped, page by page, so that its pager can map them again.
//
// L4 mappings are a cache (002: "L4 is a cache of active mappings; tasks must maintain all of
// their mappings"): physmem takes mappings away when it must, and sometimes more than the one
// that had to go (L4 cannot tell which mappings of a frame went through which container, so
// when a shared frame is copied on write, every mapping of it goes). A task's next access then
// faults, and its pager must know what was there. physmem's client records every map here, per
// task; the default pager looks here before it treats a fault as fresh anonymous memory.
//
// Threads of one task share this record (they share the program's module state); tasks made
// from the same program module share the module too, so the record is kept per task id.

export interface MappedPage {
  readonly container: number;
  readonly index: number;
  readonly rights: number;
}

const byTask = new Map<number, Map<number, MappedPage>>();

/** Records that `count` pages from `address` map frames from `index` of `container`. */
export function rememberMapping(task: number, container: number, index: number, count: number, address: number, rights: number): void {
  let pages = byTask.get(task);
  if (!pages) byTask.set(task, (pages = new Map()));
  for (let i = 0; i < count; i++) pages.set((address + i * 4096) >>> 0, { container, index: index + i, rights });
}

/** What the task last mapped at `page` from a container, or undefined. */
export function mappingAt(task: number, page: number): MappedPage | undefined {
  return byTask.get(task)?.get(page);
}

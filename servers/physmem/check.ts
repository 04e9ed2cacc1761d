// physmem's self-check: the accounting and structure invariants, computed from scratch by
// walking every container, and compared with what the model keeps incrementally. Run after
// every request with physmem's `check` option (the hostile-client tests do), and by the tests
// on the model directly. Returns the problems found; empty when all is well.
//
//   free + allocated + reserved = total, each counted from the slots
//   every frame is free exactly when no page uses it, and pages agree with frame.pages
//   every page is in as many slots as it says; a task's committed frames are its containers' slots
//   the sum of guarantees fits the box
//   references: every one in a task's table is in its container's set and the other way round

import type { Physmem, Page } from './containers.ts';

export function checkPhysmem(model: Physmem): string[] {
  const problems: string[] = [];
  const pool = model.pool;
  const pageSlots = new Map<Page, number>();
  let slots = 0;
  let reserved = 0;
  let guaranteed = 0;
  for (const client of model.clients.values()) {
    let committed = 0;
    guaranteed += client.guarantee;
    for (const container of client.containers) {
      if (container.destroyed) problems.push(`task ${client.task} owns destroyed container ${container.id}`);
      if (container.owner !== client.task) problems.push(`container ${container.id} is listed under task ${client.task} but owned by ${container.owner}`);
      committed += container.slots.size;
      for (const page of container.slots.values()) {
        pageSlots.set(page, (pageSlots.get(page) ?? 0) + 1);
        slots++;
        if (!page.frame) reserved++;
      }
      for (const reference of container.references) {
        if (model.clients.get(reference.task)?.references.get(reference.handle) !== reference) {
          problems.push(`container ${container.id}: reference ${reference.handle} of task ${reference.task} is not in that task's table`);
        }
      }
    }
    if (committed !== client.committed) problems.push(`task ${client.task}: ${client.committed} frames committed, its containers hold ${committed}`);
    for (const reference of client.references.values()) {
      if (reference.container.destroyed || !reference.container.references.has(reference)) {
        problems.push(`task ${client.task}: capability ${reference.handle} reaches a container that does not know it`);
      }
    }
  }
  const framePages = new Map<number, number>();
  for (const [page, count] of pageSlots) {
    if (page.slots !== count) problems.push(`a page says it is in ${page.slots} slots, it is in ${count}`);
    if (page.frame) framePages.set(page.frame.number, (framePages.get(page.frame.number) ?? 0) + 1);
  }
  const free = new Set<number>();
  for (const number of pool.freeNumbers()) {
    if (free.has(number)) problems.push(`frame ${number} is on the free list twice`);
    free.add(number);
  }
  for (const frame of pool.frames) {
    const used = framePages.get(frame.number) ?? 0;
    if (used !== frame.pages) problems.push(`frame ${frame.number}: ${frame.pages} pages recorded, ${used} found`);
    if ((used === 0) !== free.has(frame.number)) problems.push(`frame ${frame.number} is ${free.has(frame.number) ? 'free but used' : 'unused but not free'}`);
  }
  const stats = model.stats();
  if (stats.reserved !== reserved) problems.push(`${stats.reserved} frames reserved, ${reserved} found`);
  if (stats.allocated !== slots - reserved) problems.push(`${stats.allocated} frames allocated, ${slots - reserved} found`);
  if (stats.free + stats.allocated + stats.reserved !== stats.total) problems.push(`free ${stats.free} + allocated ${stats.allocated} + reserved ${stats.reserved} != total ${stats.total}`);
  if (stats.free < 0) problems.push(`${stats.free} frames free`);
  if (guaranteed > stats.total) problems.push(`guarantees of ${guaranteed} frames exceed the ${stats.total} of the box`);
  if (pool.freeCount < stats.free + stats.reserved) problems.push(`${pool.freeCount} frames physically free, fewer than free ${stats.free} + reserved ${stats.reserved}`);
  return problems;
}

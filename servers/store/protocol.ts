// The store's wire protocol, shared by the server (main.ts) and the client (client.ts).
// README.md has the same table for users. Every request is a Call; the reply's label is 0 or an
// error number (../errno.ts).
//
// A page is kept under a key of two words chosen by the client, (object, offset): libhurd-mm
// uses (0, page number), the central pager (client task, page number). Keys are per client
// task: one client never reaches another's pages. The memory of every transfer is the client's:
// a frame of the container it attached (002: clients provide the resources servers use).

export const StoreOp = {
  /** [handle] -> []: the container (the store's handle for it) whose frames transfers name */
  Attach: 0x5801,
  /** [index, object, offset] -> []: keep a copy of frame `index` under (object, offset) */
  Write: 0x5802,
  /** [index, object, offset] -> []: fill frame `index` with the page kept under (object, offset) */
  Read: 0x5803,
  /** [object, offset, count] -> [pages dropped]: forget offsets offset..offset+count-1 of object */
  Discard: 0x5804,
  /** [] -> [pages kept, reads, writes, pages kept for everyone, capacity] */
  Stats: 0x5805,
} as const;

export interface StoreStats {
  /** Pages the store keeps for the caller. */
  kept: number;
  /** Pages read back into the caller's frames, and written from them. */
  reads: number;
  writes: number;
  /** Pages kept for all clients, and how many the store can keep. */
  keptTotal: number;
  capacity: number;
}

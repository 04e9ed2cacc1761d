// The mapping database: map, grant, revoke (Unmap), remove, lookup, capacity, deleting a space,
// a 100,000-deep chain, and a seeded random run checked against a naive reference model.
import { describe, expect, it } from 'vitest';
import {
  MappingDatabase,
  RIGHT_R,
  RIGHT_W,
  RIGHT_X,
  RIGHTS_ALL,
  ROOT_SPACE,
  type MappingNode,
} from '../../kernel/generic/mapping-database.ts';

const KiB4 = 12;
const MiB4 = 22;
const RW = RIGHT_R | RIGHT_W;
const RX = RIGHT_R | RIGHT_X;

/** Map or fail the test: the node, never null. */
function mapped(db: MappingDatabase, parent: MappingNode, space: number, address: number, log2Size: number, rights: number, frame?: number): MappingNode {
  const node = db.map(parent, space, address, log2Size, rights, frame);
  if (node === null) throw new Error('map returned null');
  return node;
}

/** Where a node is, for readable comparisons of lists. */
function where(node: MappingNode): string {
  return `${node.space}:${node.address.toString(16)}`;
}

describe('MappingDatabase: roots and map', () => {
  it('makes a root on first use and returns the same one afterwards', () => {
    const db = new MappingDatabase();
    const root = db.root(0x5000, KiB4);
    expect(root).toMatchObject({ space: ROOT_SPACE, address: 0x5000, frame: 0x5000, log2Size: KiB4, rights: RIGHTS_ALL, parent: null, depth: 0, live: true });
    expect(db.root(0x5000, KiB4)).toBe(root);
    expect(db.size).toBe(1);
    expect(db.mappingCount).toBe(0);
    expect(db.lookup(ROOT_SPACE, 0x5abc)).toBe(root);
    expect(db.nodesOf(ROOT_SPACE)).toEqual([root]);
    expect(db.check()).toEqual([]);
  });

  it('keeps one root granularity per physical region', () => {
    const db = new MappingDatabase();
    const large = db.root(0x400000, MiB4);
    expect(() => db.root(0x401000, KiB4)).toThrow(RangeError);
    db.root(0x800000, KiB4);
    expect(() => db.root(0x800000, MiB4)).toThrow(RangeError);
    expect(db.lookup(ROOT_SPACE, 0x7fffff)).toBe(large);
    expect(db.size).toBe(2);
  });

  it('refuses malformed roots', () => {
    const db = new MappingDatabase();
    expect(() => db.root(0x1001, KiB4)).toThrow(RangeError);
    expect(() => db.root(0x1000, MiB4)).toThrow(RangeError);
    expect(() => db.root(0x1000, 13)).toThrow(RangeError);
    expect(() => db.root(2 ** 32, KiB4)).toThrow(RangeError);
    expect(db.size).toBe(0);
  });

  it('gives a child the AND of the requested rights and the parent rights', () => {
    const db = new MappingDatabase();
    const root = db.root(0x3000, KiB4);
    const a = mapped(db, root, 1, 0x10000, KiB4, RX);
    expect(a.rights).toBe(RX);
    const b = mapped(db, a, 2, 0x20000, KiB4, RIGHTS_ALL);
    expect(b.rights).toBe(RX);
    const c = mapped(db, b, 3, 0x30000, KiB4, RW);
    expect(c.rights).toBe(RIGHT_R);
    expect([a.depth, b.depth, c.depth]).toEqual([1, 2, 3]);
    expect([a.frame, b.frame, c.frame]).toEqual([0x3000, 0x3000, 0x3000]);
    expect(c.parent).toBe(b);
    expect(db.check()).toEqual([]);
  });

  it('refuses a mapping that would have no read right, or onto an occupied page', () => {
    const db = new MappingDatabase();
    const root = db.root(0x3000, KiB4);
    const a = mapped(db, root, 1, 0x10000, KiB4, RX);
    expect(() => db.map(a, 2, 0x0, KiB4, RIGHT_W)).toThrow(RangeError);
    expect(() => db.map(root, 2, 0x0, KiB4, RIGHT_X)).toThrow(RangeError);
    expect(() => db.map(root, 1, 0x10000, KiB4, RIGHTS_ALL)).toThrow(RangeError);
    expect(() => db.map(a, 1, 0x10000, KiB4, RIGHT_R)).toThrow(RangeError);
    expect(() => db.map(root, 1, 0x10800, KiB4, RIGHT_R)).toThrow(RangeError);
    expect(() => db.map(root, ROOT_SPACE, 0x0, KiB4, RIGHT_R)).toThrow(RangeError);
    expect(() => db.map(root, 1, 0x0, KiB4, 8)).toThrow(RangeError);
    expect(db.size).toBe(2);
    expect(db.check()).toEqual([]);
  });

  it('keeps children in the order they were made', () => {
    const db = new MappingDatabase();
    const root = db.root(0, KiB4);
    const made = [5, 2, 9, 1].map((space) => mapped(db, root, space, 0x1000, KiB4, RW));
    expect(db.children(root)).toEqual(made);
    db.remove(made[1]!);
    expect(db.children(root)).toEqual([made[0], made[2], made[3]]);
    const again = mapped(db, root, 2, 0x1000, KiB4, RW);
    expect(db.children(root)).toEqual([made[0], made[2], made[3], again]);
  });
});

describe('MappingDatabase: 4 KiB and 4 MiB pages', () => {
  it('finds a 4 MiB page from any address inside it and a 4 KiB page only inside its 4 KiB', () => {
    const db = new MappingDatabase();
    const bigRoot = db.root(0x01000000, MiB4);
    const smallRoot = db.root(0x00005000, KiB4);
    const big = mapped(db, bigRoot, 1, 0x00c00000, MiB4, RW);
    const small = mapped(db, smallRoot, 1, 0x00007000, KiB4, RW);
    expect(db.lookup(1, 0x00c00000)).toBe(big);
    expect(db.lookup(1, 0x00fff123)).toBe(big);
    expect(db.lookup(1, 0x01000000)).toBeUndefined();
    expect(db.lookup(1, 0x00bfffff)).toBeUndefined();
    expect(db.lookup(1, 0x00007fff)).toBe(small);
    expect(db.lookup(1, 0x00008000)).toBeUndefined();
    expect(db.lookup(1, 0x00006fff)).toBeUndefined();
    expect(db.lookup(2, 0x00007000)).toBeUndefined();
  });

  it('refuses a 4 KiB page inside a 4 MiB page of the same space and the reverse', () => {
    const db = new MappingDatabase();
    const bigRoot = db.root(0x01000000, MiB4);
    const smallRoot = db.root(0x00005000, KiB4);
    mapped(db, bigRoot, 1, 0x00400000, MiB4, RW);
    expect(() => db.map(smallRoot, 1, 0x00456000, KiB4, RW)).toThrow(RangeError);
    const small = mapped(db, smallRoot, 1, 0x00856000, KiB4, RW);
    expect(() => db.map(bigRoot, 1, 0x00800000, MiB4, RW)).toThrow(RangeError);
    db.remove(small);
    expect(mapped(db, bigRoot, 1, 0x00800000, MiB4, RW).address).toBe(0x00800000);
    expect(db.check()).toEqual([]);
  });

  it('gives a 4 KiB child of a 4 MiB page the part its address selects, or the frame given', () => {
    const db = new MappingDatabase();
    const bigRoot = db.root(0x01000000, MiB4);
    const big = mapped(db, bigRoot, 1, 0x00400000, MiB4, RW);
    expect(mapped(db, big, 2, 0x00c05000, KiB4, RW).frame).toBe(0x01005000);
    expect(mapped(db, big, 3, 0x00005000, KiB4, RW, 0x013ff000).frame).toBe(0x013ff000);
    expect(mapped(db, bigRoot, 4, 0x0000a000, KiB4, RW).frame).toBe(0x0100a000);
    expect(() => db.map(big, 5, 0x0, KiB4, RW, 0x01400000)).toThrow(RangeError);
    expect(() => db.map(big, 5, 0x0, KiB4, RW, 0x00fff000)).toThrow(RangeError);
    expect(() => db.map(big, 5, 0x0, KiB4, RW, 0x01000800)).toThrow(RangeError);
    const smallRoot = db.root(0x2000, KiB4);
    expect(() => db.map(smallRoot, 5, 0x0, MiB4, RW)).toThrow(RangeError);
    expect(db.check()).toEqual([]);
  });
});

describe('MappingDatabase: the parts of a 4 MiB node, split', () => {
  /** root (4 MiB) -> big (space 1, 4 MiB at 0x400000) with 4 KiB children at parts 5, 5, 9 and a 4 MiB child. */
  function setUp() {
    const db = new MappingDatabase();
    const root = db.root(0x01000000, MiB4);
    const big = mapped(db, root, 1, 0x00400000, MiB4, RIGHTS_ALL);
    const a = mapped(db, big, 2, 0x00010000, KiB4, RW, 0x01005000);
    const b = mapped(db, big, 3, 0x00020000, KiB4, RX, 0x01005000);
    const c = mapped(db, big, 2, 0x00011000, KiB4, RW, 0x01009000);
    const under = mapped(db, a, 4, 0x00030000, KiB4, RW);
    const wide = mapped(db, big, 5, 0x00c00000, MiB4, RW);
    const wideChild = mapped(db, wide, 6, 0x00040000, KiB4, RIGHT_R, 0x01009000);
    const wideWide = mapped(db, wide, 7, 0x01000000, MiB4, RIGHT_R);
    return { db, root, big, a, b, c, under, wide, wideChild, wideWide };
  }

  it('finds the children covering one part without the others, and the 4 MiB children', () => {
    const { db, big, a, b, c, under, wide, wideWide } = setUp();
    expect(db.childrenCovering(big, 0x01005000)).toEqual([a, b, wide]);
    expect(db.childrenCovering(big, 0x01009fff)).toEqual([c, wide]);
    expect(db.childrenCovering(big, 0x01006000)).toEqual([wide]);
    expect(db.childrenCovering(a, 0x01005000)).toEqual([under]);
    expect(db.largeChildren(big)).toEqual([wide]);
    expect(db.largeChildren(wide)).toEqual([wideWide]);
    expect(db.largeChildren(a)).toEqual([]);
    expect(() => db.childrenCovering(big, 0x01400000)).toThrow(RangeError);
    expect(() => db.childrenCovering(a, 0x01006000)).toThrow(RangeError);
    // Removal and grant keep the index right (check() compares it with the child lists).
    db.grant(b, 3, 0x00050000, RIGHT_R);
    db.remove(a);
    expect(db.childrenCovering(big, 0x01005000)).toEqual([b, wide]);
    expect(db.check()).toEqual([]);
  });

  it('lists the nodes of one 4 MiB region of a space in address order', () => {
    const { db, a, c, big } = setUp();
    expect(db.nodesInRegion(2, 0x00012345)).toEqual([a, c]);
    expect(db.nodesInRegion(1, 0x007fffff)).toEqual([big]);
    expect(db.nodesInRegion(1, 0x00800000)).toEqual([]);
    expect(db.nodesInRegion(9, 0)).toEqual([]);
  });

  it('revokePart takes rights from the children of the part only, their subtrees included, the node untouched', () => {
    const { db, big, a, b, c, under, wide } = setUp();
    expect(() => db.revokePart(big, 0x00405000, KiB4, RIGHTS_ALL)).toThrow(RangeError); // a 4 MiB child: split it first
    db.remove(wide);
    const reduced = db.revokePart(big, 0x00405000, KiB4, RIGHT_W);
    expect(reduced.visited).toEqual([a, under, b]);
    expect(reduced.reduced).toEqual([a, under]);
    expect([a.rights, under.rights, b.rights, c.rights, big.rights]).toEqual([RIGHT_R, RIGHT_R, RX, RW, RIGHTS_ALL]);
    // A 64 KiB part holding parts 0-15: the children of parts 5 and 9, in part order.
    const removed = db.revokePart(big, 0x00400000, 16, RIGHTS_ALL);
    expect(removed.removed).toEqual([a, under, b, c]);
    expect([a.live, under.live, b.live, c.live, big.live]).toEqual([false, false, false, false, true]);
    expect(db.children(big)).toEqual([]);
    expect(db.revokePart(big, 0x00405000, KiB4, RIGHTS_ALL)).toEqual({ visited: [], reduced: [], removed: [] });
    expect(db.check()).toEqual([]);
  });

  it('revokePart refuses a 4 KiB node, a part outside the node or misaligned, and a whole 4 MiB "part"', () => {
    const { db, big, a } = setUp();
    expect(() => db.revokePart(a, 0x00010000, KiB4, RIGHTS_ALL)).toThrow(RangeError);
    expect(() => db.revokePart(big, 0x00800000, KiB4, RIGHTS_ALL)).toThrow(RangeError);
    expect(() => db.revokePart(big, 0x00405800, KiB4, RIGHTS_ALL)).toThrow(RangeError);
    expect(() => db.revokePart(big, 0x00401000, 13, RIGHTS_ALL)).toThrow(RangeError);
    expect(() => db.revokePart(big, 0x00400000, MiB4, RIGHTS_ALL)).toThrow(RangeError);
    expect(() => db.revokePart(big, 0x00400000, KiB4, 9)).toThrow(RangeError);
  });

  it('split makes 1,024 pieces in place of a 4 MiB node and of every 4 MiB node below it, moving the 4 KiB children under their pieces', () => {
    const { db, root, big, a, b, c, under, wide, wideChild, wideWide } = setUp();
    const before = db.mappingCount;
    const result = db.split(wide)!;
    expect(result.replaced).toEqual([wide, wideWide]);
    expect(result.pieces.length).toBe(2048);
    expect([wide.live, wideWide.live]).toEqual([false, false]);
    expect(db.mappingCount).toBe(before + 2 * 1023);
    const pieces = result.pieces.slice(0, 1024);
    const lower = result.pieces.slice(1024);
    // Plain fields compared as one list (a node's parent is compared by identity: toMatchObject
    // would walk the whole database behind it).
    const fields = (node: MappingNode, parent: MappingNode): unknown[] => [node.space, node.address, node.log2Size, node.frame, node.rights, node.parent === parent, node.depth, node.live];
    expect(pieces.map((piece) => fields(piece, big))).toEqual(pieces.map((_, i) => [5, 0x00c00000 + i * 0x1000, KiB4, 0x01000000 + i * 0x1000, RW, true, 2, true]));
    expect(lower.map((piece, i) => fields(piece, pieces[i]!))).toEqual(lower.map((_, i) => [7, 0x01000000 + i * 0x1000, KiB4, 0x01000000 + i * 0x1000, RIGHT_R, true, 3, true]));
    // wide's 4 KiB child now hangs under the piece of part 9, before wideWide's piece of part 9.
    expect(wideChild.parent).toBe(pieces[9]);
    expect(db.children(pieces[9]!)).toEqual([wideChild, lower[9]]);
    // big's children: the 4 KiB ones it had, then the pieces, last, in address order.
    expect(db.children(big)).toEqual([a, b, c, ...pieces]);
    expect(db.childrenCovering(big, 0x01005000)).toEqual([a, b, pieces[5]]);
    expect(db.largeChildren(big)).toEqual([]);
    expect(db.lookup(5, 0x00c05123)).toBe(pieces[5]);
    expect(db.nodesOf(5)).toEqual(pieces);
    expect(db.subtree(root).length).toBe(2 + 4 + 2048 + 1);
    expect(under.parent).toBe(a);
    expect(db.check()).toEqual([]);
    // Now a part can be revoked through both levels.
    expect(db.revokePart(big, 0x00409000, KiB4, RIGHTS_ALL).removed).toEqual([c, pieces[9], wideChild, lower[9]]);
    expect(db.check()).toEqual([]);
  });

  it('split refuses a 4 KiB node and a root, and returns null at capacity changing nothing', () => {
    const small = setUp();
    expect(() => small.db.split(small.a)).toThrow(RangeError);
    expect(() => small.db.split(small.root)).toThrow(RangeError);
    const db = new MappingDatabase({ maxNodes: 1030 });
    const root = db.root(0, MiB4);
    const big = mapped(db, root, 1, 0, MiB4, RW);
    const child = mapped(db, big, 2, 0, MiB4, RW);
    expect(db.split(child)!.pieces.length).toBe(1024); // 1 + 1024 mapping nodes now
    expect(db.split(big)).toBeNull();
    expect(big.live).toBe(true);
    expect(db.mappingCount).toBe(1025);
    expect(db.check()).toEqual([]);
  });
});

describe('MappingDatabase: revoke (Unmap)', () => {
  /** root -> a (space 1) -> b (space 2) -> c (space 3), plus a second child d of a (space 4). */
  function chain(): { db: MappingDatabase; root: MappingNode; a: MappingNode; b: MappingNode; c: MappingNode; d: MappingNode } {
    const db = new MappingDatabase();
    const root = db.root(0x9000, KiB4);
    const a = mapped(db, root, 1, 0x1000, KiB4, RIGHTS_ALL);
    const b = mapped(db, a, 2, 0x2000, KiB4, RIGHTS_ALL);
    const c = mapped(db, b, 3, 0x3000, KiB4, RIGHTS_ALL);
    const d = mapped(db, a, 4, 0x4000, KiB4, RW);
    return { db, root, a, b, c, d };
  }

  it('removes the descendants of a middle node recursively and keeps the node itself', () => {
    const { db, root, a, b, c, d } = chain();
    const result = db.revoke(a, RIGHTS_ALL, false);
    expect(result.visited).toEqual([a, b, c, d]);
    expect(result.removed).toEqual([b, c, d]);
    expect(result.reduced).toEqual([]);
    expect([a.live, b.live, c.live, d.live]).toEqual([true, false, false, false]);
    expect(a.rights).toBe(RIGHTS_ALL);
    expect(db.children(a)).toEqual([]);
    expect(db.children(root)).toEqual([a]);
    expect([db.lookup(2, 0x2000), db.lookup(3, 0x3000), db.lookup(4, 0x4000)]).toEqual([undefined, undefined, undefined]);
    expect(db.size).toBe(2);
    expect(db.check()).toEqual([]);
  });

  it('removes the node itself too with includeSelf', () => {
    const { db, root, a, b, c, d } = chain();
    const result = db.revoke(b, RIGHTS_ALL, true);
    expect(result.visited).toEqual([b, c]);
    expect(result.removed).toEqual([b, c]);
    expect(db.children(a)).toEqual([d]);
    expect(db.lookup(1, 0x1000)).toBe(a);
    expect(db.subtree(root)).toEqual([root, a, d]);
    expect(db.check()).toEqual([]);
  });

  it('revokes W only: nodes kept with fewer rights, listed in reduced only if they had W', () => {
    const { db, a, b, c, d } = chain();
    const x = mapped(db, b, 5, 0x5000, KiB4, RX);
    const result = db.revoke(a, RIGHT_W, false);
    expect(result.visited).toEqual([a, b, c, x, d]);
    expect(result.reduced).toEqual([b, c, d]);
    expect(result.removed).toEqual([]);
    expect([a.rights, b.rights, c.rights, x.rights, d.rights]).toEqual([RIGHTS_ALL, RX, RX, RX, RIGHT_R]);
    expect(db.size).toBe(6);
    expect(db.check()).toEqual([]);
  });

  it('revokes W with includeSelf from the node as well', () => {
    const { db, a, b, c, d } = chain();
    const result = db.revoke(a, RIGHT_W, true);
    expect(result.reduced).toEqual([a, b, c, d]);
    expect(a.rights).toBe(RX);
    expect(db.check()).toEqual([]);
  });

  it('removes a whole subtree when R is revoked, even if other rights stay', () => {
    const { db, root, a, b, c, d } = chain();
    const result = db.revoke(root, RIGHT_R, false);
    expect(result.removed).toEqual([a, b, c, d]);
    expect(result.reduced).toEqual([]);
    expect(root.live).toBe(true);
    expect(db.size).toBe(1);
    expect(db.check()).toEqual([]);
  });

  it('lists the subtree and changes nothing for rights 0', () => {
    const { db, a, b, c, d } = chain();
    const result = db.revoke(a, 0, true);
    expect(result.visited).toEqual([a, b, c, d]);
    expect(result.reduced).toEqual([]);
    expect(result.removed).toEqual([]);
    expect([a.rights, b.rights, c.rights, d.rights]).toEqual([RIGHTS_ALL, RIGHTS_ALL, RIGHTS_ALL, RW]);
    expect(db.size).toBe(5);
  });

  it('visits in pre-order with children in the order they were made', () => {
    const db = new MappingDatabase();
    const root = db.root(0, KiB4);
    const n1 = mapped(db, root, 1, 0x1000, KiB4, RW);
    const n2 = mapped(db, root, 2, 0x1000, KiB4, RW);
    const n11 = mapped(db, n1, 3, 0x1000, KiB4, RW);
    const n21 = mapped(db, n2, 4, 0x1000, KiB4, RW);
    const n12 = mapped(db, n1, 5, 0x1000, KiB4, RW);
    const n111 = mapped(db, n11, 6, 0x1000, KiB4, RW);
    expect(db.revoke(root, RIGHT_W, true).visited.map(where)).toEqual([root, n1, n11, n111, n12, n2, n21].map(where));
    expect(db.remove(n1).map(where)).toEqual([n1, n11, n111, n12].map(where));
  });

  it('revokes a root with includeSelf, after which root() makes a fresh one', () => {
    const db = new MappingDatabase();
    const root = db.root(0x7000, KiB4);
    mapped(db, root, 1, 0x0, KiB4, RW);
    expect(db.revoke(root, RIGHTS_ALL, true).removed.length).toBe(2);
    expect(root.live).toBe(false);
    const fresh = db.root(0x7000, KiB4);
    expect(fresh).not.toBe(root);
    expect(fresh.rights).toBe(RIGHTS_ALL);
    expect(db.size).toBe(1);
    expect(db.check()).toEqual([]);
  });
});

describe('MappingDatabase: grant', () => {
  it('moves a node with its children, keeps its parent and frees the old slot', () => {
    const db = new MappingDatabase();
    const root = db.root(0x9000, KiB4);
    const a = mapped(db, root, 1, 0x1000, KiB4, RIGHTS_ALL);
    const sibling = mapped(db, root, 9, 0x1000, KiB4, RW);
    const b = mapped(db, a, 2, 0x2000, KiB4, RW);
    const c = mapped(db, a, 3, 0x3000, KiB4, RX);
    const moved = db.grant(a, 7, 0x77000, RIGHTS_ALL);
    expect(moved).toBe(a);
    expect(moved).toMatchObject({ space: 7, address: 0x77000, frame: 0x9000, depth: 1, rights: RIGHTS_ALL, parent: root });
    expect(db.lookup(1, 0x1000)).toBeUndefined();
    expect(db.nodesOf(1)).toEqual([]);
    expect(db.lookup(7, 0x77000)).toBe(a);
    expect(db.children(a)).toEqual([b, c]);
    expect(db.children(root)).toEqual([a, sibling]);
    expect(b.parent).toBe(a);
    expect(mapped(db, root, 1, 0x1000, KiB4, RW).space).toBe(1);
    expect(db.check()).toEqual([]);
  });

  it('reduces the rights of the granted node and its descendants', () => {
    const db = new MappingDatabase();
    const root = db.root(0x9000, KiB4);
    const a = mapped(db, root, 1, 0x1000, KiB4, RIGHTS_ALL);
    const b = mapped(db, a, 2, 0x2000, KiB4, RW);
    const c = mapped(db, b, 3, 0x3000, KiB4, RX);
    const result = db.grantAndReport(a, 4, 0x4000, RX);
    expect(result.node).toBe(a);
    expect(result.reduced).toEqual([b]);
    expect([a.rights, b.rights, c.rights]).toEqual([RX, RIGHT_R, RIGHT_R]);
    expect(db.check()).toEqual([]);
  });

  it('grants to the same slot as a rights reduction only', () => {
    const db = new MappingDatabase();
    const root = db.root(0x9000, KiB4);
    const a = mapped(db, root, 1, 0x1000, KiB4, RIGHTS_ALL);
    const other = mapped(db, root, 1, 0x2000, KiB4, RIGHTS_ALL);
    expect(db.grant(a, 1, 0x1000, RW)).toBe(a);
    expect(a.rights).toBe(RW);
    expect(db.nodesOf(1)).toEqual([a, other]);
  });

  it('refuses to grant a root, onto an occupied page, misaligned, or without R', () => {
    const db = new MappingDatabase();
    const root = db.root(0x9000, KiB4);
    const bigRoot = db.root(0x400000, MiB4);
    const a = mapped(db, root, 1, 0x1000, KiB4, RW);
    const big = mapped(db, bigRoot, 2, 0x800000, MiB4, RW);
    expect(() => db.grant(root, 1, 0x5000, RW)).toThrow(RangeError);
    expect(() => db.grant(a, 2, 0x801000, RW)).toThrow(RangeError);
    expect(() => db.grant(big, 1, 0x1000, RW)).toThrow(RangeError);
    expect(() => db.grant(big, 1, 0x0, RW)).toThrow(RangeError);
    expect(() => db.grant(a, 3, 0x1800, RW)).toThrow(RangeError);
    expect(() => db.grant(a, 3, 0x1000, RIGHT_W)).toThrow(RangeError);
    expect(() => db.grant(a, ROOT_SPACE, 0x1000, RW)).toThrow(RangeError);
    expect([a.space, a.address, a.rights, big.space, big.address]).toEqual([1, 0x1000, RW, 2, 0x800000]);
    expect(db.grant(big, 1, 0x400000, RW).address).toBe(0x400000);
    expect(db.check()).toEqual([]);
  });
});

describe('MappingDatabase: extendRights', () => {
  it('raises rights up to the parent rights only', () => {
    const db = new MappingDatabase();
    const root = db.root(0, KiB4);
    const a = mapped(db, root, 1, 0x1000, KiB4, RW);
    const b = mapped(db, a, 2, 0x1000, KiB4, RIGHT_R);
    db.extendRights(b, RIGHTS_ALL);
    expect(b.rights).toBe(RW);
    db.extendRights(a, RIGHT_X);
    expect(a.rights).toBe(RIGHTS_ALL);
    expect(db.check()).toEqual([]);
  });
});

describe('MappingDatabase: removal, dead nodes, spaces, capacity', () => {
  it('marks removed nodes dead and refuses every operation on them', () => {
    const db = new MappingDatabase();
    const root = db.root(0, KiB4);
    const a = mapped(db, root, 1, 0x1000, KiB4, RW);
    const b = mapped(db, a, 2, 0x1000, KiB4, RW);
    expect(db.remove(a)).toEqual([a, b]);
    for (const dead of [a, b]) {
      expect(dead.live).toBe(false);
      expect(() => db.map(dead, 3, 0x0, KiB4, RW)).toThrow(RangeError);
      expect(() => db.grant(dead, 3, 0x0, RW)).toThrow(RangeError);
      expect(() => db.revoke(dead, RIGHT_W, true)).toThrow(RangeError);
      expect(() => db.remove(dead)).toThrow(RangeError);
      expect(() => db.children(dead)).toThrow(RangeError);
      expect(() => db.subtree(dead)).toThrow(RangeError);
      expect(() => db.extendRights(dead, RW)).toThrow(RangeError);
    }
    expect(a).toMatchObject({ space: 1, address: 0x1000, frame: 0 });
    expect(db.size).toBe(1);
    expect(db.check()).toEqual([]);
  });

  it('refuses nodes of another database and look-alike objects', () => {
    const db = new MappingDatabase();
    const other = new MappingDatabase();
    const foreign = other.root(0, KiB4);
    expect(() => db.map(foreign, 1, 0, KiB4, RW)).toThrow(RangeError);
    const fake: MappingNode = { space: ROOT_SPACE, address: 0, log2Size: KiB4, frame: 0, rights: RIGHTS_ALL, parent: null, depth: 0, live: true };
    expect(() => db.revoke(fake, 0, false)).toThrow(RangeError);
    expect(db.size).toBe(0);
  });

  it('removes an address space with every subtree derived from it', () => {
    const db = new MappingDatabase();
    const r1 = db.root(0x1000, KiB4);
    const r2 = db.root(0x2000, KiB4);
    const a = mapped(db, r1, 1, 0xa000, KiB4, RW);
    const b = mapped(db, a, 2, 0xb000, KiB4, RW);
    const c = mapped(db, b, 1, 0xc000, KiB4, RW);
    const d = mapped(db, c, 3, 0xd000, KiB4, RW);
    const keep2 = mapped(db, r2, 2, 0x2000, KiB4, RW);
    const e = mapped(db, r2, 1, 0xe000, KiB4, RW);
    const keep3 = mapped(db, keep2, 3, 0x3000, KiB4, RW);
    expect(db.nodesOf(1)).toEqual([a, c, e]);
    expect(db.removeSpace(1)).toEqual([a, b, c, d, e]);
    expect(db.nodesOf(1)).toEqual([]);
    expect(db.nodesOf(2)).toEqual([keep2]);
    expect(db.nodesOf(3)).toEqual([keep3]);
    expect(db.subtree(r2)).toEqual([r2, keep2, keep3]);
    expect(db.size).toBe(4);
    expect(db.removeSpace(1)).toEqual([]);
    expect(db.check()).toEqual([]);
  });

  it('returns null at capacity and leaves the database unchanged; roots do not count', () => {
    const db = new MappingDatabase({ maxNodes: 2 });
    const root = db.root(0, KiB4);
    const a = mapped(db, root, 1, 0x1000, KiB4, RW);
    mapped(db, a, 2, 0x1000, KiB4, RW);
    const before = db.subtree(root).map(where);
    expect(db.map(a, 3, 0x1000, KiB4, RW)).toBeNull();
    expect(db.map(root, 3, 0x1000, KiB4, RW)).toBeNull();
    expect(db.subtree(root).map(where)).toEqual(before);
    expect(db.lookup(3, 0x1000)).toBeUndefined();
    expect(db.nodesOf(3)).toEqual([]);
    expect([db.size, db.mappingCount]).toEqual([3, 2]);
    expect(db.root(0x5000, KiB4).live).toBe(true);
    expect(db.check()).toEqual([]);
    db.remove(db.lookup(2, 0x1000)!);
    expect(db.map(a, 3, 0x1000, KiB4, RW)).not.toBeNull();
    expect(() => new MappingDatabase({ maxNodes: -1 })).toThrow(RangeError);
    const empty = new MappingDatabase({ maxNodes: 0 });
    expect(empty.map(empty.root(0, KiB4), 1, 0, KiB4, RW)).toBeNull();
    expect(empty.size).toBe(1);
  });

  it('revokes a 100,000-deep chain without recursion', () => {
    const depth = 100_000;
    const db = new MappingDatabase();
    const root = db.root(0x1000, KiB4);
    let tip = root;
    for (let i = 1; i <= depth; i++) tip = mapped(db, tip, 1, i * 0x1000, KiB4, RIGHTS_ALL);
    expect(tip.depth).toBe(depth);
    expect(db.check()).toEqual([]);
    const reduced = db.revoke(root, RIGHT_W, false);
    expect(reduced.visited.length).toBe(depth + 1);
    expect(reduced.reduced.length).toBe(depth);
    expect(tip.rights).toBe(RX);
    const removed = db.revoke(db.lookup(1, 0x1000)!, RIGHTS_ALL, false);
    expect(removed.removed.length).toBe(depth - 1);
    expect(removed.removed[removed.removed.length - 1]).toBe(tip);
    expect(db.size).toBe(2);
    expect(db.check()).toEqual([]);
    expect(tip.live).toBe(false);
    tip = db.lookup(1, 0x1000)!;
    for (let i = 1; i <= depth; i++) tip = mapped(db, tip, 2, i * 0x1000, KiB4, RW);
    expect(db.subtree(root).length).toBe(depth + 2);
    expect(db.removeSpace(1).length).toBe(depth + 1);
    expect(db.size).toBe(1);
  });
});

// ---------------------------------------------------------------------------------------------
// A seeded random run against a naive reference model.

/** mulberry32: a tiny seeded generator, so the run is the same every time. */
function seededRandom(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n: number) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) % n;
  };
}

/** One node as the model sees it: plain fields, parent by index, children found by scanning. */
interface ModelNode {
  readonly handle: MappingNode;
  parent: number; // index into the model's list, -1 for a root (changes when a split moves the node)
  readonly log2Size: number;
  readonly frame: number;
  space: number;
  address: number;
  rights: number;
  alive: boolean;
  arrival: number; // when the node arrived in its current space
}

class Model {
  readonly nodes: ModelNode[] = [];
  private clock = 0;

  constructor(readonly maxNodes: number) {}

  alive(): number[] {
    return this.nodes.flatMap((node, i) => (node.alive ? [i] : []));
  }

  /** Every live node's children in index order, which is the order they became its children. */
  tree(alive: number[]): Map<number, number[]> {
    const tree = new Map<number, number[]>();
    for (const j of alive) {
      const parent = this.nodes[j]!.parent;
      if (parent < 0) continue;
      const list = tree.get(parent);
      if (list === undefined) tree.set(parent, [j]);
      else list.push(j);
    }
    return tree;
  }

  childrenOf(i: number, alive: number[] | Map<number, number[]>): number[] {
    return alive instanceof Map ? (alive.get(i) ?? []) : alive.filter((j) => this.nodes[j]!.parent === i);
  }

  preOrder(i: number, alive: number[] | Map<number, number[]>): number[] {
    const tree = alive instanceof Map ? alive : this.tree(alive);
    return [i, ...this.childrenOf(i, tree).flatMap((j) => this.preOrder(j, tree))];
  }

  overlaps(space: number, address: number, log2Size: number, except = -1): boolean {
    const end = address + 2 ** log2Size;
    return this.nodes.some((node, i) => node.alive && i !== except && node.space === space && node.address < end && address < node.address + 2 ** node.log2Size);
  }

  mappings(): number {
    return this.nodes.filter((node) => node.alive && node.parent >= 0).length;
  }

  add(handle: MappingNode, parent: number, space: number, address: number, log2Size: number, frame: number, rights: number): void {
    this.nodes.push({ handle, parent, space, address, log2Size, frame, rights, alive: true, arrival: this.clock++ });
  }

  move(i: number, space: number, address: number): void {
    const node = this.nodes[i]!;
    node.space = space;
    node.address = address;
    node.arrival = this.clock++;
  }

  depth(i: number): number {
    let depth = 0;
    for (let j = this.nodes[i]!.parent; j >= 0; j = this.nodes[j]!.parent) depth++;
    return depth;
  }
}

const SPACES = [ROOT_SPACE, 0, 1, 2, 3];
const ROOT_FRAMES: ReadonlyArray<readonly [number, number]> = [
  [0x00000000, KiB4],
  [0x00001000, KiB4],
  [0x00400000, MiB4],
  [0x00800000, MiB4],
  [0x00402000, KiB4], // inside the 4 MiB root at 0x400000: refused while that root lives
  [0x00c00000, KiB4],
];

function randomAddress(random: (n: number) => number, log2Size: number): number {
  const region = random(3) * 0x400000;
  return log2Size === MiB4 ? region : region + random(4) * 0x1000;
}

/** `partsHeavy`: three in ten steps are revokePart or split, besides their usual share. */
function runRandom(seed: number, steps: number, maxNodes: number, partsHeavy = false): Record<string, number> {
  const random = seededRandom(seed);
  const db = new MappingDatabase({ maxNodes });
  const model = new Model(maxNodes);
  const indexOf = new Map<MappingNode, number>();
  const outcomes: Record<string, number> = {};
  const count = (what: string): void => {
    outcomes[what] = (outcomes[what] ?? 0) + 1;
  };
  const indices = (list: readonly MappingNode[]): number[] => list.map((node) => indexOf.get(node)!);

  for (let step = 0; step < steps; step++) {
    const alive = model.alive();
    const pick = (): number => alive[random(alive.length)]!;
    const nonRoots = alive.filter((i) => model.nodes[i]!.parent >= 0);
    const draw = random(100);
    const operation = partsHeavy && draw % 10 < 3 ? 88 + (Math.floor(draw / 10) % 5) : draw; // 88-90 revokePart, 91-92 split
    if (operation < 6 || alive.length === 0) {
      const [frame, log2Size] = ROOT_FRAMES[random(ROOT_FRAMES.length)]!;
      const existing = alive.find((i) => model.nodes[i]!.space === ROOT_SPACE && model.nodes[i]!.address === frame && model.nodes[i]!.log2Size === log2Size);
      if (existing !== undefined) {
        expect(db.root(frame, log2Size)).toBe(model.nodes[existing]!.handle);
        count('root existing');
      } else if (model.overlaps(ROOT_SPACE, frame, log2Size)) {
        expect(() => db.root(frame, log2Size)).toThrow(RangeError);
        count('root refused');
      } else {
        const handle = db.root(frame, log2Size);
        indexOf.set(handle, model.nodes.length);
        model.add(handle, -1, ROOT_SPACE, frame, log2Size, frame, RIGHTS_ALL);
        count('root made');
      }
    } else if (operation < 60) {
      const parent = pick();
      const from = model.nodes[parent]!;
      const space = random(4);
      const log2Size = from.log2Size === MiB4 && random(2) === 0 ? MiB4 : KiB4;
      const address = randomAddress(random, log2Size);
      const rights = random(4) === 0 ? random(8) : RIGHT_R | random(4);
      const explicit = from.log2Size !== log2Size && random(2) === 0 ? from.frame + random(1024) * 0x1000 : undefined;
      const frame = explicit ?? from.frame + ((address % 2 ** from.log2Size) - ((address % 2 ** from.log2Size) % 2 ** log2Size));
      const childRights = rights & from.rights;
      if ((childRights & RIGHT_R) === 0 || model.overlaps(space, address, log2Size)) {
        expect(() => db.map(from.handle, space, address, log2Size, rights, explicit)).toThrow(RangeError);
        count('map refused');
      } else if (model.mappings() >= maxNodes) {
        expect(db.map(from.handle, space, address, log2Size, rights, explicit)).toBeNull();
        count('map out of memory');
      } else {
        const handle = db.map(from.handle, space, address, log2Size, rights, explicit)!;
        expect(handle).not.toBeNull();
        indexOf.set(handle, model.nodes.length);
        model.add(handle, parent, space, address, log2Size, frame, childRights);
        count('map made');
      }
    } else if (operation < 70 && nonRoots.length > 0) {
      const i = nonRoots[random(nonRoots.length)]!;
      const node = model.nodes[i]!;
      const space = random(4);
      const address = randomAddress(random, node.log2Size);
      const rights = random(8);
      const kept = rights & node.rights;
      const moving = space !== node.space || address !== node.address;
      if ((kept & RIGHT_R) === 0 || (moving && model.overlaps(space, address, node.log2Size, i))) {
        expect(() => db.grant(node.handle, space, address, rights)).toThrow(RangeError);
        count('grant refused');
      } else {
        // Declarative expectation: every descendant loses the rights the node lost.
        const dropped = node.rights & ~kept;
        const descendants = model.preOrder(i, alive).slice(1);
        const expectReduced = descendants.filter((j) => (model.nodes[j]!.rights & dropped) !== 0);
        const result = db.grantAndReport(node.handle, space, address, rights);
        expect(result.node).toBe(node.handle);
        expect(indices(result.reduced)).toEqual(expectReduced);
        if (moving) model.move(i, space, address);
        node.rights = kept;
        for (const j of descendants) model.nodes[j]!.rights &= ~dropped;
        count(expectReduced.length > 0 ? 'grant reducing' : 'grant');
      }
    } else if (operation < 88) {
      const i = pick();
      const rights = random(3) === 0 ? random(8) : random(4);
      const includeSelf = random(2) === 0;
      // Declarative expectation: every live node has R, so revoking R removes every affected
      // node (and with it the whole subtree); otherwise nothing is removed and the affected
      // nodes holding any revoked right are reduced.
      const subtree = model.preOrder(i, alive);
      const affected = includeSelf ? subtree : subtree.slice(1);
      const result = db.revoke(model.nodes[i]!.handle, rights, includeSelf);
      expect(indices(result.visited)).toEqual(subtree);
      if ((rights & RIGHT_R) !== 0) {
        expect(indices(result.removed)).toEqual(affected);
        expect(result.reduced).toEqual([]);
        for (const j of affected) model.nodes[j]!.alive = false;
        count(affected.length > 0 ? 'revoke removing' : 'revoke');
      } else {
        const reduced = affected.filter((j) => (model.nodes[j]!.rights & rights) !== 0);
        expect(indices(result.reduced)).toEqual(reduced);
        expect(result.removed).toEqual([]);
        for (const j of affected) model.nodes[j]!.rights &= ~rights;
        count(reduced.length > 0 ? 'revoke reducing' : 'revoke');
      }
    } else if (operation < 91) {
      // revokePart on a 4 MiB node: only the children mapping the part, and their subtrees.
      const larges = alive.filter((i) => model.nodes[i]!.log2Size === MiB4);
      if (larges.length === 0) continue;
      const i = larges[random(larges.length)]!;
      const node = model.nodes[i]!;
      const tree = model.tree(alive);
      const children = model.childrenOf(i, tree);
      // Half the time the part of one of its children, so that there is something to revoke.
      const aimed = children.length > 0 && random(2) === 0 ? children[random(children.length)]! : -1;
      const log2Size = aimed >= 0 ? 12 + random(3) : 12 + random(10);
      const offset = aimed >= 0 ? model.nodes[aimed]!.frame - node.frame : random(1024) * 0x1000;
      const address = node.address + offset - (offset % 2 ** log2Size);
      const rights = random(3) === 0 ? random(8) : random(4);
      if (children.some((j) => model.nodes[j]!.log2Size === MiB4)) {
        expect(() => db.revokePart(node.handle, address, log2Size, rights)).toThrow(RangeError);
        count('revokePart refused');
      } else {
        const first = (address - node.address) / 0x1000;
        const parts = 2 ** (log2Size - 12);
        const partOf = (j: number): number => (model.nodes[j]!.frame - node.frame) / 0x1000;
        const tops = children.filter((j) => partOf(j) >= first && partOf(j) < first + parts).sort((x, y) => partOf(x) - partOf(y) || x - y);
        const affected = tops.flatMap((j) => model.preOrder(j, tree));
        const result = db.revokePart(node.handle, address, log2Size, rights);
        expect(indices(result.visited)).toEqual(affected);
        if ((rights & RIGHT_R) !== 0) {
          expect(indices(result.removed)).toEqual(affected);
          for (const j of affected) model.nodes[j]!.alive = false;
          count(affected.length > 0 ? 'revokePart removing' : 'revokePart');
        } else {
          expect(indices(result.reduced)).toEqual(affected.filter((j) => (model.nodes[j]!.rights & rights) !== 0));
          for (const j of affected) model.nodes[j]!.rights &= ~rights;
          count('revokePart');
        }
      }
    } else if (operation < 93) {
      // split a 4 MiB mapping node: its 4 MiB descendants too, pieces under the parent's pieces.
      const larges = nonRoots.filter((i) => model.nodes[i]!.log2Size === MiB4);
      if (larges.length === 0) continue;
      const i = larges[random(larges.length)]!;
      const tree = model.tree(alive);
      const large = model.preOrder(i, tree).filter((j) => model.nodes[j]!.log2Size === MiB4);
      if (model.mappings() + large.length * 1023 > maxNodes) {
        expect(db.split(model.nodes[i]!.handle)).toBeNull();
        count('split out of memory');
      } else {
        const result = db.split(model.nodes[i]!.handle)!;
        expect(indices(result.replaced)).toEqual(large);
        expect(result.pieces.length).toBe(large.length * 1024);
        const piecesOf = new Map<number, number[]>();
        large.forEach((old, k) => {
          const from = model.nodes[old]!;
          const parentPieces = piecesOf.get(from.parent);
          const made: number[] = [];
          for (let part = 0; part < 1024; part++) {
            const handle = result.pieces[k * 1024 + part]!;
            const frame = from.frame + part * 0x1000;
            const parent = parentPieces === undefined ? from.parent : parentPieces[(frame - model.nodes[from.parent]!.frame) / 0x1000]!;
            indexOf.set(handle, model.nodes.length);
            made.push(model.nodes.length);
            model.add(handle, parent, from.space, from.address + part * 0x1000, KiB4, frame, from.rights);
          }
          for (const child of model.childrenOf(old, tree)) {
            const c = model.nodes[child]!;
            if (c.log2Size === KiB4) c.parent = made[(c.frame - from.frame) / 0x1000]!;
          }
          piecesOf.set(old, made);
          from.alive = false;
        });
        count('split');
      }
    } else if (operation < 94) {
      const i = pick();
      const subtree = model.preOrder(i, alive);
      expect(indices(db.remove(model.nodes[i]!.handle))).toEqual(subtree);
      for (const j of subtree) model.nodes[j]!.alive = false;
      count('remove');
    } else if (operation < 96) {
      const space = random(4);
      const expected: number[] = [];
      const inSpace = alive.filter((i) => model.nodes[i]!.space === space).sort((x, y) => model.nodes[x]!.arrival - model.nodes[y]!.arrival);
      for (const i of inSpace) {
        if (!model.nodes[i]!.alive) continue;
        for (const j of model.preOrder(i, model.alive())) {
          expected.push(j);
          model.nodes[j]!.alive = false;
        }
      }
      expect(indices(db.removeSpace(space))).toEqual(expected);
      count('removeSpace');
    } else {
      const i = pick();
      const node = model.nodes[i]!;
      const rights = random(8);
      const ceiling = node.parent >= 0 ? model.nodes[node.parent]!.rights : RIGHTS_ALL;
      db.extendRights(node.handle, rights);
      node.rights |= rights & ceiling;
      count('extend');
    }

    // The whole state against the model after every step.
    expect(db.check()).toEqual([]);
    const now = model.alive();
    expect(db.size).toBe(now.length);
    expect(db.mappingCount).toBe(model.mappings());
    for (const space of SPACES) {
      const expected = now.filter((i) => model.nodes[i]!.space === space).sort((x, y) => model.nodes[x]!.arrival - model.nodes[y]!.arrival);
      expect(indices(db.nodesOf(space))).toEqual(expected);
    }
    // One comparison of the whole state (one expect per node would make the run slow).
    const actual = now.map((i) => {
      const handle = model.nodes[i]!.handle;
      return [handle.live, handle.space, handle.address, handle.log2Size, handle.frame, handle.rights, handle.depth, handle.parent === null ? -1 : indexOf.get(handle.parent), indices(db.children(handle))];
    });
    const tree = model.tree(now);
    const expected = now.map((i) => {
      const node = model.nodes[i]!;
      return [true, node.space, node.address, node.log2Size, node.frame, node.rights, model.depth(i), node.parent, model.childrenOf(i, tree)];
    });
    expect(actual).toEqual(expected);
    // The part index: the children covering a random part of a random node, and its 4 MiB children.
    if (now.length > 0) {
      const i = now[random(now.length)]!;
      const node = model.nodes[i]!;
      const frame = node.frame + (node.log2Size === MiB4 ? random(1024) * 0x1000 : 0);
      const children = model.childrenOf(i, tree);
      const small = children.filter((j) => model.nodes[j]!.log2Size === KiB4 && (node.log2Size === KiB4 || model.nodes[j]!.frame === frame));
      const large = children.filter((j) => model.nodes[j]!.log2Size === MiB4);
      expect(indices(db.childrenCovering(node.handle, frame))).toEqual([...small, ...large]);
      expect(indices(db.largeChildren(node.handle))).toEqual(large);
    }
    expect(model.nodes.filter((node) => !node.alive && node.handle.live).length).toBe(0);
    for (let probe = 0; probe < 4; probe++) {
      const space = SPACES[random(SPACES.length)]!;
      const address = random(3) * 0x400000 + random(8) * 0x1000 + random(0x1000);
      const expected = now.find((i) => {
        const node = model.nodes[i]!;
        return node.space === space && node.address <= address && address < node.address + 2 ** node.log2Size;
      });
      const found = db.lookup(space, address);
      expect(found === undefined ? undefined : indexOf.get(found)).toBe(expected);
      const region = address - (address % 0x400000);
      const inRegion = now.filter((j) => model.nodes[j]!.space === space && model.nodes[j]!.address >= region && model.nodes[j]!.address < region + 0x400000).sort((x, y) => model.nodes[x]!.address - model.nodes[y]!.address);
      expect(indices(db.nodesInRegion(space, address))).toEqual(inRegion);
    }
  }
  return outcomes;
}

describe('MappingDatabase: seeded random operations against a reference model', () => {
  for (const seed of [1, 0xc0ffee]) {
    it(`agrees with the model at every step (seed ${seed})`, () => {
      const outcomes = runRandom(seed, 3000, 16);
      // The run must have reached every kind of outcome, or it proves less than it claims.
      for (const what of ['root made', 'root existing', 'root refused', 'map made', 'map refused', 'map out of memory', 'grant', 'grant reducing', 'grant refused', 'revoke', 'revoke reducing', 'revoke removing', 'revokePart', 'revokePart removing', 'revokePart refused', 'split out of memory', 'remove', 'removeSpace', 'extend']) {
        expect(outcomes[what] ?? 0, what).toBeGreaterThan(0);
      }
    });
  }
  for (const seed of [3, 7]) {
    it(`agrees with the model with room for splits (seed ${seed})`, () => {
      const outcomes = runRandom(seed, 600, 6000, true);
      for (const what of ['map made', 'grant', 'revoke removing', 'revokePart', 'revokePart removing', 'revokePart refused', 'split', 'remove', 'removeSpace', 'extend']) {
        expect(outcomes[what] ?? 0, what).toBeGreaterThan(0);
      }
    });
  }
});

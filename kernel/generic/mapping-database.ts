// The mapping database: which mapping of a page was derived from which, so that Unmap can take
// back, recursively, everything that was ever mapped onwards from a page (L4 X.2 "recursive
// address spaces").
//
// Every mapping of a page into an address space is a node. A node made by Map is a child of the
// node it was mapped from; Grant moves a node to another (space, address) without changing its
// place in the tree. The roots are the physical pages themselves (space ROOT_SPACE, address =
// frame), the kernel/sigma0 side's ownership of memory. So for any physical page the tree under
// its root holds every mapping of it in every space.
//
// Why it is shaped so:
// - It is a generic data structure and imports nothing. It never touches page tables: every
//   operation reports the nodes it changed (removed, or kept with fewer rights) in a fixed
//   order, and the kernel edits the PTEs, reads the A/D bits and invalidates the TLB itself.
// - Children are kept in a doubly linked sibling list (first/last child, previous/next sibling),
//   so linking and unlinking are O(1) and need no allocation, whatever the fan-out. Walks follow
//   these links and the parent pointer in a loop: nothing recurses, so a chain of 100,000
//   mappings (or any depth) cannot overflow the host stack.
// - Each space has an index from page number to node, one Map for 4 KiB pages and one for 4 MiB
//   pages, so finding the node for (space, address) is O(1) (see SpaceIndex for the key format).
// - Order is deterministic everywhere: "pre-order" means a node, then its children's subtrees in
//   the order the children were made (a granted node keeps its place among its siblings); a
//   space's nodes are listed in the order they arrived in it. Nothing depends on hashing of
//   objects or on randomness; JS Maps and Sets iterate in insertion order.
// - Removed nodes are marked dead (`live` false) and any operation given a dead node (or a node
//   of another database) throws RangeError, so a stale reference held by the kernel is caught.
//   A dead node keeps its space, address, frame, rights and parent, so the kernel can still find
//   the PTE to clear from a `removed` list.
// - Misuse is an exception (RangeError); running out of node capacity is an ordinary condition
//   (map returns null, which the kernel reports as error 8, "no memory").
//
// Rights (bits as in an L4 fpage):  bit 2 R (4), bit 1 W (2), bit 0 X (1).
// IA-32 rule: a present page is always readable (and, without NX, executable), so a mapping
// without R cannot exist. A node that would be left without R is removed together with its whole
// subtree, and Map or Grant whose resulting rights lack R is refused (RangeError; the kernel maps
// nothing for such an item). Invariant: a child's rights are a subset of its parent's.
//
// Page sizes: log2Size 12 (4 KiB) or 22 (4 MiB). A child is never larger than its parent; a 4 KiB
// child of a 4 MiB parent maps one 4 KiB part of the parent's frame (see `map` for which). A
// 4 MiB node also indexes its children by the part of its frame they map (`parts`: part number
// -> its 4 KiB children, `largeChildren`: its 4 MiB children, both in sibling order), so that
// what was derived from one 4 KiB part is found without visiting the other 1,023 parts'
// children (`childrenCovering`, `revokePart`), as L4Ka::Pistachio's mapping database finds them
// through its per-size sub-arrays. `split` turns a 4 MiB node (and every 4 MiB node below it)
// into 1,024 4 KiB nodes in place, when only a part of it is to change.
//
// Longer than 400 lines because it is one data structure whose operations share the tree's
// private representation (TreeNode, the sibling links, the per-space index): split into files,
// each would need that representation exported. About a third of it is the consistency check.

/** Read right (fpage bit 2). */
export const RIGHT_R = 4;
/** Write right (fpage bit 1). */
export const RIGHT_W = 2;
/** Execute right (fpage bit 0). */
export const RIGHT_X = 1;
/** All three rights: the rights of a root. */
export const RIGHTS_ALL = RIGHT_R | RIGHT_W | RIGHT_X;

/** The space number of the roots (physical pages). Never a real address space. */
export const ROOT_SPACE = -1;

/** log2 of a 4 KiB page. */
export const SMALL_PAGE_LOG2 = 12;
/** log2 of a 4 MiB page. */
export const LARGE_PAGE_LOG2 = 22;

const SMALL_PAGE_SIZE = 2 ** SMALL_PAGE_LOG2;
/** 4 KiB parts of a 4 MiB page. */
const PARTS = 2 ** (LARGE_PAGE_LOG2 - SMALL_PAGE_LOG2);

/** One mapping of one page in one space (or, for a root, the physical page itself). */
export interface MappingNode {
  /** Address-space number; ROOT_SPACE for a root. Changes when the node is granted. */
  readonly space: number;
  /** Virtual address of the page in `space` (for a root: the physical address). Changes on grant. */
  readonly address: number;
  /** 12 (4 KiB) or 22 (4 MiB). */
  readonly log2Size: number;
  /** Physical address of the page (aligned to its size). */
  readonly frame: number;
  /** rwx (RIGHT_R | RIGHT_W | RIGHT_X); always includes R while the node is live. */
  readonly rights: number;
  /** The node this one was mapped from; null for a root. */
  readonly parent: MappingNode | null;
  /** 0 for a root, parent's depth + 1 otherwise. */
  readonly depth: number;
  /** False once the node has been removed; a dead node is refused by every operation. */
  readonly live: boolean;
}

/** What `revoke` did. All three lists are in pre-order (see the top of the file). */
export interface RevokeResult {
  /**
   * Every node of the subtree, the revoked node itself always included (whether or not
   * `includeSelf`), as it was before the operation: the nodes whose PTEs the kernel reads (and
   * resets) for the A/D status Unmap returns. Nodes listed in `removed` are in here too.
   * A root has no PTE: the kernel skips nodes with space ROOT_SPACE.
   */
  readonly visited: MappingNode[];
  /** Nodes kept whose rights actually changed (the kernel write-protects their PTEs). */
  readonly reduced: MappingNode[];
  /** Nodes removed, now dead (the kernel clears their PTEs). */
  readonly removed: MappingNode[];
}

/** What `split` did. */
export interface SplitResult {
  /**
   * The 4 MiB nodes replaced, now dead, in pre-order: the node split and every 4 MiB node below
   * it (a 4 KiB piece cannot have a 4 MiB child). A dead node keeps its space and address: the
   * kernel turns each one's 4 MiB page-directory entry into a page table.
   */
  readonly replaced: MappingNode[];
  /** The 4 KiB nodes made: 1,024 for each replaced node, in the same order, each group in address order. */
  readonly pieces: MappingNode[];
}

/** What `grantAndReport` did. */
export interface GrantResult {
  /** The granted node: the same object as given, now at its new (space, address). */
  readonly node: MappingNode;
  /**
   * Descendants whose rights dropped because the grant reduced the node's rights (pre-order).
   * None is ever removed: a grant keeps R, so the dropped rights never include R.
   */
  readonly reduced: MappingNode[];
}

export interface MappingDatabaseOptions {
  /**
   * Most mapping (non-root) nodes that may be live at once: the kernel memory set aside for
   * mapping nodes. Default Infinity. Roots do not count: they stand for physical pages, which a
   * kernel describes in a frame table allocated once at boot.
   */
  readonly maxNodes?: number;
}

/** The internal, mutable form of a node. Only this module creates or changes them. */
class TreeNode implements MappingNode {
  space: number;
  address: number;
  readonly log2Size: number;
  readonly frame: number;
  rights: number;
  /** Changes only when `split` moves a node under the 4 KiB piece of its old parent. */
  parent: TreeNode | null;
  readonly depth: number;
  live = true;
  firstChild: TreeNode | null = null;
  lastChild: TreeNode | null = null;
  previousSibling: TreeNode | null = null;
  nextSibling: TreeNode | null = null;
  /**
   * A 4 MiB node's 4 KiB children by part number ((child.frame - frame) >>> 12), each list in
   * sibling order; null for a 4 KiB node (whose children all map its one frame).
   */
  parts: Map<number, TreeNode[]> | null;
  /** A 4 MiB node's 4 MiB children in sibling order (null for a 4 KiB node). */
  largeChildren: TreeNode[] | null;
  /** The database the node belongs to, so a node of another database is refused. */
  readonly database: MappingDatabase;

  constructor(
    database: MappingDatabase,
    parent: TreeNode | null,
    space: number,
    address: number,
    log2Size: number,
    frame: number,
    rights: number,
  ) {
    this.database = database;
    this.parent = parent;
    this.depth = parent === null ? 0 : parent.depth + 1;
    this.space = space;
    this.address = address;
    this.log2Size = log2Size;
    this.frame = frame;
    this.rights = rights;
    const large = log2Size === LARGE_PAGE_LOG2;
    this.parts = large ? new Map() : null;
    this.largeChildren = large ? [] : null;
  }
}

/**
 * The nodes of one space. Keys (unsigned 32-bit address):
 *   small:      address >>> 12, the 4 KiB page number (0 .. 2^20-1), for 4 KiB nodes
 *   large:      address >>> 22, the 4 MiB region number (0 .. 1023), for 4 MiB nodes
 *   smallCount: address >>> 22 -> how many 4 KiB nodes lie in that 4 MiB region (absent = 0),
 *               so a 4 MiB mapping over 4 KiB ones is detected in O(1)
 * A 4 KiB node and a 4 MiB node of one space never overlap.
 */
class SpaceIndex {
  readonly small = new Map<number, TreeNode>();
  readonly large = new Map<number, TreeNode>();
  readonly smallCount = new Map<number, number>();
  /** The space's nodes in the order they arrived (made by map, or moved in by grant). */
  readonly arrivalOrder = new Set<TreeNode>();
}

export class MappingDatabase {
  /** Capacity in mapping (non-root) nodes; Infinity when unbounded. */
  readonly maxNodes: number;
  private readonly spaces = new Map<number, SpaceIndex>();
  private liveNodes = 0;
  private liveRoots = 0;

  constructor(options: MappingDatabaseOptions = {}) {
    const maxNodes = options.maxNodes ?? Infinity;
    if (!(maxNodes === Infinity || (Number.isSafeInteger(maxNodes) && maxNodes >= 0))) {
      throw new RangeError(`maxNodes must be a non-negative integer or Infinity, got ${maxNodes}`);
    }
    this.maxNodes = maxNodes;
  }

  /** Live nodes, roots included. */
  get size(): number {
    return this.liveNodes;
  }

  /** Live mapping (non-root) nodes: what `maxNodes` bounds. */
  get mappingCount(): number {
    return this.liveNodes - this.liveRoots;
  }

  /**
   * The root for the physical page at `frame` of size 2^log2Size, made on first use with rights
   * rwx. Each physical region has roots of one granularity: asking for a 4 KiB root inside an
   * existing 4 MiB root (or the reverse) throws RangeError; `lookup(ROOT_SPACE, frame)` finds
   * the root covering a physical address.
   */
  root(frame: number, log2Size: number): MappingNode {
    checkLog2Size(log2Size);
    checkAligned(frame, log2Size, 'frame');
    const index = this.spaces.get(ROOT_SPACE);
    const existing = index === undefined ? undefined : exactSlot(index, frame, log2Size);
    if (existing !== undefined) return existing;
    if (index !== undefined && isOccupied(index, frame, log2Size)) {
      throw new RangeError(`frame ${hex(frame)} already has a root of the other page size`);
    }
    const node = new TreeNode(this, null, ROOT_SPACE, frame, log2Size, frame, RIGHTS_ALL);
    this.addToIndex(node);
    this.liveNodes++;
    this.liveRoots++;
    return node;
  }

  /**
   * The live node whose page contains `address` in `space` (4 KiB pages are looked up first,
   * then 4 MiB pages; they cannot both exist), or undefined. `address` is taken as an unsigned
   * 32-bit number. Works for ROOT_SPACE with a physical address.
   */
  lookup(space: number, address: number): MappingNode | undefined {
    const index = this.spaces.get(space);
    if (index === undefined) return undefined;
    return index.small.get(address >>> SMALL_PAGE_LOG2) ?? index.large.get(address >>> LARGE_PAGE_LOG2);
  }

  /**
   * The live nodes of `space` in the 4 MiB region holding `address`: its 4 MiB node, or its
   * 4 KiB nodes in address order, or none. O(1) for a region without 4 KiB nodes.
   */
  nodesInRegion(space: number, address: number): MappingNode[] {
    const index = this.spaces.get(space);
    if (index === undefined) return [];
    const region = address >>> LARGE_PAGE_LOG2;
    const large = index.large.get(region);
    if (large !== undefined) return [large];
    if (!index.smallCount.has(region)) return [];
    const nodes: MappingNode[] = [];
    const first = region * PARTS;
    for (let page = first; page < first + PARTS; page++) {
      const node = index.small.get(page);
      if (node !== undefined) nodes.push(node);
    }
    return nodes;
  }

  /**
   * Map: a new child of `parent` at (space, address), last among its siblings, with rights
   * `rights & parent.rights`.
   *
   * The child's frame: `frame` if given, otherwise the part of the parent's page that `address`
   * selects: parent.frame + (address mod parent size), rounded down to the child's size. For a
   * child of the parent's size that is parent.frame. For a 4 KiB child of a 4 MiB parent the
   * default is right when the receiver's address has the same offset in its 4 MiB region as the
   * sender's page (as with sigma0's 1:1 mappings); otherwise the kernel passes the frame, i.e.
   * parent.frame + (sender's address - parent.address) rounded down to 4 KiB. A given frame must
   * lie in the parent's page and be aligned to the child's size.
   *
   * Returns null, changing nothing, when `maxNodes` mapping nodes are already live (the kernel
   * reports "no memory"). Throws RangeError when (space, address) overlaps an existing node of
   * `space` (the kernel flushes it first), when the child would be larger than the parent, when
   * the resulting rights lack R, or on a malformed argument.
   */
  map(
    parent: MappingNode,
    space: number,
    address: number,
    log2Size: number,
    rights: number,
    frame?: number,
  ): MappingNode | null {
    const from = this.own(parent, 'map from');
    checkSpace(space);
    checkLog2Size(log2Size);
    if (log2Size > from.log2Size) {
      throw new RangeError(`cannot map a 2^${log2Size} page from a 2^${from.log2Size} page`);
    }
    checkAligned(address, log2Size, 'address');
    checkRights(rights);
    const parentSize = 2 ** from.log2Size;
    let childFrame: number;
    if (frame === undefined) {
      const offset = address % parentSize;
      childFrame = from.frame + offset - (offset % 2 ** log2Size);
    } else {
      checkAligned(frame, log2Size, 'frame');
      if (frame < from.frame || frame >= from.frame + parentSize) {
        throw new RangeError(`frame ${hex(frame)} is not inside the parent's page at ${hex(from.frame)}`);
      }
      childFrame = frame;
    }
    const childRights = rights & from.rights;
    if ((childRights & RIGHT_R) === 0) {
      throw new RangeError(`a mapping without read right cannot exist on IA-32 (rights ${childRights})`);
    }
    const index = this.spaces.get(space);
    if (index !== undefined && isOccupied(index, address, log2Size)) {
      throw new RangeError(`space ${space} already has a mapping at ${hex(address)}: unmap it first`);
    }
    if (this.mappingCount >= this.maxNodes) return null;
    const node = new TreeNode(this, from, space, address, log2Size, childFrame, childRights);
    link(from, node);
    this.addToIndex(node);
    this.liveNodes++;
    return node;
  }

  /**
   * Grant: move `node` to (space, address) with rights `rights & node.rights`, keeping its
   * parent, its place among its siblings, its depth and its children. Returns the same object,
   * whose space and address have changed (references to it stay valid). The old (space, address)
   * is free afterwards; the node counts as arriving last in its new space (see nodesOf).
   * Granting to the node's own (space, address) only reduces rights.
   *
   * If the rights drop, the dropped rights (never R) are also revoked in the descendants, which
   * keeps every child's rights a subset of its parent's (our choice: X.2 leaves it open; this
   * way a later Unmap of the granted page still reaches everything derived from it). Use
   * `grantAndReport` to learn which descendants changed, or revoke the dropped rights first.
   * Throws RangeError for a root, a target overlapping another node, rights without R, or a
   * malformed argument.
   */
  grant(node: MappingNode, space: number, address: number, rights: number): MappingNode {
    return this.grantAndReport(node, space, address, rights).node;
  }

  /** `grant`, also listing the descendants whose PTEs the kernel must change. */
  grantAndReport(node: MappingNode, space: number, address: number, rights: number): GrantResult {
    const moving = this.own(node, 'grant');
    if (moving.parent === null) throw new RangeError('a root (physical page) cannot be granted');
    checkSpace(space);
    checkAligned(address, moving.log2Size, 'address');
    checkRights(rights);
    const kept = rights & moving.rights;
    if ((kept & RIGHT_R) === 0) {
      throw new RangeError(`a mapping without read right cannot exist on IA-32 (rights ${kept})`);
    }
    if (space !== moving.space || address !== moving.address) {
      // Two aligned pages of one size are equal or disjoint, so the node's own slot is never
      // in the way of a different target slot.
      const index = this.spaces.get(space);
      if (index !== undefined && isOccupied(index, address, moving.log2Size)) {
        throw new RangeError(`space ${space} already has a mapping at ${hex(address)}: unmap it first`);
      }
      this.removeFromIndex(moving);
      moving.space = space;
      moving.address = address;
      this.addToIndex(moving);
    }
    const dropped = moving.rights & ~kept;
    moving.rights = kept;
    if (dropped === 0) return { node: moving, reduced: [] };
    return { node: moving, reduced: this.revoke(moving, dropped, false).reduced };
  }

  /**
   * Raise a node's rights to `node.rights | (rights & parent.rights)` (a root may get any rights
   * back): X.2's "mapping the same page again from the same mapper extends the rights". The
   * descendants are unchanged (they stay subsets). Returns the node.
   */
  extendRights(node: MappingNode, rights: number): MappingNode {
    const target = this.own(node, 'extend');
    checkRights(rights);
    const ceiling = target.parent === null ? RIGHTS_ALL : target.parent.rights;
    target.rights |= rights & ceiling;
    return target;
  }

  /**
   * X.2 Unmap on one node: remove the rights `rights` from every descendant of `node`, and from
   * `node` itself when `includeSelf` (Unmap's flush bit). A node left without R is removed with
   * its whole subtree (IA-32: a present page is readable, so there are no write- or
   * execute-only mappings). As every live node has R, revoking R (with or without W and X)
   * removes all the affected nodes, and revoking only W and/or X removes none. rights 0 changes
   * nothing but still lists the subtree in `visited`, for the status read. Revoking R with
   * includeSelf removes a root too (root() makes a new one). See RevokeResult for the lists.
   */
  revoke(node: MappingNode, rights: number, includeSelf: boolean): RevokeResult {
    const top = this.own(node, 'revoke');
    checkRights(rights);
    const visited = preOrder(top);
    // The affected nodes: the subtree, without `node` itself unless includeSelf.
    const affected = includeSelf ? visited : visited.slice(1);
    if ((rights & RIGHT_R) !== 0) {
      // Every live node has R, so every affected node loses it and goes: the whole affected
      // part of the subtree is removed. Only its top nodes need unlinking from a live parent:
      // `node` itself, or else its children.
      for (const current of affected) {
        if (includeSelf ? current === top : current.parent === top) unlink(current);
        this.kill(current);
      }
      return { visited, reduced: [], removed: affected };
    }
    const reduced: TreeNode[] = [];
    for (const current of affected) {
      const kept = current.rights & ~rights;
      if (kept !== current.rights) {
        current.rights = kept;
        reduced.push(current);
      }
    }
    return { visited, reduced, removed: [] };
  }

  /** Remove `node` and its subtree; returns the removed (now dead) nodes in pre-order. */
  remove(node: MappingNode): MappingNode[] {
    const top = this.own(node, 'remove');
    const removed = preOrder(top);
    unlink(top);
    for (const current of removed) this.kill(current);
    return removed;
  }

  /**
   * Revoke `rights` from what was derived from one part of the 4 MiB node `node`: its children
   * that map the 2^log2Size bytes at `address` (in the node's space; aligned, inside the node,
   * smaller than it), and their subtrees, as `revoke` does with includeSelf for each of them.
   * The node itself and the children of its other parts are untouched and not visited: the
   * lists hold only those children's subtrees, by part, then in sibling order. A 4 MiB child
   * maps every part: split it first (RangeError while the node has one).
   */
  revokePart(node: MappingNode, address: number, log2Size: number, rights: number): RevokeResult {
    const top = this.own(node, 'revoke part of');
    checkRights(rights);
    if (top.log2Size !== LARGE_PAGE_LOG2) throw new RangeError('only a 4 MiB node has parts');
    if (!Number.isInteger(log2Size) || log2Size < SMALL_PAGE_LOG2 || log2Size >= LARGE_PAGE_LOG2) {
      throw new RangeError(`a part of a 4 MiB page is 2^12 to 2^21 bytes, got 2^${log2Size}`);
    }
    checkAligned(address, log2Size, 'address');
    if (address < top.address || address >= top.address + 2 ** LARGE_PAGE_LOG2) {
      throw new RangeError(`${hex(address)} is not inside ${describe(top)}`);
    }
    if (top.largeChildren!.length > 0) throw new RangeError(`${describe(top)} has 4 MiB children: split them first`);
    const first = (address - top.address) / SMALL_PAGE_SIZE;
    const tops: TreeNode[] = [];
    for (let part = first; part < first + 2 ** (log2Size - SMALL_PAGE_LOG2); part++) {
      const list = top.parts!.get(part);
      if (list !== undefined) for (const child of list) tops.push(child);
    }
    const visited: TreeNode[] = [];
    for (const child of tops) for (const current of preOrder(child)) visited.push(current);
    if ((rights & RIGHT_R) !== 0) {
      for (const child of tops) unlink(child);
      for (const current of visited) this.kill(current);
      return { visited, reduced: [], removed: visited };
    }
    const reduced: TreeNode[] = [];
    for (const current of visited) {
      const kept = current.rights & ~rights;
      if (kept !== current.rights) {
        current.rights = kept;
        reduced.push(current);
      }
    }
    return { visited, reduced, removed: [] };
  }

  /**
   * Split the 4 MiB node `node` into 1,024 4 KiB nodes (pieces) of the same space, rights and
   * depth, one for each part of its page, made last among its parent's children in address
   * order; every 4 KiB child of the node moves, in order, under the piece of its part. A 4 MiB
   * child cannot live under a 4 KiB piece, so every 4 MiB node below is split the same way, its
   * pieces going under the pieces of its parent. The pieces arrive in their spaces in the order
   * they are made. What a program can reach, and with which rights, is the same afterwards.
   * Returns null, changing nothing, when the new nodes would exceed `maxNodes`. RangeError for
   * a 4 KiB node or a root.
   */
  split(node: MappingNode): SplitResult | null {
    const top = this.own(node, 'split');
    if (top.log2Size !== LARGE_PAGE_LOG2) throw new RangeError(`only a 4 MiB node can be split (${describe(top)})`);
    if (top.parent === null) throw new RangeError('a root (physical page) cannot be split');
    const large = preOrder(top).filter((current) => current.log2Size === LARGE_PAGE_LOG2);
    if (this.mappingCount + large.length * (PARTS - 1) > this.maxNodes) return null;
    const piecesOf = new Map<TreeNode, TreeNode[]>();
    const pieces: TreeNode[] = [];
    for (const old of large) {
      const parent = old.parent!;
      // The top node's parent is live; every other one's was split just before (pre-order).
      const parentPieces = piecesOf.get(parent);
      if (parentPieces === undefined) unlink(old);
      const made: TreeNode[] = [];
      for (let i = 0; i < PARTS; i++) {
        const frame = old.frame + i * SMALL_PAGE_SIZE;
        const under = parentPieces === undefined ? parent : parentPieces[(frame - parent.frame) / SMALL_PAGE_SIZE]!;
        const piece = new TreeNode(this, under, old.space, old.address + i * SMALL_PAGE_SIZE, SMALL_PAGE_LOG2, frame, old.rights);
        link(under, piece);
        made.push(piece);
      }
      for (let child = old.firstChild; child !== null; ) {
        const next = child.nextSibling;
        if (child.log2Size === SMALL_PAGE_LOG2) {
          child.previousSibling = null;
          child.nextSibling = null;
          const piece = made[(child.frame - old.frame) / SMALL_PAGE_SIZE]!;
          child.parent = piece;
          link(piece, child);
        }
        child = next;
      }
      piecesOf.set(old, made);
      this.kill(old);
      for (const piece of made) {
        this.addToIndex(piece);
        pieces.push(piece);
      }
      this.liveNodes += PARTS;
    }
    return { replaced: large, pieces };
  }

  /**
   * The children of `node` whose page holds the physical address `frame` (inside the node's
   * page), in sibling order: for a 4 KiB node all its children; for a 4 MiB node the 4 KiB
   * children of that part, then its 4 MiB children (found through the part index, without
   * visiting the other parts' children).
   */
  childrenCovering(node: MappingNode, frame: number): MappingNode[] {
    const parent = this.own(node, 'list the children of');
    if (!isAddress(frame) || frame < parent.frame || frame >= parent.frame + 2 ** parent.log2Size) {
      throw new RangeError(`${hex(frame)} is not inside the frame of ${describe(parent)}`);
    }
    if (parent.parts === null) return [...this.children(parent)];
    return [...(parent.parts.get(Math.floor((frame - parent.frame) / SMALL_PAGE_SIZE)) ?? []), ...parent.largeChildren!];
  }

  /** The 4 MiB children of `node`, in sibling order (a fresh array; none for a 4 KiB node). */
  largeChildren(node: MappingNode): MappingNode[] {
    const parent = this.own(node, 'list the children of');
    return parent.largeChildren === null ? [] : [...parent.largeChildren];
  }

  /** The children of `node`, in the order they were made (a fresh array). */
  children(node: MappingNode): readonly MappingNode[] {
    const parent = this.own(node, 'list the children of');
    const list: MappingNode[] = [];
    for (let child = parent.firstChild; child !== null; child = child.nextSibling) list.push(child);
    return list;
  }

  /** `node` and all its descendants in pre-order. */
  subtree(node: MappingNode): MappingNode[] {
    return preOrder(this.own(node, 'walk'));
  }

  /**
   * Every live node of `space` in the order it arrived there (made by map, or moved in by
   * grant). `nodesOf(ROOT_SPACE)` lists the roots in the order they were made.
   */
  nodesOf(space: number): MappingNode[] {
    const index = this.spaces.get(space);
    return index === undefined ? [] : [...index.arrivalOrder];
  }

  /**
   * Deleting an address space: remove every node of `space` and their subtrees (which may reach
   * into other spaces). Returns the removed nodes: the subtrees in pre-order, one after another,
   * taken in the order of nodesOf(space) (a node already removed with an earlier subtree is not
   * listed twice).
   */
  removeSpace(space: number): MappingNode[] {
    const index = this.spaces.get(space);
    if (index === undefined) return [];
    const removed: MappingNode[] = [];
    for (const node of [...index.arrivalOrder]) {
      if (!node.live) continue;
      for (const gone of this.remove(node)) removed.push(gone);
    }
    return removed;
  }

  /**
   * Consistency self-check for tests and debugging: sibling and parent links, depths, rights (R
   * present, a subset of the parent's), sizes and frames (inside the parent's page), the per-space
   * indexes and their counts, `size`, and the capacity. Returns the problems found (empty = ok).
   * O(size); walks with an explicit stack.
   */
  check(): string[] {
    const problems: string[] = [];
    const seen = new Set<TreeNode>();
    let roots = 0;
    const stack: TreeNode[] = [];
    for (const root of this.spaces.get(ROOT_SPACE)?.arrivalOrder ?? []) {
      roots++;
      if (root.parent !== null) problems.push(`${describe(root)} is indexed as a root but has a parent`);
      stack.push(root);
    }
    while (stack.length > 0) {
      const node = stack.pop()!;
      if (seen.has(node)) {
        problems.push(`${describe(node)} is reached twice`);
        continue;
      }
      seen.add(node);
      problems.push(...this.checkNode(node));
      let previous: TreeNode | null = null;
      const siblings = new Set<TreeNode>();
      for (let child = node.firstChild; child !== null; child = child.nextSibling) {
        if (siblings.has(child)) {
          problems.push(`the child list of ${describe(node)} has a cycle`);
          break;
        }
        siblings.add(child);
        if (child.parent !== node) problems.push(`${describe(child)} is in the child list of another node`);
        if (child.previousSibling !== previous) problems.push(`${describe(child)} has a wrong previous sibling`);
        previous = child;
        stack.push(child);
      }
      if (node.lastChild !== previous) problems.push(`${describe(node)} has a wrong last child`);
      problems.push(...checkParts(node));
    }
    if (seen.size !== this.liveNodes) problems.push(`size is ${this.liveNodes} but ${seen.size} nodes are reachable`);
    if (roots !== this.liveRoots) problems.push(`${this.liveRoots} roots counted but ${roots} indexed`);
    if (this.mappingCount > this.maxNodes) problems.push(`${this.mappingCount} mapping nodes exceed maxNodes ${this.maxNodes}`);
    let indexed = 0;
    for (const [space, index] of this.spaces) {
      if (index.arrivalOrder.size === 0) problems.push(`space ${space} has an empty index`);
      if (index.small.size + index.large.size !== index.arrivalOrder.size) {
        problems.push(`space ${space}: ${index.small.size + index.large.size} pages indexed, ${index.arrivalOrder.size} in arrival order`);
      }
      for (const node of index.arrivalOrder) {
        indexed++;
        if (!seen.has(node)) problems.push(`${describe(node)} is indexed in space ${space} but not reachable from a root`);
        if (node.space !== space) problems.push(`${describe(node)} is indexed in space ${space}`);
      }
      const counts = new Map<number, number>();
      for (const key of index.small.keys()) {
        const region = key >>> (LARGE_PAGE_LOG2 - SMALL_PAGE_LOG2);
        counts.set(region, (counts.get(region) ?? 0) + 1);
        if (index.large.has(region)) problems.push(`space ${space}: 4 KiB page ${hex(key * SMALL_PAGE_SIZE)} overlaps a 4 MiB page`);
      }
      if (counts.size !== index.smallCount.size) problems.push(`space ${space}: 4 MiB regions with 4 KiB pages miscounted`);
      for (const [region, count] of counts) {
        if (index.smallCount.get(region) !== count) problems.push(`space ${space}: wrong 4 KiB page count in region ${region}`);
      }
    }
    if (indexed !== this.liveNodes) problems.push(`size is ${this.liveNodes} but ${indexed} nodes are indexed`);
    return problems;
  }

  private checkNode(node: TreeNode): string[] {
    const problems: string[] = [];
    const name = describe(node);
    if (!node.live) problems.push(`${name} is dead but reachable`);
    if (node.database !== this) problems.push(`${name} belongs to another database`);
    if (node.log2Size !== SMALL_PAGE_LOG2 && node.log2Size !== LARGE_PAGE_LOG2) problems.push(`${name} has size 2^${node.log2Size}`);
    const size = 2 ** node.log2Size;
    if (!isAddress(node.address) || node.address % size !== 0) problems.push(`${name} has a misaligned address`);
    if (!isAddress(node.frame) || node.frame % size !== 0) problems.push(`${name} has a misaligned frame`);
    if (!Number.isInteger(node.rights) || node.rights < 0 || node.rights > RIGHTS_ALL) problems.push(`${name} has rights ${node.rights}`);
    if ((node.rights & RIGHT_R) === 0) problems.push(`${name} has no read right`);
    const index = this.spaces.get(node.space);
    const slot = node.log2Size === SMALL_PAGE_LOG2 ? index?.small.get(node.address >>> SMALL_PAGE_LOG2) : index?.large.get(node.address >>> LARGE_PAGE_LOG2);
    if (slot !== node) problems.push(`${name} is not in its space's index`);
    const parent = node.parent;
    if (parent === null) {
      if (node.space !== ROOT_SPACE) problems.push(`${name} has no parent but is not a root`);
      if (node.depth !== 0) problems.push(`${name} is a root at depth ${node.depth}`);
      if (node.frame !== node.address) problems.push(`${name} is a root whose address is not its frame`);
      if (node.previousSibling !== null || node.nextSibling !== null) problems.push(`${name} is a root with siblings`);
      return problems;
    }
    if (node.space === ROOT_SPACE) problems.push(`${name} is in ROOT_SPACE but has a parent`);
    if (!parent.live) problems.push(`${name} has a dead parent`);
    if (node.depth !== parent.depth + 1) problems.push(`${name} has depth ${node.depth}, parent ${parent.depth}`);
    if ((node.rights & ~parent.rights) !== 0) problems.push(`${name} has rights ${node.rights} beyond its parent's ${parent.rights}`);
    if (node.log2Size > parent.log2Size) problems.push(`${name} is larger than its parent`);
    if (node.frame < parent.frame || node.frame + size > parent.frame + 2 ** parent.log2Size) problems.push(`${name} maps outside its parent's frame`);
    return problems;
  }

  /** `node` as one of this database's live nodes, or RangeError. */
  private own(node: MappingNode, action: string): TreeNode {
    if (!(node instanceof TreeNode) || node.database !== this) {
      throw new RangeError(`cannot ${action} a node that is not of this mapping database`);
    }
    if (!node.live) throw new RangeError(`cannot ${action} a removed node (${describe(node)})`);
    return node;
  }

  private addToIndex(node: TreeNode): void {
    let index = this.spaces.get(node.space);
    if (index === undefined) {
      index = new SpaceIndex();
      this.spaces.set(node.space, index);
    }
    const region = node.address >>> LARGE_PAGE_LOG2;
    if (node.log2Size === SMALL_PAGE_LOG2) {
      index.small.set(node.address >>> SMALL_PAGE_LOG2, node);
      index.smallCount.set(region, (index.smallCount.get(region) ?? 0) + 1);
    } else {
      index.large.set(region, node);
    }
    index.arrivalOrder.add(node);
  }

  private removeFromIndex(node: TreeNode): void {
    const index = this.spaces.get(node.space)!;
    const region = node.address >>> LARGE_PAGE_LOG2;
    if (node.log2Size === SMALL_PAGE_LOG2) {
      index.small.delete(node.address >>> SMALL_PAGE_LOG2);
      const count = index.smallCount.get(region)! - 1;
      if (count === 0) index.smallCount.delete(region);
      else index.smallCount.set(region, count);
    } else {
      index.large.delete(region);
    }
    index.arrivalOrder.delete(node);
    if (index.arrivalOrder.size === 0) this.spaces.delete(node.space);
  }

  /** Mark a node dead and drop it from the index. Its links to children and siblings are cut. */
  private kill(node: TreeNode): void {
    this.removeFromIndex(node);
    node.live = false;
    node.firstChild = null;
    node.lastChild = null;
    node.previousSibling = null;
    node.nextSibling = null;
    node.parts = null;
    node.largeChildren = null;
    this.liveNodes--;
    if (node.parent === null) this.liveRoots--;
  }
}

/** `top` and its descendants in pre-order, following the links in a loop (no recursion). */
function preOrder(top: TreeNode): TreeNode[] {
  const list: TreeNode[] = [];
  let node = top;
  for (;;) {
    list.push(node);
    if (node.firstChild !== null) {
      node = node.firstChild;
      continue;
    }
    while (node !== top && node.nextSibling === null) node = node.parent!;
    if (node === top) return list;
    node = node.nextSibling!;
  }
}

/** Append `child` (whose parent is `parent`) to the parent's child list and part index. */
function link(parent: TreeNode, child: TreeNode): void {
  if (parent.lastChild === null) {
    parent.firstChild = child;
  } else {
    parent.lastChild.nextSibling = child;
    child.previousSibling = parent.lastChild;
  }
  parent.lastChild = child;
  if (parent.parts === null) return;
  if (child.log2Size !== SMALL_PAGE_LOG2) {
    parent.largeChildren!.push(child);
    return;
  }
  const part = (child.frame - parent.frame) / SMALL_PAGE_SIZE;
  const list = parent.parts.get(part);
  if (list === undefined) parent.parts.set(part, [child]);
  else list.push(child);
}

/** Take `node` out of its parent's child list and part index (a root has none). */
function unlink(node: TreeNode): void {
  const parent = node.parent;
  if (parent === null) return;
  if (parent.parts !== null) {
    if (node.log2Size !== SMALL_PAGE_LOG2) {
      const list = parent.largeChildren!;
      list.splice(list.indexOf(node), 1);
    } else {
      const part = (node.frame - parent.frame) / SMALL_PAGE_SIZE;
      const list = parent.parts.get(part)!;
      if (list.length === 1) parent.parts.delete(part);
      else list.splice(list.indexOf(node), 1);
    }
  }
  if (node.previousSibling === null) parent.firstChild = node.nextSibling;
  else node.previousSibling.nextSibling = node.nextSibling;
  if (node.nextSibling === null) parent.lastChild = node.previousSibling;
  else node.nextSibling.previousSibling = node.previousSibling;
  node.previousSibling = null;
  node.nextSibling = null;
}

/** The part index of `node` against its child list (see TreeNode.parts). */
function checkParts(node: TreeNode): string[] {
  if (node.parts === null) {
    return node.log2Size === SMALL_PAGE_LOG2 && node.largeChildren === null ? [] : [`${describe(node)} has a wrong part index`];
  }
  const parts = new Map<number, TreeNode[]>();
  const large: TreeNode[] = [];
  for (let child = node.firstChild; child !== null; child = child.nextSibling) {
    if (child.log2Size !== SMALL_PAGE_LOG2) {
      large.push(child);
      continue;
    }
    const part = Math.floor((child.frame - node.frame) / SMALL_PAGE_SIZE);
    const list = parts.get(part);
    if (list === undefined) parts.set(part, [child]);
    else list.push(child);
    if (parts.size > PARTS) break; // a cycle or a corrupt list: reported elsewhere
  }
  const same = (a: readonly TreeNode[] | undefined, b: readonly TreeNode[] | undefined): boolean => a !== undefined && b !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);
  if (node.largeChildren === null || !same(node.largeChildren, large)) {
    return [`${describe(node)}: its 4 MiB children are indexed wrongly`];
  }
  if (parts.size !== node.parts.size) return [`${describe(node)}: ${node.parts.size} parts indexed, ${parts.size} have children`];
  for (const [part, list] of parts) {
    if (!same(node.parts.get(part), list)) return [`${describe(node)}: part ${part} is indexed wrongly`];
  }
  return [];
}

/** The node exactly at (address, log2Size) of the index, if any. */
function exactSlot(index: SpaceIndex, address: number, log2Size: number): TreeNode | undefined {
  const node = log2Size === SMALL_PAGE_LOG2 ? index.small.get(address >>> SMALL_PAGE_LOG2) : index.large.get(address >>> LARGE_PAGE_LOG2);
  return node !== undefined && node.address === address ? node : undefined;
}

/** Whether a page of 2^log2Size at `address` (aligned) overlaps a node of the index. */
function isOccupied(index: SpaceIndex, address: number, log2Size: number): boolean {
  const region = address >>> LARGE_PAGE_LOG2;
  if (index.large.has(region)) return true;
  if (log2Size === SMALL_PAGE_LOG2) return index.small.has(address >>> SMALL_PAGE_LOG2);
  return index.smallCount.has(region);
}

function isAddress(value: number): boolean {
  // An integer in [0, 2^32): the one value `>>> 0` leaves as it is (NaN, fractions, negative
  // numbers and larger ones all change).
  return value >>> 0 === value;
}

function checkLog2Size(log2Size: number): void {
  if (log2Size !== SMALL_PAGE_LOG2 && log2Size !== LARGE_PAGE_LOG2) {
    throw new RangeError(`page size must be 2^12 or 2^22, got 2^${log2Size}`);
  }
}

function checkAligned(value: number, log2Size: number, what: string): void {
  // log2Size is 12 to 22 (checked first wherever a size comes from a caller): a mask test.
  if (!isAddress(value) || (value & ((1 << log2Size) - 1)) !== 0) {
    throw new RangeError(`${what} ${value} is not a 32-bit address aligned to 2^${log2Size}`);
  }
}

function checkRights(rights: number): void {
  // An integer 0-7: the one kind of value the mask leaves as it is.
  if ((rights & RIGHTS_ALL) !== rights) {
    throw new RangeError(`rights must be an rwx value 0-7, got ${rights}`);
  }
}

function checkSpace(space: number): void {
  if (!Number.isSafeInteger(space) || space < 0) {
    throw new RangeError(`space must be a non-negative integer (ROOT_SPACE is only for roots), got ${space}`);
  }
}

function hex(value: number): string {
  return `0x${value.toString(16).padStart(8, '0')}`;
}

function describe(node: MappingNode): string {
  const where = node.space === ROOT_SPACE ? 'root' : `space ${node.space}`;
  return `node (${where}, ${hex(node.address)}, 2^${node.log2Size})`;
}

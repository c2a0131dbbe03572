//! Block lists: the tree of NDIS_MINIPORT_OFFLOAD_BLOCK_LIST structures that conveys state to
//! the target (docs/SPEC.md §3, docs/DESIGN.md §7).
//!
//! Stored as parallel arrays in pre-order ("block-list order") so that the whole list crosses
//! into Python as a handful of NumPy arrays. `next` is the NDIS NextBlock link (same layer,
//! same parent) and `dependent` the NDIS DependentBlockList link (first block one layer up).

use std::borrow::Cow;

use super::parallel::both;
use super::tree::{layer_of, HostTree, NO_CONTEXT};
use super::walk::SeenSet;
use crate::model::{Budget, Handle, Layer, Result, Status, NO_STATUS};

/// "No link" in `next` and `dependent`.
pub const NO_LINK: i64 = -1;

/// A block list in pre-order, as parallel arrays.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockList {
    pub layers: Vec<u8>,
    pub handles: Vec<u64>,
    pub depths: Vec<u8>,
    /// True when the block only references state already offloaded.
    pub referenced: Vec<bool>,
    pub next: Vec<i64>,
    pub dependent: Vec<i64>,
    pub statuses: Vec<u8>,
}

/// The objects of a block list in order of first mention (parents before their dependents,
/// requested connections in request order), with the position of each one's block.
pub struct Placement {
    pub handles: Vec<Handle>,
    pub positions: Vec<u32>,
    /// Whether each object was offloaded already (its block only references it), in the
    /// same order: read here front to back rather than at scattered block positions.
    pub referenced: Vec<bool>,
}

/// The objects of a block list in order of first mention (`BlockList::gather`), not yet
/// placed in block order.
pub struct Gathered {
    pub handles: Vec<Handle>,
    /// Index of each object's parent in `handles`, or `NONE` for a root.
    parents: Vec<u32>,
    /// Whether each object was offloaded already (its block only references it).
    pub referenced: Vec<bool>,
    /// The lowest layer the chains reach: depth 0.
    lowest: Layer,
}

impl Gathered {
    /// The second half of `build_placed`: the block list and the placement. `meanwhile` is
    /// given the objects and their reference flags, and runs on another thread when
    /// `threads` >= 2, after everything this can fail on was allocated: nothing it reads is
    /// written here, so it may change the tree (an offload allocating the contexts).
    pub fn place_with<R: Send>(
        self,
        budget: &Budget,
        threads: usize,
        meanwhile: impl FnOnce(&[Handle], &[bool]) -> R + Send,
    ) -> Result<(BlockList, Placement, R)> {
        let Gathered {
            handles: node_handles,
            parents: mut node_parents,
            referenced,
            lowest,
        } = self;
        let n = node_handles.len();
        let mut span = budget.filled(1u32, n)?;
        let mut list = BlockList {
            layers: budget.filled(0, n)?,
            handles: budget.filled(0, n)?,
            depths: budget.filled(0, n)?,
            referenced: budget.filled(false, n)?,
            next: budget.filled(NO_LINK, n)?,
            dependent: budget.filled(NO_LINK, n)?,
            statuses: budget.filled(NO_STATUS, n)?,
        };
        let place = || {
            place(
                (&node_handles, &referenced),
                &mut node_parents,
                &mut span,
                &mut list,
                lowest,
            )
        };
        let ((), other) = both(threads, place, || meanwhile(&node_handles, &referenced));
        let placement = Placement {
            handles: node_handles,
            positions: node_parents,
            referenced,
        };
        Ok((list, placement, other))
    }
}

/// Fills `list` from the objects in order of first mention (`handles`, `referenced`,
/// `parents`), turning `parents` into each object's block position. `span` is scratch of one
/// entry per object, filled with 1; every array has one entry per object.
fn place(
    (handles, referenced): (&[Handle], &[bool]),
    parents: &mut [u32],
    span: &mut [u32],
    list: &mut BlockList,
    lowest: Layer,
) {
    let n = handles.len();
    // Subtree sizes: children come after their parent, so one backward pass sums them.
    // Pass 1 turns each node's size into its cursor once the node is placed.
    for i in (0..n).rev() {
        let parent = parents[i];
        if parent != NONE {
            span[parent as usize] += span[i];
        }
    }
    // Pass 1, in node order: pre-order positions without a traversal. A node goes where
    // its parent's cursor is (just after the parent, past its earlier siblings' subtrees)
    // and moves that cursor past its own subtree, so siblings keep their order of first
    // mention. This is the one permutation from request order to block order: only the
    // handle and the reference flag are scattered. A node's parent index is read only
    // here, so its position replaces it.
    let mut root_cursor = 0u32;
    for i in 0..n {
        let parent = parents[i];
        let size = span[i];
        let at = if parent == NONE {
            let at = root_cursor;
            root_cursor += size;
            at
        } else {
            let cursor = &mut span[parent as usize];
            let at = *cursor;
            *cursor += size;
            at
        };
        span[i] = at + 1;
        parents[i] = at;
        list.handles[at as usize] = handles[i].raw();
        list.referenced[at as usize] = referenced[i];
    }
    // Pass 2, in block order: the links follow from the depths. A block's first dependent
    // is the block right after it, one level deeper. Its next block is the following one
    // at its depth, unless a shallower block (a new parent) comes first.
    let mut last_at_depth = [NONE; 3];
    for a in 0..n {
        let layer = layer_of(Handle::from_raw(list.handles[a])) as u8;
        let depth = layer - lowest as u8;
        list.layers[a] = layer;
        list.depths[a] = depth;
        let d = usize::from(depth);
        if d > 0 && list.depths[a - 1] as usize == d - 1 {
            list.dependent[a - 1] = a as i64;
        }
        if last_at_depth[d] != NONE {
            list.next[last_at_depth[d] as usize] = a as i64;
        }
        last_at_depth[d] = a as u32;
        // Deeper sibling runs end here.
        last_at_depth[d + 1..].fill(NONE);
    }
}

/// Finds each block's parent during a pass in block order, without storing a parent array:
/// in pre-order, a block's parent is the last block seen one level up.
#[derive(Default)]
pub(crate) struct ParentTracker {
    last: [usize; 3],
}

impl ParentTracker {
    /// Records block `index` at `depth` and returns the index of its parent (None for a root).
    #[inline]
    pub(crate) fn visit(&mut self, index: usize, depth: u8) -> Option<usize> {
        let depth = usize::from(depth);
        self.last[depth] = index;
        depth.checked_sub(1).map(|up| self.last[up])
    }
}

const NONE: u32 = u32::MAX;

/// The forest being assembled, in order of first mention, as parallel arrays: every node is
/// created after its parent, which `BlockList::build` relies on to place blocks in two passes.
struct Forest {
    handles: Vec<Handle>,
    /// Node index of the parent, or `NONE` for a root.
    parents: Vec<u32>,
    /// Read while the chains are assembled (in request order), so that placing the blocks in
    /// tree order does not revisit every object's memory.
    referenced: Vec<bool>,
    /// Node index of each neighbor and path already in the forest, by slot.
    neighbor_node: Vec<u32>,
    path_node: Vec<u32>,
}

impl Forest {
    fn new(tree: &HostTree, requested: usize, budget: &Budget) -> Result<Self> {
        let capacity = requested + requested / 8 + 4;
        Ok(Self {
            handles: budget.vec(capacity)?,
            parents: budget.vec(capacity)?,
            referenced: budget.vec(capacity)?,
            neighbor_node: budget.filled(NONE, tree.neighbors.slot_count())?,
            path_node: budget.filled(NONE, tree.paths.slot_count())?,
        })
    }

    fn push(&mut self, h: Handle, parent: u32, referenced: bool) -> u32 {
        self.handles.push(h);
        self.parents.push(parent);
        self.referenced.push(referenced);
        (self.handles.len() - 1) as u32
    }

    /// The node of neighbor `n`, created (as a root) at its first mention.
    fn neighbor_node(&mut self, tree: &HostTree, n: Handle) -> u32 {
        let slot = n.slot() as usize;
        if self.neighbor_node[slot] == NONE {
            let offloaded = tree.neighbor(n).context != NO_CONTEXT;
            self.neighbor_node[slot] = self.push(n, NONE, offloaded);
        }
        self.neighbor_node[slot]
    }

    /// The node of path `p`, created at its first mention under its neighbor's node when the
    /// chains reach down to the neighbor layer.
    fn path_node(&mut self, tree: &HostTree, p: Handle, lowest: Layer) -> u32 {
        let slot = p.slot() as usize;
        if self.path_node[slot] == NONE {
            let path = tree.path(p);
            let parent = if lowest < Layer::Path {
                self.neighbor_node(tree, path.neighbor)
            } else {
                NONE
            };
            self.path_node[slot] = self.push(p, parent, path.context != NO_CONTEXT);
        }
        self.path_node[slot]
    }
}

impl BlockList {
    pub fn len(&self) -> usize {
        self.handles.len()
    }

    pub fn is_empty(&self) -> bool {
        self.handles.is_empty()
    }

    /// Builds the block list for `requested` (resolved handles of `tree`), exactly as
    /// docs/DESIGN.md §7:
    /// each object with its not-yet-offloaded ancestors and the first offloaded one as a
    /// reference, every chain reaching down to the lowest layer present.
    pub fn build(tree: &HostTree, requested: &[Handle], budget: &Budget) -> Result<BlockList> {
        Ok(Self::build_placed(tree, requested, budget)?.0)
    }

    /// `build`, plus where each block's object was first mentioned: the `Placement` lists the
    /// objects in request order (ancestors just before their first dependent) with their block
    /// positions, for work that is cheaper in that order than in tree order.
    pub fn build_placed(
        tree: &HostTree,
        requested: &[Handle],
        budget: &Budget,
    ) -> Result<(BlockList, Placement)> {
        let (list, placement, ()) =
            Self::gather(tree, requested, budget)?.place_with(budget, 1, |_, _| ())?;
        Ok((list, placement))
    }

    /// The first half of `build_placed`: the objects of the block list in order of first
    /// mention, each with its parent's index; what the tree is read for.
    pub fn gather(tree: &HostTree, requested: &[Handle], budget: &Budget) -> Result<Gathered> {
        // Duplicates are dropped (first mention wins); without any, no copy is made.
        let mut seen = SeenSet::new(tree, budget)?;
        let unique: Cow<'_, [Handle]> = match requested.iter().position(|&h| !seen.insert(h)) {
            None => Cow::Borrowed(requested),
            Some(duplicate) => {
                let mut unique = budget.vec(requested.len())?;
                unique.extend_from_slice(&requested[..duplicate]);
                let rest = &requested[duplicate + 1..];
                unique.extend(rest.iter().copied().filter(|&h| seen.insert(h)));
                Cow::Owned(unique)
            }
        };
        // The lowest layer any chain has to reach.
        let mut lowest = Layer::Tcp;
        for &h in unique.iter() {
            let mut bottom = h;
            while !tree.is_offloaded(bottom) {
                match tree.parent(bottom) {
                    Some(parent) => bottom = parent,
                    None => break,
                }
            }
            lowest = lowest.min(layer_of(bottom));
            if lowest == Layer::Neighbor {
                break;
            }
        }

        let mut forest = Forest::new(tree, unique.len(), budget)?;
        for &h in unique.iter() {
            match layer_of(h) {
                Layer::Tcp => {
                    let tcp = tree.tcp(h);
                    let parent = if lowest < Layer::Tcp {
                        forest.path_node(tree, tcp.path, lowest)
                    } else {
                        NONE
                    };
                    forest.push(h, parent, tcp.context != NO_CONTEXT);
                }
                Layer::Path => {
                    forest.path_node(tree, h, lowest);
                }
                Layer::Neighbor => {
                    forest.neighbor_node(tree, h);
                }
            }
        }
        Ok(Gathered {
            handles: forest.handles,
            parents: forest.parents,
            referenced: forest.referenced,
            lowest,
        })
    }

    pub fn status(&self, index: usize) -> Option<Status> {
        Status::from_u8(self.statuses[index])
    }

    /// After processing: every block that did not fail becomes SUCCESS, or PARTIAL_SUCCESS when
    /// one of its immediate dependents failed (docs/NDIS.md, "Initiate offload: per-block
    /// status"); a referenced block (a linker) whose every dependent failed gets FAILURE
    /// (NDIS "Placeholders, Linkers, and New Offloads").
    pub fn settle(&mut self) {
        // Backwards, a block's dependents come just before it: counts per depth of the blocks
        // seen since the last shallower one are exactly the dependents of the next block one
        // level up, so no parent index is stored. A linker's FAILURE then reaches its own
        // parent's count too.
        let mut seen = [(0u32, 0u32); 4]; // (dependents, failed dependents) per depth
        for i in (0..self.len()).rev() {
            let depth = usize::from(self.depths[i]);
            let (dependents, failed) = std::mem::take(&mut seen[depth + 1]);
            let status = Status::from_u8(self.statuses[i]);
            if !status.is_some_and(Status::is_failure) {
                let settled = if failed == 0 {
                    Status::Success
                } else if self.referenced[i] && failed == dependents {
                    Status::Failure
                } else {
                    Status::PartialSuccess
                };
                self.statuses[i] = settled as u8;
            }
            let count = &mut seen[depth];
            count.0 += 1;
            if self.status(i).is_some_and(Status::is_failure) {
                count.1 += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tree::tests::example;
    use super::*;

    #[test]
    fn connections_pull_in_their_paths_and_neighbor() {
        let (tree, [n1, p1, p2, t1, t2, t3]) = example();
        let list = BlockList::build(&tree, &[t1, t3, t2, t1], &Budget::default()).unwrap();
        let raw: Vec<u64> = [n1, p1, t1, t2, p2, t3].iter().map(|h| h.raw()).collect();
        assert_eq!(list.handles, raw);
        assert_eq!(list.depths, vec![0, 1, 2, 2, 1, 2]);
        assert_eq!(list.next, vec![NO_LINK, 4, 3, NO_LINK, NO_LINK, NO_LINK]);
        assert_eq!(list.dependent, vec![1, 2, NO_LINK, NO_LINK, 5, NO_LINK]);
        assert!(list.referenced.iter().all(|r| !r));
    }

    #[test]
    fn offloaded_ancestors_are_referenced_and_chains_reach_the_lowest_layer() {
        let (mut tree, [n1, p1, p2, t1, _, t3]) = example();
        tree.set_context(n1, 0);
        tree.set_context(p1, 0);
        // t1's chain stops at the referenced p1; alone, the list is rooted at the path layer.
        let list = BlockList::build(&tree, &[t1], &Budget::default()).unwrap();
        assert_eq!(list.handles, vec![p1.raw(), t1.raw()]);
        assert_eq!(list.referenced, vec![true, false]);
        // t3 needs p2 (new) over n1 (referenced): the lowest layer is the neighbor's.
        let list = BlockList::build(&tree, &[t1, t3], &Budget::default()).unwrap();
        let raw: Vec<u64> = [n1, p1, t1, p2, t3].iter().map(|h| h.raw()).collect();
        assert_eq!(list.handles, raw);
        assert_eq!(list.referenced, vec![true, true, false, false, false]);
    }

    #[test]
    fn settle_marks_partial_success() {
        let (tree, [.., t1, t2, t3]) = example();
        let mut list = BlockList::build(&tree, &[t1, t2, t3], &Budget::default()).unwrap();
        list.statuses[3] = Status::Resources as u8; // t2
        list.settle();
        let got: Vec<Status> = (0..list.len()).map(|i| list.status(i).unwrap()).collect();
        use Status::*;
        // Path1 lost a dependent; Neighbor1's dependents (Path1, Path2) were both offloaded.
        let expected = [
            Success,
            PartialSuccess,
            Success,
            Resources,
            Success,
            Success,
        ];
        assert_eq!(got, expected);
    }

    #[test]
    fn a_linker_whose_every_dependent_failed_gets_failure() {
        let (mut tree, [n1, p1, _, t1, t2, t3]) = example();
        tree.set_context(n1, 0);
        tree.set_context(p1, 0);
        // n1 (ref) -> p1 (ref) -> t1, t2 (new); p2 (new) -> t3 (new).
        let mut list = BlockList::build(&tree, &[t1, t2, t3], &Budget::default()).unwrap();
        assert_eq!(
            list.referenced,
            vec![true, true, false, false, false, false]
        );
        list.statuses[2] = Status::TcpEntries as u8; // t1
        list.statuses[3] = Status::TcpEntries as u8; // t2
        list.statuses[5] = Status::Resources as u8; // t3, under a new p2 that went through
        list.settle();
        let got: Vec<Status> = (0..list.len()).map(|i| list.status(i).unwrap()).collect();
        use Status::*;
        // p1 is a linker with all dependents failed: FAILURE. p2 is new and was offloaded:
        // PARTIAL_SUCCESS. n1 is a linker with one of two dependents failed: PARTIAL_SUCCESS.
        let expected = [
            PartialSuccess,
            Failure,
            TcpEntries,
            TcpEntries,
            PartialSuccess,
            Resources,
        ];
        assert_eq!(got, expected);
        // With p2 failing too, every dependent of n1 failed: FAILURE reaches the root.
        let mut list = BlockList::build(&tree, &[t1, t2, t3], &Budget::default()).unwrap();
        for i in [2, 3, 4, 5] {
            list.statuses[i] = Status::Failure as u8;
        }
        list.settle();
        assert_eq!(list.status(0), Some(Failure));
        assert_eq!(list.status(1), Some(Failure));
    }
}

//! Block lists: the tree of NDIS_MINIPORT_OFFLOAD_BLOCK_LIST structures that conveys state to
//! the target (SPEC §3, DESIGN §7).
//!
//! Stored as parallel arrays in pre-order ("block-list order") so that the whole list crosses
//! into Python as a handful of NumPy arrays. `next` is the NDIS NextBlock link (same layer,
//! same parent) and `dependent` the NDIS DependentBlockList link (first block one layer up).

use crate::handle::{Handle, Layer};
use crate::status::{Status, NO_STATUS};
use crate::tree::{layer_of, HostTree, SeenSet};

/// "No link" in `next`, `dependent` and `parent`.
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
    /// Index of the block this one depends on (not an NDIS link; used to settle statuses).
    pub parent: Vec<i64>,
    pub statuses: Vec<u8>,
}

const NONE: u32 = u32::MAX;

/// A node of the forest being assembled in order of first mention.
struct Node {
    handle: Handle,
    first_child: u32,
    last_child: u32,
    next: u32,
}

impl BlockList {
    pub fn len(&self) -> usize {
        self.handles.len()
    }

    pub fn is_empty(&self) -> bool {
        self.handles.is_empty()
    }

    /// Builds the block list for `requested` (resolved handles of `tree`), exactly as DESIGN §7:
    /// each object with its not-yet-offloaded ancestors and the first offloaded one as a
    /// reference, every chain reaching down to the lowest layer present.
    pub fn build(tree: &HostTree, requested: &[Handle]) -> BlockList {
        let mut seen = SeenSet::new(tree);
        let mut unique = Vec::with_capacity(requested.len());
        for &h in requested {
            if seen.insert(h) {
                unique.push(h);
            }
        }
        // The lowest layer any chain has to reach.
        let mut lowest = Layer::Tcp;
        for &h in &unique {
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

        let mut nodes: Vec<Node> = Vec::with_capacity(unique.len() + unique.len() / 8 + 4);
        // Node index of each neighbor and path already in the forest, by slot.
        let mut neighbor_node = vec![NONE; tree.neighbors.slot_count()];
        let mut path_node = vec![NONE; tree.paths.slot_count()];
        let (mut first_root, mut last_root) = (NONE, NONE);
        let mut chain: Vec<Handle> = Vec::with_capacity(3);

        for &h in &unique {
            chain.clear();
            let mut cur = h;
            chain.push(cur);
            while layer_of(cur) > lowest {
                cur = tree
                    .parent(cur)
                    .expect("objects above the neighbor layer have a parent");
                chain.push(cur);
            }
            let mut parent = NONE;
            for &o in chain.iter().rev() {
                let slot = o.slot() as usize;
                let known = match layer_of(o) {
                    Layer::Neighbor => neighbor_node[slot],
                    Layer::Path => path_node[slot],
                    Layer::Tcp => NONE, // requested connections are unique, never ancestors
                };
                if known != NONE {
                    parent = known;
                    continue;
                }
                let index = nodes.len() as u32;
                nodes.push(Node {
                    handle: o,
                    first_child: NONE,
                    last_child: NONE,
                    next: NONE,
                });
                match layer_of(o) {
                    Layer::Neighbor => neighbor_node[slot] = index,
                    Layer::Path => path_node[slot] = index,
                    Layer::Tcp => {}
                }
                // Append `index` to its parent's dependents (or to the roots).
                let previous = if parent == NONE {
                    last_root
                } else {
                    nodes[parent as usize].last_child
                };
                if previous != NONE {
                    nodes[previous as usize].next = index;
                } else if parent == NONE {
                    first_root = index;
                } else {
                    nodes[parent as usize].first_child = index;
                }
                if parent == NONE {
                    last_root = index;
                } else {
                    nodes[parent as usize].last_child = index;
                }
                parent = index;
            }
        }

        let n = nodes.len();
        let mut list = BlockList {
            layers: Vec::with_capacity(n),
            handles: Vec::with_capacity(n),
            depths: Vec::with_capacity(n),
            referenced: Vec::with_capacity(n),
            next: vec![NO_LINK; n],
            dependent: vec![NO_LINK; n],
            parent: Vec::with_capacity(n),
            statuses: vec![NO_STATUS; n],
        };
        // Position of each node in the output, to resolve `next` links afterwards.
        let mut position = vec![0u32; n];
        // Explicit stack of (node, parent position): the next sibling is pushed before the first
        // child so a whole subtree is emitted before the sibling.
        let mut stack: Vec<(u32, i64)> = Vec::with_capacity(8);
        if first_root != NONE {
            stack.push((first_root, NO_LINK));
        }
        while let Some((index, parent_pos)) = stack.pop() {
            let node = &nodes[index as usize];
            let pos = list.handles.len();
            position[index as usize] = pos as u32;
            let layer = layer_of(node.handle);
            list.layers.push(layer as u8);
            list.handles.push(node.handle.raw());
            list.depths.push(layer as u8 - lowest as u8);
            list.referenced.push(tree.is_offloaded(node.handle));
            list.parent.push(parent_pos);
            if node.next != NONE {
                stack.push((node.next, parent_pos));
            }
            if node.first_child != NONE {
                list.dependent[pos] = pos as i64 + 1;
                stack.push((node.first_child, pos as i64));
            }
        }
        for (index, node) in nodes.iter().enumerate() {
            if node.next != NONE {
                list.next[position[index] as usize] = i64::from(position[node.next as usize]);
            }
        }
        list
    }

    pub fn status(&self, index: usize) -> Option<Status> {
        Status::from_u8(self.statuses[index])
    }

    /// After processing: every block that did not fail becomes SUCCESS, or PARTIAL_SUCCESS when
    /// one of its immediate dependents failed (CHIMNEY-NOTES "per-block status").
    pub fn settle(&mut self) {
        let n = self.len();
        let mut partial = vec![false; n];
        for i in 0..n {
            let failed = self.status(i).is_some_and(Status::is_failure);
            if failed && self.parent[i] != NO_LINK {
                partial[self.parent[i] as usize] = true;
            }
        }
        for (status, partial) in self.statuses.iter_mut().zip(partial) {
            if !Status::from_u8(*status).is_some_and(Status::is_failure) {
                *status = if partial {
                    Status::PartialSuccess as u8
                } else {
                    Status::Success as u8
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{parse_ip, NeighborState, PathState, TcpState};
    use crate::tree::NO_CONTEXT;

    fn build_example() -> (HostTree, Vec<Handle>) {
        let mut tree = HostTree::new();
        let ns = NeighborState {
            source_mac: None,
            vlan_id: 0,
            mac: [2, 0, 0, 0, 0, 1],
            host_reachability_delta: 0,
            nic_reachability_delta: 0,
        };
        let ps = PathState::new(
            parse_ip("10.0.0.1").unwrap(),
            parse_ip("10.0.0.9").unwrap(),
            1500,
        )
        .unwrap();
        let n1 = tree.insert_neighbor(ns);
        let p1 = tree.insert_path(n1, ps);
        let p2 = tree.insert_path(n1, ps);
        let t1 = tree.insert_tcp(p1, TcpState::default());
        let t2 = tree.insert_tcp(p1, TcpState::default());
        let t3 = tree.insert_tcp(p2, TcpState::default());
        (tree, vec![n1, p1, p2, t1, t2, t3])
    }

    #[test]
    fn connections_pull_in_their_paths_and_neighbor() {
        let (tree, h) = build_example();
        let (n1, p1, p2, t1, t2, t3) = (h[0], h[1], h[2], h[3], h[4], h[5]);
        let list = BlockList::build(&tree, &[t1, t3, t2, t1]);
        let raw: Vec<u64> = [n1, p1, t1, t2, p2, t3].iter().map(|h| h.raw()).collect();
        assert_eq!(list.handles, raw);
        assert_eq!(list.depths, vec![0, 1, 2, 2, 1, 2]);
        assert_eq!(list.next, vec![NO_LINK, 4, 3, NO_LINK, NO_LINK, NO_LINK]);
        assert_eq!(list.dependent, vec![1, 2, NO_LINK, NO_LINK, 5, NO_LINK]);
        assert!(list.referenced.iter().all(|r| !r));
    }

    #[test]
    fn offloaded_ancestors_are_referenced_and_chains_reach_the_lowest_layer() {
        let (mut tree, h) = build_example();
        let (n1, p1, p2, t1, t3) = (h[0], h[1], h[2], h[3], h[5]);
        tree.set_context(n1, 0);
        tree.set_context(p1, 0);
        // t1's chain stops at the referenced p1; alone, the list is rooted at the path layer.
        let list = BlockList::build(&tree, &[t1]);
        assert_eq!(list.handles, vec![p1.raw(), t1.raw()]);
        assert_eq!(list.referenced, vec![true, false]);
        // t3 needs p2 (new) over n1 (referenced): the lowest layer is the neighbor's.
        let list = BlockList::build(&tree, &[t1, t3]);
        let raw: Vec<u64> = [n1, p1, t1, p2, t3].iter().map(|h| h.raw()).collect();
        assert_eq!(list.handles, raw);
        assert_eq!(list.referenced, vec![true, true, false, false, false]);
        tree.set_context(p1, NO_CONTEXT);
    }

    #[test]
    fn settle_marks_partial_success() {
        let (tree, h) = build_example();
        let mut list = BlockList::build(&tree, &h[3..]);
        list.statuses[3] = Status::Resources as u8; // t2
        list.settle();
        let got: Vec<Status> = (0..list.len()).map(|i| list.status(i).unwrap()).collect();
        use Status::*;
        // Path1 lost a dependent; Neighbor1's dependents (Path1, Path2) were both offloaded.
        assert_eq!(
            got,
            vec![
                Success,
                PartialSuccess,
                Success,
                Resources,
                Success,
                Success
            ]
        );
    }
}

//! Walks of the host tree in pre-order (an object, then its dependents) and post-order
//! (dependents first), whole or from chosen roots (docs/DESIGN.md §3), and the bit set that
//! keeps each object once. The tree has exactly three layers, so the walks are nested loops:
//! no recursion, whatever the input.

use crate::model::{Budget, Handle, Result};

use super::tree::{layer_of, HostTree};
use crate::model::Layer;

impl HostTree {
    /// Pre-order (`post == false`: an object, then its dependents) or post-order walk of the
    /// whole tree, neighbors in creation order.
    pub fn walk_all(&self, post: bool, budget: &Budget) -> Result<Vec<u64>> {
        let mut out = budget.vec(self.len())?;
        for &n in &self.roots {
            self.walk_subtree(n, post, &mut out);
        }
        Ok(out)
    }

    /// Appends the walk of the subtree of `root` (any layer).
    pub fn walk_subtree(&self, root: Handle, post: bool, out: &mut Vec<u64>) {
        let emit_path = |p: Handle, out: &mut Vec<u64>| {
            if !post {
                out.push(p.raw());
            }
            out.extend(self.path(p).tcps.iter().map(|t| t.raw()));
            if post {
                out.push(p.raw());
            }
        };
        match layer_of(root) {
            Layer::Tcp => out.push(root.raw()),
            Layer::Path => emit_path(root, out),
            Layer::Neighbor => {
                if !post {
                    out.push(root.raw());
                }
                for &p in &self.neighbor(root).paths {
                    emit_path(p, out);
                }
                if post {
                    out.push(root.raw());
                }
            }
        }
    }

    /// Walk of the subtrees of `roots` (validated), each object once (docs/DESIGN.md §3).
    pub fn walk_roots(&self, roots: &[Handle], post: bool, budget: &Budget) -> Result<Vec<u64>> {
        let mut seen = SeenSet::new(self, budget)?;
        let mut out = Vec::new();
        let mut scratch = Vec::new();
        for &root in roots {
            // An emitted object came with its whole subtree, in either order: walking it again
            // would add nothing and make a repeated root cost a subtree each time.
            if seen.contains(root) {
                continue;
            }
            scratch.clear();
            self.walk_subtree(root, post, &mut scratch);
            for &raw in &scratch {
                let h = Handle::from_raw(raw);
                if seen.insert(h) {
                    out.push(raw);
                }
            }
        }
        Ok(out)
    }

    /// `walk_roots(roots, true)` restricted to offloaded objects: what terminating `roots`
    /// uploads, in upload order.
    pub fn offloaded_post_order(&self, roots: &[Handle], budget: &Budget) -> Result<Vec<Handle>> {
        Ok(self
            .walk_roots(roots, true, budget)?
            .into_iter()
            .map(Handle::from_raw)
            .filter(|&h| self.is_offloaded(h))
            .collect())
    }
}

impl HostTree {
    /// `offloaded_post_order` for a call past its point of no return (the target has
    /// already changed), where failing would leave a half-done call: no budget, and a real
    /// allocation failure panics into `InternalError` rather than corrupting the tree.
    pub fn offloaded_post_order_now(&self, roots: &[Handle]) -> Vec<Handle> {
        self.offloaded_post_order(roots, &Budget::default())
            .expect("an unlimited budget fails only when the allocator does")
    }
}

/// A set of objects of one tree, as one bit per slot and layer: cheap to build for a walk or
/// a block list over millions of objects.
pub(crate) struct SeenSet {
    bits: [Vec<u64>; 3],
}

impl SeenSet {
    pub(crate) fn new(tree: &HostTree, budget: &Budget) -> Result<Self> {
        let words = |slots: usize| budget.filled(0u64, slots.div_ceil(64));
        Ok(Self {
            bits: [
                words(tree.neighbors.slot_count())?,
                words(tree.paths.slot_count())?,
                words(tree.tcps.slot_count())?,
            ],
        })
    }

    pub(crate) fn contains(&self, h: Handle) -> bool {
        let slot = h.slot() as usize;
        self.bits[layer_of(h).index()][slot / 64] & (1 << (slot % 64)) != 0
    }

    /// Adds `h`; false if it was already there.
    pub(crate) fn insert(&mut self, h: Handle) -> bool {
        let slot = h.slot() as usize;
        let word = &mut self.bits[layer_of(h).index()][slot / 64];
        let bit = 1u64 << (slot % 64);
        let fresh = *word & bit == 0;
        *word |= bit;
        fresh
    }
}

#[cfg(test)]
mod tests {
    use super::super::tree::tests::example;
    use super::*;

    #[test]
    fn walks_follow_block_list_order() {
        let (tree, [n1, p1, p2, t1, t2, t3]) = example();
        let raw = |hs: &[Handle]| hs.iter().map(|h| h.raw()).collect::<Vec<_>>();
        let b = &Budget::default();
        assert_eq!(
            tree.walk_all(false, b).unwrap(),
            raw(&[n1, p1, t1, t2, p2, t3])
        );
        assert_eq!(
            tree.walk_all(true, b).unwrap(),
            raw(&[t1, t2, p1, t3, p2, n1])
        );
        assert_eq!(
            tree.walk_roots(&[p2, n1], false, b).unwrap(),
            raw(&[p2, t3, n1, p1, t1, t2])
        );
        assert_eq!(
            tree.walk_roots(&[t3, n1], true, b).unwrap(),
            raw(&[t3, t1, t2, p1, p2, n1])
        );
    }

    #[test]
    fn seen_set_keeps_layers_apart() {
        let (tree, [n1, p1, ..]) = example();
        let mut seen = SeenSet::new(&tree, &Budget::default()).unwrap();
        assert!(seen.insert(n1));
        assert!(!seen.insert(n1));
        // Same slot 0, other layer.
        assert_eq!(n1.slot(), p1.slot());
        assert!(!seen.contains(p1));
    }
}

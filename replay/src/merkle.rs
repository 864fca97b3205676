//! RFC 6962 Merkle tree hash over the log, computed streaming in bounded memory.
//!
//! RFC 6962 §2.1: `MTH({}) = SHA-256()`, `MTH({d0}) = SHA-256(0x00 ‖ d0)`, and for n > 1 with
//! k the largest power of two smaller than n, `MTH(D[n]) = SHA-256(0x01 ‖ MTH(D[0:k]) ‖
//! MTH(D[k:n]))`. The leaf and node prefixes keep a leaf from ever being mistaken for an inner
//! node (second-preimage resistance).
//!
//! The accumulator keeps one subtree root per set bit of the leaf count (a "stack of subtree
//! roots", the binary-counter form of the RFC's split rule), so memory is at most
//! [`MERKLE_STACK_DEPTH_MAX`] hashes whatever the length of the log — the log is never loaded
//! whole.

use sha2::{Digest, Sha256};

/// A SHA-256 digest.
pub type Hash32 = [u8; 32];

/// Deepest the subtree stack can get: one entry per bit of a `u64` leaf count.
pub const MERKLE_STACK_DEPTH_MAX: usize = 64;

/// Prefix of a leaf hash input (RFC 6962 §2.1).
const LEAF_PREFIX: u8 = 0x00;
/// Prefix of an inner-node hash input (RFC 6962 §2.1).
const NODE_PREFIX: u8 = 0x01;

/// `SHA-256(0x00 ‖ leaf)`.
pub fn leaf_hash(leaf: &[u8]) -> Hash32 {
    let mut hasher = Sha256::new();
    hasher.update([LEAF_PREFIX]);
    hasher.update(leaf);
    hasher.finalize().into()
}

/// `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Hash32, right: &Hash32) -> Hash32 {
    let mut hasher = Sha256::new();
    hasher.update([NODE_PREFIX]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// Root of the empty tree: `SHA-256()` of nothing (RFC 6962 §2.1).
pub fn empty_root() -> Hash32 {
    Sha256::digest([]).into()
}

/// Streaming RFC 6962 tree hash: push leaves in position order, ask for the root at any time.
#[derive(Clone, Debug, Default)]
pub struct MerkleAccumulator {
    /// Number of leaves pushed so far.
    size: u64,
    /// Roots of complete subtrees, left to right, strictly decreasing in height. The heights
    /// are exactly the set bits of `size`, so `stack.len() == size.count_ones()`.
    stack: Vec<(u32, Hash32)>,
}

impl MerkleAccumulator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Leaves pushed so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Push a leaf by its raw bytes (the canonical record bytes).
    pub fn push_leaf_bytes(&mut self, leaf: &[u8]) {
        self.push_leaf_hash(leaf_hash(leaf));
    }

    /// Push an already computed leaf hash (`SHA-256(0x00 ‖ leaf)`).
    ///
    /// Saturation at `u64::MAX` leaves is unreachable in practice (positions are `u64` too);
    /// the accumulator then stops growing rather than panicking.
    pub fn push_leaf_hash(&mut self, hash: Hash32) {
        if self.size == u64::MAX {
            return;
        }
        let mut height = 0u32;
        let mut current = hash;
        // Merge equal-height subtrees: a binary carry. A complete subtree of height h holds
        // 2^h leaves, so two of them make the left and right halves of one of height h + 1,
        // which is exactly the RFC's split (k = 2^h).
        while let Some(&(top_height, top_hash)) = self.stack.last() {
            if top_height != height {
                break;
            }
            self.stack.pop();
            current = node_hash(&top_hash, &current);
            height += 1;
        }
        self.stack.push((height, current));
        self.size += 1;
        debug_assert_eq!(self.stack.len() as u32, self.size.count_ones());
        debug_assert!(self.stack.len() <= MERKLE_STACK_DEPTH_MAX);
        debug_assert!(self.stack.windows(2).all(|w| w[0].0 > w[1].0));
    }

    /// The RFC 6962 root of the leaves pushed so far.
    ///
    /// Folding the stack from the right reproduces the split rule: the leftmost (largest)
    /// subtree has 2^h leaves, the largest power of two smaller than `size` unless `size`
    /// is itself a power of two (then the stack has one entry and it is the root).
    pub fn root(&self) -> Hash32 {
        let mut entries = self.stack.iter().rev();
        let Some(&(_, mut root)) = entries.next() else {
            return empty_root();
        };
        for (_, left) in entries {
            root = node_hash(left, &root);
        }
        root
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Straight transcription of RFC 6962 §2.1 (recursive, whole input in memory): the
    /// reference the streaming accumulator is checked against.
    fn reference_root(leaves: &[Vec<u8>]) -> Hash32 {
        match leaves.len() {
            0 => empty_root(),
            1 => leaf_hash(&leaves[0]),
            n => {
                let mut k = 1usize;
                while k * 2 < n {
                    k *= 2;
                }
                node_hash(&reference_root(&leaves[..k]), &reference_root(&leaves[k..]))
            }
        }
    }

    fn hex32(s: &str) -> Hash32 {
        let bytes = hex::decode(s).expect("test vector is hex");
        bytes.try_into().expect("test vector is 32 bytes")
    }

    /// The RFC 6962 test inputs used by certificate-transparency's reference implementation.
    fn ct_leaves() -> Vec<Vec<u8>> {
        vec![
            vec![],
            vec![0x00],
            vec![0x10],
            vec![0x20, 0x21],
            vec![0x30, 0x31],
            vec![0x40, 0x41, 0x42, 0x43],
            vec![0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57],
            (0x60..=0x6f).collect(),
        ]
    }

    #[test]
    fn empty_tree_root_is_sha256_of_nothing() {
        assert_eq!(
            MerkleAccumulator::new().root(),
            hex32("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
    }

    #[test]
    fn roots_match_certificate_transparency_reference_vectors() {
        let expected = [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        let mut accumulator = MerkleAccumulator::new();
        for (leaf, root) in ct_leaves().iter().zip(expected) {
            accumulator.push_leaf_bytes(leaf);
            assert_eq!(
                hex::encode(accumulator.root()),
                root,
                "size {}",
                accumulator.size()
            );
        }
    }

    #[test]
    fn leaf_and_node_prefixes_differ() {
        // A 64-byte leaf equal to two concatenated hashes must not hash like their parent.
        let a = leaf_hash(b"a");
        let b = leaf_hash(b"b");
        let mut joined = Vec::new();
        joined.extend_from_slice(&a);
        joined.extend_from_slice(&b);
        assert_ne!(leaf_hash(&joined), node_hash(&a, &b));
    }

    #[test]
    fn stack_depth_is_the_number_of_set_bits() {
        let mut accumulator = MerkleAccumulator::new();
        for i in 0..1_000u32 {
            accumulator.push_leaf_bytes(&i.to_be_bytes());
            assert_eq!(
                accumulator.stack.len() as u32,
                accumulator.size().count_ones()
            );
        }
    }

    proptest! {
        #[test]
        fn streaming_root_equals_rfc_recursive_definition_at_every_prefix(
            leaves in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..8), 0..70)
        ) {
            let mut accumulator = MerkleAccumulator::new();
            prop_assert_eq!(accumulator.root(), reference_root(&[]));
            for n in 0..leaves.len() {
                accumulator.push_leaf_bytes(&leaves[n]);
                prop_assert_eq!(accumulator.root(), reference_root(&leaves[..=n]));
            }
        }

        #[test]
        fn changing_any_leaf_changes_the_root(
            leaves in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..8), 1..40),
            index in any::<prop::sample::Index>(),
        ) {
            let i = index.index(leaves.len());
            let mut altered = leaves.clone();
            altered[i][0] ^= 0x01;
            prop_assert_ne!(reference_root(&leaves), reference_root(&altered));
            let mut a = MerkleAccumulator::new();
            let mut b = MerkleAccumulator::new();
            for (x, y) in leaves.iter().zip(&altered) {
                a.push_leaf_bytes(x);
                b.push_leaf_bytes(y);
            }
            prop_assert_ne!(a.root(), b.root());
        }
    }
}

//! A fixed-size Bloom filter of idempotency keys: "not in the set" is certain, "maybe in the
//! set" must be settled by the store's index.
//!
//! Two writers use it to skip index lookups that would find nothing: the sled writer, for a
//! store whose idempotency index was empty when it opened (every key since went through the
//! writer, so a key the filter has never seen was never written), and the import of an
//! export, for the keys it has written itself. A negative lookup in sled's index costs a tree
//! descent per keyed append, which a bulk load of a fresh store pays for every command; the
//! filter answers in four memory probes.
//!
//! The filter never forgets and never overflows: as it fills, "maybe" answers grow more
//! frequent, so more lookups go to the index, and answers stay correct.

use uuid::Uuid;

/// Bits of the sled writer's filter, as a power of two: 2^24 bits = 2 MiB. Four probes keep
/// false "maybe" answers below one in 100,000 up to ~250,000 keys and near 2% at 2,000,000;
/// beyond that most lookups go to the index again, as without a filter.
pub const KEY_FILTER_BITS_LOG2_WRITER: u32 = 24;
/// Largest filter, as a power of two of bits (2^27 bits = 16 MiB).
pub const KEY_FILTER_BITS_LOG2_MAX: u32 = 27;
/// Smallest filter, as a power of two of bits (one 64-bit word).
const KEY_FILTER_BITS_LOG2_MIN: u32 = 6;
/// Bits set and tested per key.
const PROBES: u64 = 4;

/// Keys inserted so far, as bits: a key inserted is always found; one never inserted is
/// found with a probability that grows with the number of keys.
#[derive(Clone, Debug)]
pub struct KeyFilter {
    bits: Vec<u64>,
    bits_log2: u32,
}

impl KeyFilter {
    /// An empty filter of `2^bits_log2` bits (between 2^6 and 2^27; the memory is allocated
    /// now and touched as keys arrive).
    pub fn new(bits_log2: u32) -> KeyFilter {
        assert!(
            (KEY_FILTER_BITS_LOG2_MIN..=KEY_FILTER_BITS_LOG2_MAX).contains(&bits_log2),
            "a key filter has 2^{KEY_FILTER_BITS_LOG2_MIN}..=2^{KEY_FILTER_BITS_LOG2_MAX} bits"
        );
        KeyFilter {
            bits: vec![0; 1 << (bits_log2 - 6)],
            bits_log2,
        }
    }

    /// The filter's bit indices for `key`: double hashing over the key's two halves, mixed so
    /// that the UUID's fixed version and variant bits do not cluster the probes.
    fn probes(&self, key: &Uuid) -> impl Iterator<Item = usize> {
        let (high, low) = key.as_u64_pair();
        let h1 = mix(high ^ low.rotate_left(32));
        let h2 = mix(low ^ 0x9e37_79b9_7f4a_7c15) | 1;
        let mask = (1u64 << self.bits_log2) - 1;
        (0..PROBES).map(move |i| (h1.wrapping_add(i.wrapping_mul(h2)) & mask) as usize)
    }

    /// False when `key` was certainly never inserted.
    pub fn may_contain(&self, key: &Uuid) -> bool {
        self.probes(key)
            .all(|bit| self.bits[bit / 64] & (1 << (bit % 64)) != 0)
    }

    pub fn insert(&mut self, key: &Uuid) {
        let probes: [usize; PROBES as usize] = {
            let mut at = self.probes(key);
            std::array::from_fn(|_| at.next().expect("PROBES probes"))
        };
        for bit in probes {
            self.bits[bit / 64] |= 1 << (bit % 64);
        }
    }
}

/// SplitMix64's finaliser: every input bit reaches every output bit.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(range: std::ops::Range<u128>) -> Vec<Uuid> {
        range
            .map(|n| Uuid::new_v5(&Uuid::NAMESPACE_OID, &n.to_be_bytes()))
            .collect()
    }

    #[test]
    fn an_inserted_key_is_always_found_and_others_rarely_are() {
        let mut filter = KeyFilter::new(KEY_FILTER_BITS_LOG2_WRITER);
        let inserted = keys(0..10_000);
        for key in &inserted {
            filter.insert(key);
        }
        assert!(inserted.iter().all(|key| filter.may_contain(key)));
        let false_maybes = keys(10_000..20_000)
            .iter()
            .filter(|key| filter.may_contain(key))
            .count();
        // At 10,000 keys in 2^24 bits a false "maybe" is about one in 10^9.
        assert_eq!(
            false_maybes, 0,
            "keys never inserted taken for inserted ones"
        );
    }

    #[test]
    fn a_full_filter_still_finds_every_key_it_holds() {
        let mut filter = KeyFilter::new(KEY_FILTER_BITS_LOG2_MIN + 4);
        let inserted = keys(0..5_000);
        for key in &inserted {
            filter.insert(key);
        }
        assert!(inserted.iter().all(|key| filter.may_contain(key)));
        assert!(keys(5_000..5_100).iter().all(|key| filter.may_contain(key)));
    }
}

//! Every line of `shared/vectors/tier-public.jsonl` through the real binary
//! (`caseledger policy tier`), comparing the keys each line's `expect` lists.
mod cli_support;
mod support;

#[test]
fn every_public_tier_vector_passes_through_the_cli() {
    let n = support::check_vectors("tier-public.jsonl", "tier");
    assert!(
        n >= 140,
        "expected the full public vector file, read {n} lines"
    );
}

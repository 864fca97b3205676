use super::*;

#[test]
fn an_idempotency_entry_of_format_1_decodes_with_an_unknown_fingerprint() {
    let result = AppendResult {
        first_position: 3,
        last_position: 4,
        stream_version: 2,
        recorded_at_us: 7,
        deduplicated: false,
    };
    let v1 = codec::encode_payload(&StoredIdempotencyV1 {
        format: codec::RECORD_FORMAT_V1,
        stream_id: "X000001".into(),
        result,
    })
    .unwrap();
    let entry = decode_idempotency(&v1).unwrap();
    assert_eq!(entry.stream_id, "X000001");
    assert_eq!(entry.result, result);
    assert_eq!(entry.fingerprint, None);
    let v2 = encode_idempotency(&IdempotencyEntry {
        fingerprint: Some([9; 32]),
        ..entry
    })
    .unwrap();
    assert_eq!(v2[0], IDEMPOTENCY_FORMAT_V2);
    assert_eq!(decode_idempotency(&v2).unwrap().fingerprint, Some([9; 32]));
    assert!(decode_idempotency(&[7, 0, 0]).is_err());
}
use super::layout::KEY_PREFIX_BLOCK;

#[test]
fn the_stream_version_cache_stays_within_its_limit() {
    let mut versions = StreamVersions::default();
    for n in 0..=STREAM_VERSIONS_CACHED_MAX as u64 {
        versions.insert(&format!("S{n}"), Some((1, vec![n + 1])));
    }
    assert_eq!(versions.0.len(), 1, "emptied when full, then refilled");
    versions.insert("S0", Some((1, vec![5; 9])));
    versions.insert("S0", Some((33, vec![7, 8])));
    assert_eq!(versions.version("S0"), Some(34));
    versions.insert("S1", None);
    assert_eq!(versions.version("S1"), Some(0));
    assert_eq!(versions.version("S2"), None);
}

#[test]
fn keys_of_each_kind_sort_apart_and_in_numeric_order() {
    assert!(record_key(1) < record_key(2));
    assert!(record_key(255) < record_key(256));
    assert!(stream_index_key("X1", 9) < stream_index_key("X1", 10));
    // A stream that is a prefix of another never interleaves with it (0x00 separator).
    assert!(stream_index_key("X1", u64::MAX) < stream_index_key("X10", 0));
    let prefixes = [
        record_key(7)[0],
        block_key(7)[0],
        stream_index_key("X1", 1)[0],
        idempotency_key(&Uuid::nil())[0],
        META_LAYOUT_KEY[0],
    ];
    let distinct: std::collections::BTreeSet<u8> = prefixes.iter().copied().collect();
    assert_eq!(distinct.len(), prefixes.len(), "{prefixes:?}");
    assert_eq!(position_of_record_key(&record_key(300)), Ok(300));
    assert!(position_of_record_key(&stream_index_key("X1", 1)).is_err());
    assert!(position_of_record_key(&block_key(1)).is_err());
    assert_eq!(first_position_of_block_key(&block_key(300)), Ok(300));
    assert!(block_key(255) < block_key(256));
    assert_eq!(block_key(1)[0], KEY_PREFIX_BLOCK);
}

//! The tier label stored with a case. The calculator is `domain::tier` (tier-rules.md); the
//! lifecycle only stores its result, so this value type lives apart from it.

use crate::error::ValueError;
use crate::identity::string_newtype;

string_newtype!(
    /// A V2 tier: protect level A–D then change level 0–3, with `S` for unsupervised cases
    /// (tier-rules.md §5: e.g. `B2`, `C1S`).
    TierCode,
    |s| {
        let b = s.as_bytes();
        let ok = (b.len() == 2 || (b.len() == 3 && b[2] == b'S'))
            && (b'A'..=b'D').contains(&b[0])
            && (b'0'..=b'3').contains(&b[1]);
        if ok {
            Ok(())
        } else {
            Err(ValueError::Tier(s.chars().take(16).collect()))
        }
    }
);

impl TierCode {
    /// Protect level A (highest) … D.
    pub fn protect(&self) -> char {
        char::from(self.as_str().as_bytes()[0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tier_codes_are_v2_labels() {
        for ok in ["A0", "A3", "B2", "D3", "C1S"] {
            assert!(TierCode::new(ok).is_ok(), "{ok}");
        }
        for bad in ["", "E1", "A4", "a1", "B2X", "B", "B22"] {
            assert!(TierCode::new(bad).is_err(), "{bad}");
        }
        assert_eq!(TierCode::new("B2").unwrap().protect(), 'B');
    }
}

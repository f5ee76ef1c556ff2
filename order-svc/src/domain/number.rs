//! The identifiers people handle: the six-character order number read out
//! at the counter, and the guest's access token, which is a secret and is
//! therefore kept only as its SHA-256.

use rand::Rng;
use sha2::{Digest, Sha256};

pub use foodmesh_shared::values::{
    ORDER_NUMBER_ALPHABET as ALPHABET, ORDER_NUMBER_LENGTH as LENGTH, OrderNumber,
};

/// A random order number. Uniqueness is the store's to enforce; a collision
/// is retried with another draw.
pub fn generate(rng: &mut impl Rng) -> OrderNumber {
    OrderNumber::drawn(|n| rng.random_range(0..n))
}

/// A guest order's access token: 256 random bits, shown once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken(String);

/// The prefix that makes a token recognisable in logs and support tickets
/// (and lets a leak scanner find it).
const TOKEN_PREFIX: &str = "fmo_";

impl AccessToken {
    /// A fresh token from the operating system's randomness.
    pub fn generate() -> Self {
        let bytes: [u8; 32] = rand::rng().random();
        Self(format!("{TOKEN_PREFIX}{}", hex(&bytes)))
    }

    /// The token, to hand to the guest.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What is stored instead of the token.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
}

/// The SHA-256 of an access token: what the store keeps and compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenHash(Vec<u8>);

impl TokenHash {
    /// Hashes a token as presented by a client. Any string may be
    /// presented; a wrong one simply matches nothing.
    pub fn of(token: &str) -> Self {
        Self(Sha256::digest(token.trim().as_bytes()).to_vec())
    }

    /// The hash, as stored.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// The SHA-256 of a request's bytes, to tell a retry from a different
/// request under the same idempotency key.
pub fn fingerprint(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}

/// `bytes` as lowercase hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn order_numbers_are_six_unambiguous_characters() {
        let mut rng = rand::rng();
        for _ in 0..1000 {
            let n = generate(&mut rng);
            assert_eq!(n.as_str().len(), LENGTH);
            assert!(
                n.as_str().bytes().all(|b| ALPHABET.contains(&b)),
                "{}",
                n.as_str()
            );
            assert_eq!(OrderNumber::parse(n.as_str()).as_ref(), Ok(&n));
        }
        for confusing in [b'0', b'O', b'1', b'I', b'L'] {
            assert!(!ALPHABET.contains(&confusing));
        }
    }

    #[test]
    fn order_numbers_rarely_repeat() {
        let mut rng = rand::rng();
        let drawn: HashSet<_> = (0..10_000).map(|_| generate(&mut rng)).collect();
        // 10 000 draws from 887 million: a repeat is a ~5% event; two would
        // mean a broken generator.
        assert!(drawn.len() >= 9_998, "{}", drawn.len());
    }

    #[test]
    fn tokens_are_long_random_and_stored_hashed() {
        let a = AccessToken::generate();
        let b = AccessToken::generate();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), TOKEN_PREFIX.len() + 64);
        assert_eq!(a.hash(), TokenHash::of(a.as_str()));
        assert_ne!(a.hash(), b.hash());
        assert_eq!(a.hash().as_bytes().len(), 32);
    }
}

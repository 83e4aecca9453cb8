//! Content addresses for stored chunks, shared by the browser store and the server store.
//!
//! A chunk is stored under the SHA-256 of its bytes (as automerge-repo's storage does). That
//! makes writing a chunk twice harmless and lets a loader detect a chunk whose bytes changed
//! on disk: its hash no longer matches its key.

use sha2::{Digest, Sha256};

/// The lowercase hex SHA-256 of `bytes`.
pub fn chunk_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push(char::from_digit((b >> 4) as u32, 16).unwrap());
        out.push(char::from_digit((b & 0xf) as u32, 16).unwrap());
    }
    out
}

/// Whether stored bytes are still what was written under `hash`.
pub fn verify(hash: &str, bytes: &[u8]) -> bool {
    chunk_hash(bytes) == hash
}

#[cfg(test)]
mod tests {
    #[test]
    fn hashes_are_sha256_hex() {
        assert_eq!(super::chunk_hash(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert!(super::verify(&super::chunk_hash(b"x"), b"x"));
        assert!(!super::verify(&super::chunk_hash(b"x"), b"y"));
    }
}

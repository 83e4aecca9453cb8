//! Document ids in the form automerge-repo uses: 16 random bytes, written as bs58check.
//!
//! Using the same encoding means a document made here has the same `automerge:<id>` URL in any
//! automerge-repo peer, which the sync issue relies on.

use std::fmt;
use std::str::FromStr;

/// A record's stable identity: 16 random bytes, shown as a bs58check string.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocumentId([u8; 16]);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DocumentIdError {
    #[error("not a bs58check document id: {0}")]
    Encoding(String),
    #[error("a document id is 16 bytes, this one has {0}")]
    Length(usize),
}

impl DocumentId {
    /// Wraps 16 bytes that the caller drew from a cryptographic random source.
    pub fn from_random_bytes(bytes: [u8; 16]) -> Self {
        DocumentId(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The `automerge:<id>` URL that automerge-repo peers use.
    pub fn url(&self) -> String {
        format!("automerge:{self}")
    }
}

impl fmt::Display for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&bs58::encode(self.0).with_check().into_string())
    }
}

impl fmt::Debug for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DocumentId({self})")
    }
}

impl FromStr for DocumentId {
    type Err = DocumentIdError;

    /// Accepts the bare id or the `automerge:` URL.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.strip_prefix("automerge:").unwrap_or(s);
        let bytes = bs58::decode(s).with_check(None).into_vec().map_err(|e| DocumentIdError::Encoding(e.to_string()))?;
        let bytes: [u8; 16] = bytes.as_slice().try_into().map_err(|_| DocumentIdError::Length(bytes.len()))?;
        Ok(DocumentId(bytes))
    }
}

impl serde::Serialize for DocumentId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for DocumentId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_text_and_url() {
        let id = DocumentId::from_random_bytes(*b"0123456789abcdef");
        let text = id.to_string();
        assert_eq!(text.parse::<DocumentId>().unwrap(), id);
        assert_eq!(id.url().parse::<DocumentId>().unwrap(), id);
    }

    #[test]
    fn matches_automerge_repo_encoding() {
        // Vectors computed with npm `bs58check` 4, which automerge-repo's `binaryToDocumentId` uses.
        assert_eq!(DocumentId::from_random_bytes([0; 16]).to_string(), "11111111111111114Ki9Gx");
        assert_eq!(DocumentId::from_random_bytes([9; 16]).to_string(), "8JT5gXGHPWfPRoMrV1mqqo4QBFn");
    }

    #[test]
    fn rejects_bad_checksum_and_length() {
        let mut text = DocumentId::from_random_bytes([7; 16]).to_string();
        let last = text.pop().unwrap();
        text.push(if last == 'a' { 'b' } else { 'a' });
        assert!(matches!(text.parse::<DocumentId>(), Err(DocumentIdError::Encoding(_))));
        let short = bs58::encode([1u8; 8]).with_check().into_string();
        assert_eq!(short.parse::<DocumentId>(), Err(DocumentIdError::Length(8)));
    }
}

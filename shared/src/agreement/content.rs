//! What an agreement says, as one canonical byte string, and its SHA-256: the thing a
//! proposal freezes and a signature covers. Two devices that show the same agreement compute
//! the same bytes whatever their document's history (heads) is.
//!
//! The bytes are the deterministic CBOR encoding (definite lengths, shortest integer forms)
//! of the array
//!
//! ```text
//! [ "liaison.agreement.content/1",
//!   title, preamble, effective_date, term,
//!   [ party organisation id, … ]          -- sorted, no duplicates
//!   [ [ clause heading, clause body ], … ] -- in the order the agreement shows them
//! ]
//! ```
//!
//! with every text in Unicode NFC (a party typing "é" as one code point and another as "e"
//! plus an accent sign the same text); organisation ids as they are. Not in it: clause ids and positions (only the order
//! counts), contacts, who wrote what, proposals and signatures themselves.

use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;

/// The first element of the canonical array: names the format, so bytes of another kind or
/// version can never be taken for these.
pub const CONTENT_TAG: &str = "liaison.agreement.content/1";

/// One clause as shown and signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    pub id: String,
    pub heading: String,
    pub body: String,
}

/// Everything an agreement's signatures cover.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Content {
    pub title: String,
    pub preamble: String,
    pub effective_date: String,
    pub term: String,
    /// Sorted, without duplicates.
    pub parties: Vec<String>,
    /// In order.
    pub clauses: Vec<Clause>,
}

/// SHA-256 of [`Content::canonical_bytes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentHash(pub [u8; 32]);

/// As hex, in JSON.
impl serde::Serialize for ContentHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for ContentHash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ContentHash::from_hex(&s).ok_or_else(|| serde::de::Error::custom("a content hash is 32 bytes in hex"))
    }
}

impl ContentHash {
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    pub fn from_hex(s: &str) -> Option<ContentHash> {
        let bytes = unhex(s)?;
        Some(ContentHash(bytes.try_into().ok()?))
    }

    /// The first 8 hex digits, for people comparing a print-out with a screen.
    pub fn short(&self) -> String {
        self.to_hex()[..8].to_owned()
    }
}

impl Content {
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let nfc = |s: &str| s.nfc().collect::<String>();
        // Organisation ids byte for byte: they are compared as they are everywhere else, so two
        // spellings of one id must not hash alike.
        let mut parties = self.parties.clone();
        parties.sort();
        parties.dedup();
        let mut out = Vec::new();
        let mut e = minicbor::Encoder::new(&mut out);
        // Writing into a Vec cannot fail.
        let _ = (|| -> Result<(), minicbor::encode::Error<core::convert::Infallible>> {
            e.array(7)?.str(CONTENT_TAG)?;
            e.str(&nfc(&self.title))?.str(&nfc(&self.preamble))?.str(&nfc(&self.effective_date))?.str(&nfc(&self.term))?;
            e.array(parties.len() as u64)?;
            for p in &parties {
                e.str(p)?;
            }
            e.array(self.clauses.len() as u64)?;
            for c in &self.clauses {
                e.array(2)?.str(&nfc(&c.heading))?.str(&nfc(&c.body))?;
            }
            Ok(())
        })();
        out
    }

    pub fn hash(&self) -> ContentHash {
        ContentHash(Sha256::digest(self.canonical_bytes()).into())
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Lowercase hex only: one spelling per value.
pub(crate) fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok()).collect()
}

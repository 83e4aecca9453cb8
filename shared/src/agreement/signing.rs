//! Proposals and signatures: the canonical statements that are signed, their ids, and
//! Ed25519 verification against the server's directory of device keys.
//!
//! A proposal freezes one version: the document's heads and the [`ContentHash`] of the
//! content at those heads. Its id is derived from exactly that, so two devices proposing the
//! same version make one proposal. A signature signs the CBOR array
//!
//! ```text
//! [ "liaison.agreement.signature/1", document id, proposal id, [ head, … ] (sorted hex),
//!   content hash (hex), signer user, signer organisation, key id, signed at (ms since epoch) ]
//! ```
//!
//! Heads alone would not do (the same text can sit under different heads, and writing the
//! signature into the document moves them); the content hash alone would not say which
//! version a person looked at. Both are in it.

use sha2::{Digest, Sha256};

use super::content::{ContentHash, hex, unhex};
use crate::DocumentId;

pub const PROPOSAL_TAG: &str = "liaison.agreement.proposal/1";
pub const SIGNATURE_TAG: &str = "liaison.agreement.signature/1";

/// One version put forward for signature.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Proposal {
    pub id: String,
    /// Sorted hex change hashes.
    pub heads: Vec<String>,
    pub content: ContentHash,
    pub by_user: String,
    pub by_org: String,
    pub at: i64,
}

/// One party's signature over one proposal, as stored in the document (and, once the server
/// accepted it, in the server's own append-only copy).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AgreementSignature {
    pub id: String,
    pub proposal: String,
    pub user: String,
    pub org: String,
    pub key: String,
    pub at: i64,
    /// 64 bytes of Ed25519 (hex in JSON).
    #[serde(with = "hex_bytes")]
    pub signature: Vec<u8>,
}

/// A device key the server registered: who it speaks for and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyBinding {
    pub key_id: String,
    pub public_key: [u8; 32],
    pub user: String,
    pub org: String,
    pub added_at: i64,
    pub revoked_at: Option<i64>,
}

/// The keys a verifier knows (the app caches the server's, so it verifies offline).
#[derive(Debug, Clone, Default)]
pub struct KeyDirectory {
    pub keys: Vec<KeyBinding>,
}

/// Why a signature does not count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureFault {
    /// No such key, or the key is another person's or another organisation's.
    UnknownKey,
    /// The key was not valid at the time that counts (added later, or revoked before).
    KeyNotValidThen,
    /// The Ed25519 check failed: the statement or the signature was altered, or forged.
    BadSignature,
}

impl KeyDirectory {
    /// The server's directory (`GET /api/keys`) as it is verified against; an entry whose
    /// public key is not a usable Ed25519 key is left out.
    pub fn from_device_keys(keys: &[crate::api::DeviceKey]) -> KeyDirectory {
        KeyDirectory {
            keys: keys
                .iter()
                .filter_map(|k| {
                    Some(KeyBinding {
                        key_id: k.key_id.clone(),
                        public_key: parse_public_key(&k.public_key)?,
                        user: k.username.clone(),
                        org: k.org_id.clone(),
                        added_at: k.added_at,
                        revoked_at: k.revoked_at,
                    })
                })
                .collect(),
        }
    }

    /// The binding of `key_id` to `user` of `org`, if it was valid at `at`.
    pub fn key_for(&self, key_id: &str, user: &str, org: &str, at: i64) -> Result<&KeyBinding, SignatureFault> {
        let key = self.keys.iter().find(|k| k.key_id == key_id && k.user == user && k.org == org).ok_or(SignatureFault::UnknownKey)?;
        if at < key.added_at || key.revoked_at.is_some_and(|r| at >= r) {
            return Err(SignatureFault::KeyNotValidThen);
        }
        Ok(key)
    }
}

/// Reads a public key from hex, refusing what is not a usable Ed25519 key (wrong length, not
/// a curve point, or of small order: a "weak" key that would verify forged signatures).
pub fn parse_public_key(hex: &str) -> Option<[u8; 32]> {
    let bytes: [u8; 32] = unhex(hex)?.try_into().ok()?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes).ok()?;
    (!key.is_weak()).then_some(bytes)
}

/// A key's id: the first 16 bytes of the SHA-256 of its 32 public bytes, in hex. People
/// compare it (as the key's fingerprint) between a print-out and the directory.
pub fn key_id(public_key: &[u8; 32]) -> String {
    hex(&Sha256::digest(public_key)[..16])
}

/// The id of the proposal that freezes `heads` (sorted hex) with `content` in `doc`.
pub fn proposal_id(doc: DocumentId, heads: &[String], content: &ContentHash) -> String {
    let mut out = Vec::new();
    let mut e = minicbor::Encoder::new(&mut out);
    let _ = (|| -> Result<(), minicbor::encode::Error<core::convert::Infallible>> {
        e.array(4)?.str(PROPOSAL_TAG)?.str(&doc.to_string())?;
        strings(&mut e, heads)?;
        e.str(&content.to_hex())?;
        Ok(())
    })();
    hex(&Sha256::digest(&out)[..16])
}

/// The bytes a signatory signs for `proposal`.
pub fn statement(doc: DocumentId, proposal: &Proposal, user: &str, org: &str, key: &str, at: i64) -> Vec<u8> {
    let mut out = Vec::new();
    let mut e = minicbor::Encoder::new(&mut out);
    let _ = (|| -> Result<(), minicbor::encode::Error<core::convert::Infallible>> {
        e.array(9)?.str(SIGNATURE_TAG)?.str(&doc.to_string())?.str(&proposal.id)?;
        strings(&mut e, &proposal.heads)?;
        e.str(&proposal.content.to_hex())?.str(user)?.str(org)?.str(key)?.i64(at)?;
        Ok(())
    })();
    out
}

/// Checks `signature` over `proposal` with the directory's key for its signer, valid at
/// `at` (the server's receipt time where there is one, otherwise the signature's own time).
pub fn verify(
    doc: DocumentId,
    proposal: &Proposal,
    signature: &AgreementSignature,
    keys: &KeyDirectory,
    at: i64,
) -> Result<(), SignatureFault> {
    let key = keys.key_for(&signature.key, &signature.user, &signature.org, at)?;
    let message = statement(doc, proposal, &signature.user, &signature.org, &signature.key, signature.at);
    verify_bytes(&key.public_key, &message, &signature.signature)
}

/// Plain Ed25519: `signature` over `message` by `public_key`. Strict: no small-order keys,
/// no malleable (non-canonical) signatures.
pub fn verify_bytes(public_key: &[u8; 32], message: &[u8], signature: &[u8]) -> Result<(), SignatureFault> {
    let verifying = ed25519_dalek::VerifyingKey::from_bytes(public_key).map_err(|_| SignatureFault::UnknownKey)?;
    let bytes: [u8; 64] = signature.try_into().map_err(|_| SignatureFault::BadSignature)?;
    verifying.verify_strict(message, &ed25519_dalek::Signature::from_bytes(&bytes)).map_err(|_| SignatureFault::BadSignature)
}

fn strings<W: minicbor::encode::Write>(e: &mut minicbor::Encoder<W>, items: &[String]) -> Result<(), minicbor::encode::Error<W::Error>> {
    e.array(items.len() as u64)?;
    for s in items {
        e.str(s)?;
    }
    Ok(())
}

/// A signature's bytes from hex (as the document stores them).
pub(crate) fn signature_bytes(s: &str) -> Option<Vec<u8>> {
    unhex(s).filter(|b| b.len() == 64)
}

mod hex_bytes {
    pub fn serialize<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::hex(bytes))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s: String = serde::Deserialize::deserialize(d)?;
        super::unhex(&s).ok_or_else(|| serde::de::Error::custom("expected hex"))
    }
}

//! Agreement signatures the server accepts and keeps. It trusts nothing a device says: it
//! recomputes the proposal's content from its own copy of the document, checks the signer
//! is the signed-in user of a party organisation, verifies the signature with its own key
//! directory at the time it receives it, and keeps an append-only copy, so a signature later
//! deleted from the document still counts and one altered there shows as invalid.

use shared::DocumentId;
use shared::agreement::{self, AgreementError, KeyDirectory, SignatureFault};
use shared::api::{ReceivedSignature, SignatureRequest, User};

use crate::store::{Access, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    #[error("document not found")]
    NotFound,
    #[error("this record is not an agreement")]
    NotAnAgreement,
    #[error("a signature is made by the signed-in person for their own organisation")]
    NotYours,
    #[error("{0} is not a party to this version of the agreement")]
    NotAParty(String),
    #[error("the server does not have the proposed version yet: sync the agreement, then sign again")]
    UnknownVersion,
    #[error("the proposal does not match the version it names")]
    AlteredProposal,
    #[error("another signature has this id: make a new id and send it again")]
    IdTaken,
    #[error("the signature does not verify: {0}")]
    Invalid(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks and keeps `req`, a signature on agreement `doc` by `user`, received `now`.
pub async fn accept(
    store: &dyn Store,
    doc: DocumentId,
    user: &User,
    req: SignatureRequest,
    now: i64,
) -> Result<ReceivedSignature, SignatureError> {
    if store.doc_access(doc, &user.org_id).await? != Access::Allowed {
        return Err(SignatureError::NotFound);
    }
    let SignatureRequest { proposal, signature } = req;
    if signature.user != user.username || signature.org != user.org_id || signature.proposal != proposal.id {
        return Err(SignatureError::NotYours);
    }
    let copy = crate::store::doc_from_chunks(&store.chunks_load(doc).await?);
    let content = match agreement::content_at(&copy, &proposal.heads) {
        Ok(c) => c,
        Err(AgreementError::UnknownVersion(_)) => return Err(SignatureError::UnknownVersion),
        Err(AgreementError::NotAnAgreement) => return Err(SignatureError::NotAnAgreement),
        Err(_) => return Err(SignatureError::AlteredProposal),
    };
    if content.hash() != proposal.content || agreement::proposal_id(doc, &proposal.heads, &proposal.content) != proposal.id {
        return Err(SignatureError::AlteredProposal);
    }
    if !content.parties.contains(&user.org_id) {
        return Err(SignatureError::NotAParty(user.org_id.clone()));
    }
    let keys = KeyDirectory::from_device_keys(&store.keys().await?);
    agreement::verify(doc, &proposal, &signature, &keys, now).map_err(|f| {
        SignatureError::Invalid(match f {
            SignatureFault::UnknownKey => "the key is not registered to you",
            SignatureFault::KeyNotValidThen => "the key has been revoked",
            SignatureFault::BadSignature => "the signature or what it signs was altered",
        })
    })?;
    let received = ReceivedSignature { proposal, signature, received_at: now };
    let body = serde_json::to_string(&received).map_err(|e| StoreError::Backend(e.to_string()))?;
    if !store.signature_add(doc, &received.signature.id, &body, now).await? {
        // Sent again (a retry after a lost reply): what was kept first stands. Another
        // signature under a kept id is refused, never answered with the one kept.
        let first = kept(store, doc).await?.into_iter().find(|r| r.signature.id == received.signature.id);
        return match first {
            Some(first) if first.signature == received.signature => Ok(first),
            _ => Err(SignatureError::IdTaken),
        };
    }
    tracing::info!(%doc, user = user.id, org = %user.org_id, proposal = %received.proposal.id, "agreement signed");
    Ok(received)
}

/// The signatures the server keeps for `doc`, for a reader of it.
pub async fn list(store: &dyn Store, doc: DocumentId, user: &User) -> Result<Vec<ReceivedSignature>, SignatureError> {
    if store.doc_access(doc, &user.org_id).await? != Access::Allowed {
        return Err(SignatureError::NotFound);
    }
    kept(store, doc).await
}

async fn kept(store: &dyn Store, doc: DocumentId) -> Result<Vec<ReceivedSignature>, SignatureError> {
    Ok(store.signatures(doc).await?.into_iter().filter_map(|(body, _)| serde_json::from_str(&body).ok()).collect())
}

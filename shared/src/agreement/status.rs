//! The agreement's status, derived — never stored as a flag two devices could set
//! differently. App and server both call [`status`] on their copy of the document.

use std::collections::HashMap;

use automerge::AutoCommit;

use super::AgreementError;
use super::content::ContentHash;
use super::draft::{content, content_at, proposals, signatures};
use super::signing::{AgreementSignature, KeyDirectory, Proposal, SignatureFault, proposal_id, verify};
use crate::DocumentId;

/// Where an agreement stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Nothing proposed for the current text, and nobody signed an earlier one.
    Drafting,
    /// The current text is proposed; not every party has signed it yet.
    AwaitingSignatures,
    /// Every party has a valid signature over the current text.
    InForce,
    /// Someone signed a text that is no longer the current one, and not every party has
    /// signed the current one (yet): the signatures no longer cover what the agreement says.
    Outdated,
}

/// One party, and what it signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyState {
    pub org: String,
    /// Its valid signature over the current text, if any.
    pub current: Option<AgreementSignature>,
    /// Its latest valid signature over another text, if any.
    pub earlier: Option<AgreementSignature>,
}

/// A signature that does not count, and why: shown as such on every device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    /// No proposal with its id is known.
    NoSuchProposal,
    /// The proposal's id or content hash does not match the version it names.
    AlteredProposal,
    /// The version the proposal names has not reached this device yet (not counted for now).
    UnknownVersion,
    /// Its organisation is not a party to the text it signs.
    NotAParty,
    Signature(SignatureFault),
}

#[derive(Debug, Clone, PartialEq)]
pub struct AgreementStatus {
    pub state: State,
    /// The hash of the content now.
    pub content: ContentHash,
    /// The parties now, sorted.
    pub parties: Vec<PartyState>,
    /// A proposal of the current text, if there is one.
    pub proposal: Option<Proposal>,
    /// When outdated: the proposal of the text last signed, to show what changed since.
    pub signed_before: Option<Proposal>,
    pub invalid: Vec<(AgreementSignature, Invalid)>,
    /// Signatures in the document that verify but that the server has not accepted yet
    /// (made offline, or never sent): shown as pending, never counted. Counting them would let
    /// a device holding a revoked key sign "before" its revocation by writing an earlier time.
    pub pending: Vec<AgreementSignature>,
}

/// Derives the status of agreement `id` from `doc`, the key directory, and `received`: the
/// proposals and signatures the server accepted, with the time it received each (it keeps
/// its own copy, so a signature deleted from the document still counts). Only those count:
/// a signature counts if its key was valid for its signer when the server received it, its
/// organisation is a party to the text it signs, and that text is what the proposal it came
/// with says it is (checked against this document's history, so a peer writing a different
/// proposal under the same id changes nothing). Signatures only in the document are checked
/// the same way at their own time and listed as pending or invalid.
pub fn status(
    doc: &AutoCommit,
    id: DocumentId,
    keys: &KeyDirectory,
    received: &[(Proposal, AgreementSignature, i64)],
) -> Result<AgreementStatus, AgreementError> {
    let now = content(doc)?;
    let current = now.hash();
    let in_doc: HashMap<String, Proposal> = proposals(doc)?.into_iter().map(|p| (p.id.clone(), p)).collect();
    // The server's copies first, each with the proposal it was accepted with; then what only
    // the document has.
    let mut candidates: Vec<(AgreementSignature, Option<Proposal>, Option<i64>)> =
        received.iter().map(|(p, s, at)| (s.clone(), Some(p.clone()), Some(*at))).collect();
    for s in signatures(doc)? {
        if !received.iter().any(|(_, r, _)| *r == s) {
            let p = in_doc.get(&s.proposal).cloned();
            candidates.push((s, p, None));
        }
    }

    // Each proposal checked once: is it what it claims to be, and whom does its text bind?
    let mut checked: HashMap<ProposalKey, Result<Vec<String>, Invalid>> = HashMap::new();
    let mut check = |p: &Proposal| {
        let key = (p.id.clone(), p.heads.clone(), p.content);
        checked.entry(key).or_insert_with(|| check_proposal(doc, id, p)).clone()
    };
    let mut valid: Vec<(AgreementSignature, Proposal)> = Vec::new();
    let (mut invalid, mut pending) = (Vec::new(), Vec::new());
    for (sig, proposal, received_at) in candidates {
        let Some(proposal) = proposal.filter(|p| p.id == sig.proposal) else {
            invalid.push((sig, Invalid::NoSuchProposal));
            continue;
        };
        let verdict = check(&proposal).and_then(|parties| {
            if !parties.contains(&sig.org) {
                return Err(Invalid::NotAParty);
            }
            verify(id, &proposal, &sig, keys, received_at.unwrap_or(sig.at)).map_err(Invalid::Signature)
        });
        match (verdict, received_at) {
            (Ok(()), Some(_)) => valid.push((sig, proposal)),
            (Ok(()), None) => pending.push(sig),
            (Err(why), _) => invalid.push((sig, why)),
        }
    }
    let known: HashMap<String, Proposal> = in_doc.into_iter().chain(received.iter().map(|(p, _, _)| (p.id.clone(), p.clone()))).collect();

    let parties: Vec<PartyState> = now
        .parties
        .iter()
        .map(|org| {
            let latest = |on_current: bool| {
                valid
                    .iter()
                    .filter(|(s, p)| s.org == *org && (p.content == current) == on_current)
                    .max_by_key(|(s, _)| (s.at, s.id.clone()))
                    .map(|(s, _)| s.clone())
            };
            PartyState { org: org.clone(), current: latest(true), earlier: latest(false) }
        })
        .collect();
    let mut of_current: Vec<&Proposal> = known.values().filter(|p| p.content == current && check(p).is_ok()).collect();
    of_current.sort_by_key(|p| (p.at, p.id.clone()));
    let proposal = of_current.last().map(|p| (*p).clone());
    let signed_before =
        valid.iter().filter(|(_, p)| p.content != current).max_by_key(|(s, _)| (s.at, s.id.clone())).map(|(_, p)| p.clone());

    let state = if parties.len() >= 2 && parties.iter().all(|p| p.current.is_some()) {
        State::InForce
    } else if signed_before.is_some() {
        State::Outdated
    } else if proposal.is_some() {
        State::AwaitingSignatures
    } else {
        State::Drafting
    };
    let signed_before = if state == State::Outdated { signed_before } else { None };
    Ok(AgreementStatus { state, content: current, parties, proposal, signed_before, invalid, pending })
}

/// A proposal as checked: its id, heads and content hash.
type ProposalKey = (String, Vec<String>, ContentHash);

/// Whether `proposal` is what it claims (its id and content hash match the version it names);
/// if so, the parties of its text.
fn check_proposal(doc: &AutoCommit, id: DocumentId, proposal: &Proposal) -> Result<Vec<String>, Invalid> {
    let content = match content_at(doc, &proposal.heads) {
        Ok(c) => c,
        Err(AgreementError::UnknownVersion(_)) => return Err(Invalid::UnknownVersion),
        Err(_) => return Err(Invalid::AlteredProposal),
    };
    if content.hash() != proposal.content || proposal_id(id, &proposal.heads, &proposal.content) != proposal.id {
        return Err(Invalid::AlteredProposal);
    }
    Ok(content.parties)
}

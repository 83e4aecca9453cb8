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
}

/// Derives the status of agreement `id` from `doc`, the key directory, and `received`: the
/// proposals and signatures the server accepted, with the time it received each (it keeps
/// its own copy, so a signature deleted from the document still counts). A signature counts
/// if its key was valid for its signer at the time the server received it (or, for one the
/// server has not seen yet, at its own time), its organisation is a party to the text it
/// signs, and that text is what its proposal says it is.
pub fn status(
    doc: &AutoCommit,
    id: DocumentId,
    keys: &KeyDirectory,
    received: &[(Proposal, AgreementSignature, i64)],
) -> Result<AgreementStatus, AgreementError> {
    let now = content(doc)?;
    let current = now.hash();
    let mut known: HashMap<String, Proposal> = proposals(doc)?.into_iter().map(|p| (p.id.clone(), p)).collect();
    let mut candidates: Vec<(AgreementSignature, Option<i64>)> = signatures(doc)?.into_iter().map(|s| (s, None)).collect();
    for (p, s, at) in received {
        known.entry(p.id.clone()).or_insert_with(|| p.clone());
        match candidates.iter_mut().find(|(c, _)| c == s) {
            Some(c) => c.1 = Some(*at),
            None => candidates.push((s.clone(), Some(*at))),
        }
    }

    // Each proposal checked once: is it what it claims to be, and whom does its text bind?
    let mut checked: HashMap<String, Result<Vec<String>, Invalid>> = HashMap::new();
    let mut valid: Vec<(AgreementSignature, Proposal)> = Vec::new();
    let mut invalid = Vec::new();
    for (sig, received_at) in candidates {
        let Some(proposal) = known.get(&sig.proposal) else {
            invalid.push((sig, Invalid::NoSuchProposal));
            continue;
        };
        let parties = checked.entry(proposal.id.clone()).or_insert_with(|| check_proposal(doc, id, proposal)).clone();
        let verdict = parties.and_then(|parties| {
            if !parties.contains(&sig.org) {
                return Err(Invalid::NotAParty);
            }
            verify(id, proposal, &sig, keys, received_at.unwrap_or(sig.at)).map_err(Invalid::Signature)
        });
        match verdict {
            Ok(()) => valid.push((sig, proposal.clone())),
            Err(why) => invalid.push((sig, why)),
        }
    }

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
    let mut of_current: Vec<&Proposal> = known.values().filter(|p| p.content == current).collect();
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
    Ok(AgreementStatus { state, content: current, parties, proposal, signed_before, invalid })
}

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

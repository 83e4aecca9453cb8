//! Agreements: drafting merges, the canonical content, signatures and the derived status.

use automerge::AutoCommit;
use ed25519_dalek::{Signer, SigningKey};
use proptest::prelude::*;
use shared::DocumentId;
use shared::agreement::{
    self, AgreementSignature, Invalid, KeyBinding, KeyDirectory, Proposal, SignatureFault, State, TextField, between, key_id, proposal_id,
    sort_key, statement, verify_bytes,
};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

#[test]
fn rfc_8032_test_vectors_verify_and_sign_alike() {
    // RFC 8032 §7.1, TEST 1–3: secret key, public key, message, signature.
    let vectors = [
        (
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            "",
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        ),
        (
            "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            "72",
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
        ),
        (
            "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
            "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
            "af82",
            "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
        ),
    ];
    for (secret, public, message, signature) in vectors {
        let public: [u8; 32] = hex(public).try_into().unwrap();
        let (message, signature) = (hex(message), hex(signature));
        assert_eq!(verify_bytes(&public, &message, &signature), Ok(()));
        let key = SigningKey::from_bytes(&hex(secret).try_into().unwrap());
        assert_eq!(key.verifying_key().to_bytes(), public);
        assert_eq!(key.sign(&message).to_bytes().to_vec(), signature);
        let mut tampered = message.clone();
        tampered.push(0);
        assert_eq!(verify_bytes(&public, &tampered, &signature), Err(SignatureFault::BadSignature));
        let mut bad = signature.clone();
        bad[10] ^= 1;
        assert_eq!(verify_bytes(&public, &message, &bad), Err(SignatureFault::BadSignature));
    }
}

// ----- a world of two parties -----

const DOC: [u8; 16] = [7; 16];

fn doc_id() -> DocumentId {
    DocumentId::from_random_bytes(DOC)
}

struct Signer_ {
    key: SigningKey,
    user: &'static str,
    org: &'static str,
}

fn signer(seed: u8, user: &'static str, org: &'static str) -> Signer_ {
    Signer_ { key: SigningKey::from_bytes(&[seed; 32]), user, org }
}

impl Signer_ {
    fn binding(&self, added_at: i64, revoked_at: Option<i64>) -> KeyBinding {
        let public_key = self.key.verifying_key().to_bytes();
        KeyBinding { key_id: key_id(&public_key), public_key, user: self.user.into(), org: self.org.into(), added_at, revoked_at }
    }

    /// Signs `proposal` as `org` (normally its own).
    fn sign_as(&self, proposal: &Proposal, org: &str, at: i64) -> AgreementSignature {
        let key = key_id(&self.key.verifying_key().to_bytes());
        let bytes = statement(doc_id(), proposal, self.user, org, &key, at);
        AgreementSignature {
            id: format!("{}-{}-{at}", self.user, &proposal.id[..6]),
            proposal: proposal.id.clone(),
            user: self.user.into(),
            org: org.into(),
            key,
            at,
            signature: self.key.sign(&bytes).to_bytes().to_vec(),
        }
    }

    fn sign(&self, proposal: &Proposal, at: i64) -> AgreementSignature {
        self.sign_as(proposal, self.org, at)
    }
}

/// Li of the federation and Wang of the court.
fn parties() -> (Signer_, Signer_) {
    (signer(1, "li", "fed"), signer(2, "wang", "court"))
}

/// The same two, with keys valid from the start and never revoked.
fn two_parties() -> (Signer_, Signer_, KeyDirectory) {
    let (li, wang) = parties();
    let keys = KeyDirectory { keys: vec![li.binding(0, None), wang.binding(0, None)] };
    (li, wang, keys)
}

fn draft() -> AutoCommit {
    let mut doc = AutoCommit::new();
    agreement::init(&mut doc, "妇联与法院关于家事审判协作的工作机制", &["fed", "court"]).unwrap();
    agreement::set_text(&mut doc, TextField::Preamble, "为加强协作，制定本机制。").unwrap();
    agreement::add_clause(&mut doc, "c1", None, "联络", "双方各确定一名联络员。").unwrap();
    agreement::add_clause(&mut doc, "c2", Some("c1"), "移送", "妇联发现线索，及时移送。").unwrap();
    agreement::add_clause(&mut doc, "c3", Some("c2"), "反馈", "法院受理后反馈结果。").unwrap();
    doc.commit();
    doc
}

fn propose(doc: &mut AutoCommit, by: &Signer_, at: i64) -> Proposal {
    let heads = shared::record::sorted_heads(&doc.get_heads());
    let content = agreement::content(doc).unwrap().hash();
    let p = Proposal { id: proposal_id(doc_id(), &heads, &content), heads, content, by_user: by.user.into(), by_org: by.org.into(), at };
    agreement::write_proposal(doc, &p).unwrap();
    doc.commit();
    p
}

fn put(doc: &mut AutoCommit, s: &AgreementSignature) {
    agreement::write_signature(doc, s).unwrap();
    doc.commit();
}

/// As the server would have it had it accepted every signature in `doc` when it was made.
fn accepted(doc: &AutoCommit) -> Vec<(Proposal, AgreementSignature, i64)> {
    let proposals = agreement::proposals(doc).unwrap();
    agreement::signatures(doc)
        .unwrap()
        .into_iter()
        .filter_map(|s| Some((proposals.iter().find(|p| p.id == s.proposal)?.clone(), s.clone(), s.at)))
        .collect()
}

/// The status once the server has every signature of `doc`.
fn status_of(doc: &AutoCommit, keys: &KeyDirectory) -> agreement::AgreementStatus {
    agreement::status(doc, doc_id(), keys, &accepted(doc)).unwrap()
}

#[test]
fn an_agreement_is_in_force_when_every_party_signed_the_text_and_outdated_after_an_edit() {
    let (li, wang, keys) = two_parties();
    let mut doc = draft();
    assert_eq!(status_of(&doc, &keys).state, State::Drafting);

    let p1 = propose(&mut doc, &li, 10);
    assert_eq!(status_of(&doc, &keys).state, State::AwaitingSignatures);
    put(&mut doc, &li.sign(&p1, 11));
    let s = status_of(&doc, &keys);
    assert_eq!(s.state, State::AwaitingSignatures);
    assert!(s.parties.iter().find(|p| p.org == "fed").unwrap().current.is_some());
    assert!(s.parties.iter().find(|p| p.org == "court").unwrap().current.is_none());
    put(&mut doc, &wang.sign(&p1, 12));
    let s = status_of(&doc, &keys);
    assert_eq!(s.state, State::InForce, "{s:?}");
    assert!(s.invalid.is_empty());

    // Writing the signatures moved the heads but not the text: still in force. An edit is not.
    agreement::edit_clause(&mut doc, "c3", None, Some("法院受理后十五日内反馈结果。")).unwrap();
    doc.commit();
    let s = status_of(&doc, &keys);
    assert_eq!(s.state, State::Outdated);
    assert_eq!(s.signed_before.as_ref().map(|p| &p.id), Some(&p1.id), "what was signed, to show the difference");
    let before = agreement::content_at(&doc, &p1.heads).unwrap();
    assert_eq!(before.clauses[2].body, "法院受理后反馈结果。");

    // A new proposal, both sign again: in force again.
    let p2 = propose(&mut doc, &wang, 20);
    assert_eq!(status_of(&doc, &keys).state, State::Outdated, "until every party signs again");
    put(&mut doc, &wang.sign(&p2, 21));
    put(&mut doc, &li.sign(&p2, 22));
    assert_eq!(status_of(&doc, &keys).state, State::InForce);
}

#[test]
fn signatures_over_different_texts_do_not_make_it_in_force() {
    let (li, wang, keys) = two_parties();
    let mut doc = draft();
    let p1 = propose(&mut doc, &li, 10);
    put(&mut doc, &li.sign(&p1, 11));
    agreement::set_text(&mut doc, TextField::Term, "三年").unwrap();
    doc.commit();
    let p2 = propose(&mut doc, &wang, 12);
    put(&mut doc, &wang.sign(&p2, 13));
    let s = status_of(&doc, &keys);
    assert_eq!(s.state, State::Outdated, "{s:?}");
    assert_ne!(p1.content, p2.content);
}

#[test]
fn forged_altered_revoked_and_misattributed_signatures_do_not_count_and_are_shown_as_invalid() {
    let (li, wang) = parties();
    let zhao = signer(3, "zhao", "police");
    let revoked = signer(4, "wang", "court");
    let keys = KeyDirectory { keys: vec![li.binding(0, None), wang.binding(0, None), zhao.binding(0, None), revoked.binding(0, Some(5))] };
    let mut doc = draft();
    let p = propose(&mut doc, &li, 10);
    let mut doc2 = doc.fork();

    let mut altered = wang.sign(&p, 12);
    altered.at = 13; // the statement no longer matches the signature
    let mut flipped = wang.sign(&p, 14);
    flipped.signature[0] ^= 0x80;
    flipped.id = "flipped".into();
    let for_other = li.sign_as(&p, "court", 15); // li (federation) signing for the court
    let non_party = zhao.sign(&p, 16);
    let mut late = revoked.sign(&p, 17);
    late.id = "late".into();
    let mut wrong_content = p.clone();
    wrong_content.content = agreement::ContentHash([0; 32]);
    let mut wrong_heads = p.clone();
    wrong_heads.heads = vec!["00".repeat(32)];
    for s in [&altered, &flipped, &for_other, &non_party, &late] {
        put(&mut doc, s);
    }
    let s = status_of(&doc, &keys);
    assert_eq!(s.state, State::AwaitingSignatures, "only forged and misattributed court signatures: not in force");
    let why = |id: &str| s.invalid.iter().find(|(sig, _)| sig.id == id).map(|(_, w)| w.clone());
    assert_eq!(why(&altered.id), Some(Invalid::Signature(SignatureFault::BadSignature)));
    assert_eq!(why("flipped"), Some(Invalid::Signature(SignatureFault::BadSignature)));
    assert_eq!(why(&for_other.id), Some(Invalid::Signature(SignatureFault::UnknownKey)), "a key speaks for its own organisation only");
    assert_eq!(why(&non_party.id), Some(Invalid::NotAParty));
    assert_eq!(why("late"), Some(Invalid::Signature(SignatureFault::KeyNotValidThen)));

    // Proposals altered after the fact: another content hash, or heads that are not the ones hashed.
    for bad in [&wrong_content, &wrong_heads] {
        let mut bad = bad.clone();
        bad.id = proposal_id(doc_id(), &bad.heads, &bad.content);
        agreement::write_proposal(&mut doc2, &bad).unwrap();
        put(&mut doc2, &li.sign(&bad, 20));
    }
    let s = status_of(&doc2, &keys);
    let reasons: Vec<_> = s.invalid.iter().map(|(_, w)| w.clone()).collect();
    assert!(reasons.contains(&Invalid::AlteredProposal), "{reasons:?}");
    assert!(reasons.contains(&Invalid::UnknownVersion), "{reasons:?}");
    assert!(s.parties.iter().all(|p| p.current.is_none()));
}

#[test]
fn a_signature_deleted_from_the_document_still_counts_from_the_servers_copy() {
    let (li, wang) = parties();
    let keys = KeyDirectory { keys: vec![li.binding(0, None), wang.binding(0, Some(1_000))] };
    let mut doc = draft();
    let p = propose(&mut doc, &li, 10);
    let (a, b) = (li.sign(&p, 11), wang.sign(&p, 12));
    put(&mut doc, &a);
    // The court's signature reached the server (received at 500, while its key was valid),
    // but a misbehaving device deleted it from the document.
    let received = vec![(p.clone(), a.clone(), 11), (p.clone(), b.clone(), 500)];
    assert_eq!(agreement::status(&doc, doc_id(), &keys, &received).unwrap().state, State::InForce);
    assert_eq!(agreement::status(&doc, doc_id(), &keys, &[]).unwrap().state, State::AwaitingSignatures);
    // The server's receipt time is what counts: received after the key was revoked, it does not.
    let late = vec![(p.clone(), a, 11), (p, b, 2_000)];
    let s = agreement::status(&doc, doc_id(), &keys, &late).unwrap();
    assert_eq!(s.state, State::AwaitingSignatures);
    assert_eq!(s.invalid.len(), 1);
}

#[test]
fn a_signature_only_in_the_document_does_not_count_even_dated_before_its_keys_revocation() {
    let (li, wang) = parties();
    // The court's key was revoked at 100 (a stolen phone); the thief signs "at 50".
    let keys = KeyDirectory { keys: vec![li.binding(0, None), wang.binding(0, Some(100))] };
    let mut doc = draft();
    let p = propose(&mut doc, &li, 10);
    let fed_sig = li.sign(&p, 11);
    put(&mut doc, &fed_sig);
    let backdated = wang.sign(&p, 50);
    put(&mut doc, &backdated);
    let received = vec![(p.clone(), fed_sig, 11)];
    let s = agreement::status(&doc, doc_id(), &keys, &received).unwrap();
    assert_eq!(s.state, State::AwaitingSignatures);
    assert_eq!(s.pending, vec![backdated], "verifies at its own time, but the server never took it");
}

#[test]
fn a_proposal_rewritten_in_the_document_does_not_void_what_the_server_accepted() {
    let (li, wang, keys) = two_parties();
    let mut doc = draft();
    let p = propose(&mut doc, &li, 10);
    let (a, b) = (li.sign(&p, 11), wang.sign(&p, 12));
    put(&mut doc, &a);
    put(&mut doc, &b);
    let received = accepted(&doc);
    assert_eq!(agreement::status(&doc, doc_id(), &keys, &received).unwrap().state, State::InForce);
    // A hostile peer writes other heads under the proposal's id.
    let mut forged = p.clone();
    forged.heads = vec!["00".repeat(32)];
    agreement::write_proposal(&mut doc, &forged).unwrap();
    doc.commit();
    let s = agreement::status(&doc, doc_id(), &keys, &received).unwrap();
    assert_eq!(s.state, State::InForce, "{s:?}");
}

#[test]
fn an_edit_made_offline_while_the_other_party_signs_offline_outdates_the_signature_on_both_sides() {
    let (li, wang, keys) = two_parties();
    let mut a = draft();
    let p = propose(&mut a, &li, 10);
    put(&mut a, &li.sign(&p, 11));
    let mut b = a.fork();
    // Offline: A edits clause 3, B signs what it has.
    agreement::edit_clause(&mut a, "c3", None, Some("法院受理后七日内反馈结果。")).unwrap();
    a.commit();
    let b_sig = wang.sign(&p, 12);
    put(&mut b, &b_sig);
    let offline = agreement::status(&b, doc_id(), &keys, &[(p.clone(), li.sign(&p, 11), 11)]).unwrap();
    assert_eq!(offline.state, State::AwaitingSignatures, "B, offline: its own signature is pending until the server has it");
    assert_eq!(offline.pending, vec![b_sig]);
    a.merge(&mut b).unwrap();
    b.merge(&mut a).unwrap();
    for doc in [&a, &b] {
        let s = status_of(doc, &keys);
        assert_eq!(s.state, State::Outdated);
        let signed = agreement::content_at(doc, &s.signed_before.unwrap().heads).unwrap();
        let now = agreement::content(doc).unwrap();
        assert_eq!(signed.clauses[2].body, "法院受理后反馈结果。");
        assert_eq!(now.clauses[2].body, "法院受理后七日内反馈结果。", "the difference shows A's edit");
    }
}

#[test]
fn the_canonical_content_ignores_history_ids_and_unicode_spelling() {
    let mut a = AutoCommit::new();
    agreement::init(&mut a, "Caf\u{e9}", &["court", "fed"]).unwrap();
    agreement::add_clause(&mut a, "x", None, "One", "First.").unwrap();
    let mut b = AutoCommit::new();
    agreement::init(&mut b, "Cafe\u{301}", &["fed"]).unwrap();
    agreement::add_party(&mut b, "court").unwrap();
    agreement::add_clause(&mut b, "y", None, "On", "First").unwrap();
    agreement::edit_clause(&mut b, "y", Some("One"), Some("First.")).unwrap();
    let (ca, cb) = (agreement::content(&a).unwrap(), agreement::content(&b).unwrap());
    assert_eq!(ca.hash(), cb.hash(), "same text, different history, ids and normalisation");
    assert_ne!(a.get_heads(), b.get_heads());
    agreement::set_text(&mut b, TextField::EffectiveDate, "2026-12-01").unwrap();
    assert_ne!(agreement::content(&b).unwrap().hash(), ca.hash());
    assert!(ca.canonical_bytes().windows(agreement::CONTENT_TAG.len()).any(|w| w == agreement::CONTENT_TAG.as_bytes()));
}

// ----- concurrent drafting -----

#[derive(Debug, Clone)]
enum Op {
    Add { after: usize, text: u8 },
    Edit { clause: usize, text: u8 },
    Move { clause: usize, after: usize },
    Remove { clause: usize },
    Sync { with: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (any::<usize>(), any::<u8>()).prop_map(|(after, text)| Op::Add { after, text }),
        3 => (any::<usize>(), any::<u8>()).prop_map(|(clause, text)| Op::Edit { clause, text }),
        2 => (any::<usize>(), any::<usize>()).prop_map(|(clause, after)| Op::Move { clause, after }),
        1 => any::<usize>().prop_map(|clause| Op::Remove { clause }),
        1 => any::<usize>().prop_map(|with| Op::Sync { with }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Three parties adding, editing, moving and removing clauses offline in any order, syncing
    /// now and then: after everyone syncs, all show the same clauses in the same order, and
    /// every clause added and not removed is there exactly once.
    #[test]
    fn parties_drafting_offline_merge_with_nothing_lost(schedule in prop::collection::vec((0usize..3, op()), 1..40)) {
        let mut peers: Vec<AutoCommit> = Vec::new();
        let mut base = draft();
        for i in 0..3 {
            let mut p = base.fork();
            p.set_actor(automerge::ActorId::from([i as u8 + 1; 16]));
            peers.push(p);
        }
        let mut removed = std::collections::HashSet::new();
        let mut added = Vec::new();
        let mut n = 0;
        for (who, op) in schedule {
            let ids: Vec<String> = agreement::clauses(&peers[who]).unwrap().into_iter().map(|c| c.id).collect();
            let pick = |i: usize| (!ids.is_empty()).then(|| ids[i % ids.len()].clone());
            match op {
                Op::Add { after, text } => {
                    n += 1;
                    let id = format!("p{who}-{n}");
                    agreement::add_clause(&mut peers[who], &id, pick(after).as_deref(), "条", &format!("内容 {text}")).unwrap();
                    added.push(id);
                }
                Op::Edit { clause, text } => if let Some(id) = pick(clause) {
                    agreement::edit_clause(&mut peers[who], &id, None, Some(&format!("改 {text} by {who}"))).unwrap();
                },
                Op::Move { clause, after } => if let (Some(id), after) = (pick(clause), pick(after)) {
                    let after = after.filter(|a| *a != id);
                    agreement::move_clause(&mut peers[who], &id, after.as_deref()).unwrap();
                },
                Op::Remove { clause } => if let Some(id) = pick(clause) {
                    agreement::remove_clause(&mut peers[who], &id).unwrap();
                    removed.insert(id);
                },
                Op::Sync { with } => {
                    let other = with % 3;
                    if other != who {
                        let (a, b) = if who < other { let (l, r) = peers.split_at_mut(other); (&mut l[who], &mut r[0]) } else { let (l, r) = peers.split_at_mut(who); (&mut r[0], &mut l[other]) };
                        a.merge(b).unwrap();
                        b.merge(a).unwrap();
                    }
                }
            }
            peers[who].commit();
        }
        let (first, rest) = peers.split_at_mut(1);
        for p in rest.iter_mut() {
            first[0].merge(p).unwrap();
        }
        for p in rest.iter_mut() {
            p.merge(&mut first[0]).unwrap();
        }
        let contents: Vec<_> = peers.iter().map(|p| agreement::content(p).unwrap()).collect();
        prop_assert!(contents.iter().all(|c| *c == contents[0]), "every party sees the same agreement");
        let ids: Vec<&str> = contents[0].clauses.iter().map(|c| c.id.as_str()).collect();
        let unique: std::collections::HashSet<_> = ids.iter().collect();
        prop_assert_eq!(unique.len(), ids.len(), "no clause twice");
        added.extend(["c1", "c2", "c3"].map(String::from));
        for id in &added {
            if !removed.contains(id) {
                prop_assert!(ids.contains(&id.as_str()), "clause {} lost", id);
            }
        }
    }

    #[test]
    fn a_position_between_two_sorts_between_them(a in "[0-9a-z]{0,6}", b in "[0-9a-z]{0,6}") {
        let lo = between(None, Some(&a));
        let first = sort_key(&a);
        let (a, b) = if a <= b { (a, b) } else { (b, a) };
        let m = between(Some(&a), Some(&b));
        let trim = |s: &str| s.trim_end_matches('0').to_owned();
        let (ta, tb) = (trim(&a), trim(&b));
        prop_assert!(m > ta, "{} !> {}", m, ta);
        if ta < tb {
            prop_assert!(m < tb, "{} !< {}", m, tb);
        }
        prop_assert!(!m.ends_with('0'));
        if !first.is_empty() {
            prop_assert!(sort_key(&lo) < first, "{} !< {:?}", lo, first);
        }
    }

    /// Positions from a hostile peer (any characters, any length) still give one that sorts
    /// after the first and, where the second sorts after it, before the second.
    #[test]
    fn positions_from_anywhere_still_order(a in ".{0,80}", b in ".{0,80}", zs in 0usize..5000) {
        let long = "z".repeat(zs);
        for (a, b) in [(a.as_str(), b.as_str()), (long.as_str(), b.as_str())] {
            let m = between(Some(a), Some(b));
            prop_assert!(sort_key(&m) > sort_key(a));
            if sort_key(a) < sort_key(b) && !sort_key(b).is_empty() {
                prop_assert!(sort_key(&m) < sort_key(b));
            }
        }
    }
}

/// The history lists runs of changes per actor, and any version's text can be read back for
/// a comparison with now.
#[test]
fn history_groups_changes_by_author_and_reads_each_version_back() {
    use automerge::transaction::CommitOptions;
    let mut li = AutoCommit::new().with_actor(automerge::ActorId::from(b"li".as_slice()));
    agreement::init(&mut li, "协议", &["fed"]).unwrap();
    li.commit_with(CommitOptions::default().with_time(100));
    agreement::add_clause(&mut li, "c1", None, "联络", "各确定一名联络员。").unwrap();
    li.commit_with(CommitOptions::default().with_time(101));
    let mut wang = li.fork().with_actor(automerge::ActorId::from(b"wang".as_slice()));
    agreement::edit_clause(&mut wang, "c1", None, Some("各确定一名联络员，负责日常联络。")).unwrap();
    wang.commit_with(CommitOptions::default().with_time(500));
    li.merge(&mut wang).unwrap();

    let versions = agreement::history(&mut li, 60_000);
    let by: Vec<(String, usize)> = versions.iter().map(|v| (v.actor.clone(), v.changes)).collect();
    assert_eq!(
        by,
        vec![
            (automerge::ActorId::from(b"li".as_slice()).to_hex_string(), 2),
            (automerge::ActorId::from(b"wang".as_slice()).to_hex_string(), 1)
        ]
    );
    assert_eq!((versions[0].from, versions[0].to, versions[1].from), (100_000, 101_000, 500_000));
    let before = agreement::content_at(&li, &versions[0].heads).unwrap();
    assert_eq!(before.clauses[0].body, "各确定一名联络员。");
    assert_eq!(agreement::content(&li).unwrap().clauses[0].body, "各确定一名联络员，负责日常联络。");
}

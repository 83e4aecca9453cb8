//! Reading and editing an agreement in its Automerge document (layout in the module docs).
//! Every write is as small as the edit: text by splices, one clause or party at a time, so
//! concurrent drafting merges.

use std::str::FromStr;

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ChangeHash, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, Value};

use super::AgreementError;
use super::content::{Clause, Content, ContentHash};
use super::order::{between, sort_key};
use super::signing::{AgreementSignature, Proposal, signature_bytes};

/// The agreement's own fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextField {
    /// Text, edited with splices.
    Title,
    /// Text, edited with splices.
    Preamble,
    /// A string (`YYYY-MM-DD`), last writer wins.
    EffectiveDate,
    /// A string ("三年", "until revoked"), last writer wins.
    Term,
}

impl TextField {
    fn key(self) -> &'static str {
        match self {
            TextField::Title => "title",
            TextField::Preamble => "preamble",
            TextField::EffectiveDate => "effective_date",
            TextField::Term => "term",
        }
    }

    fn is_text(self) -> bool {
        matches!(self, TextField::Title | TextField::Preamble)
    }
}

/// Makes `doc` an agreement between `parties`, titled `title`.
pub fn init(doc: &mut AutoCommit, title: &str, parties: &[&str]) -> Result<(), AgreementError> {
    let a = doc.put_object(ROOT, "agreement", ObjType::Map)?;
    for key in ["title", "preamble"] {
        doc.put_object(&a, key, ObjType::Text)?;
    }
    for key in ["parties", "clauses", "proposals", "signatures"] {
        doc.put_object(&a, key, ObjType::Map)?;
    }
    set_text(doc, TextField::Title, title)?;
    for p in parties {
        add_party(doc, p)?;
    }
    Ok(())
}

/// Sets one of the agreement's own fields.
pub fn set_text(doc: &mut AutoCommit, field: TextField, value: &str) -> Result<(), AgreementError> {
    let a = root(doc, None)?;
    if field.is_text() {
        let text = match doc.get(&a, field.key())? {
            Some((Value::Object(ObjType::Text), id)) => id,
            _ => doc.put_object(&a, field.key(), ObjType::Text)?,
        };
        doc.update_text(&text, value)?;
    } else {
        doc.put(&a, field.key(), value)?;
    }
    Ok(())
}

pub fn add_party(doc: &mut AutoCommit, org: &str) -> Result<(), AgreementError> {
    let parties = child(doc, "parties")?;
    doc.put(&parties, org, true)?;
    Ok(())
}

pub fn remove_party(doc: &mut AutoCommit, org: &str) -> Result<(), AgreementError> {
    let parties = child(doc, "parties")?;
    doc.delete(&parties, org)?;
    Ok(())
}

/// Adds clause `id` right after clause `after` (or first, with `None`).
pub fn add_clause(doc: &mut AutoCommit, id: &str, after: Option<&str>, heading: &str, body: &str) -> Result<(), AgreementError> {
    let clauses = child(doc, "clauses")?;
    if doc.get(&clauses, id)?.is_some() {
        return Err(AgreementError::DuplicateClause(id.into()));
    }
    let position = position_after(doc, after, None)?;
    let clause = doc.put_object(&clauses, id, ObjType::Map)?;
    doc.put(&clause, "position", position)?;
    let h = doc.put_object(&clause, "heading", ObjType::Text)?;
    doc.update_text(&h, heading)?;
    let b = doc.put_object(&clause, "body", ObjType::Text)?;
    doc.update_text(&b, body)?;
    Ok(())
}

/// Rewrites a clause's heading and/or body (by splices: only what differs changes).
pub fn edit_clause(doc: &mut AutoCommit, id: &str, heading: Option<&str>, body: Option<&str>) -> Result<(), AgreementError> {
    let clause = clause_obj(doc, id)?;
    for (key, value) in [("heading", heading), ("body", body)] {
        let Some(value) = value else { continue };
        let text = match doc.get(&clause, key)? {
            Some((Value::Object(ObjType::Text), t)) => t,
            _ => doc.put_object(&clause, key, ObjType::Text)?,
        };
        doc.update_text(&text, value)?;
    }
    Ok(())
}

/// Moves clause `id` right after clause `after` (or first, with `None`): one position write,
/// so concurrent moves settle on one place and never duplicate the clause.
pub fn move_clause(doc: &mut AutoCommit, id: &str, after: Option<&str>) -> Result<(), AgreementError> {
    let clause = clause_obj(doc, id)?;
    let position = position_after(doc, after, Some(id))?;
    doc.put(&clause, "position", position)?;
    Ok(())
}

pub fn remove_clause(doc: &mut AutoCommit, id: &str) -> Result<(), AgreementError> {
    let clauses = child(doc, "clauses")?;
    clause_obj(doc, id)?;
    doc.delete(&clauses, id)?;
    Ok(())
}

/// The agreement's title as it stands, read alone (list views need nothing else, and this
/// keeps the canonical rendering's Unicode tables out of the app's first download).
pub fn title(doc: &AutoCommit) -> Option<String> {
    let (_, a) = doc.get(ROOT, "agreement").ok()??;
    match doc.get(&a, "title").ok()?? {
        (Value::Object(ObjType::Text), t) => doc.text(&t).ok(),
        _ => None,
    }
}

/// The clauses in order.
pub fn clauses(doc: &AutoCommit) -> Result<Vec<Clause>, AgreementError> {
    Ok(read(doc, None)?.clauses)
}

/// What the agreement says now.
pub fn content(doc: &AutoCommit) -> Result<Content, AgreementError> {
    read(doc, None)
}

/// What the agreement said at `heads` (sorted hex, as a proposal names them).
pub fn content_at(doc: &AutoCommit, heads: &[String]) -> Result<Content, AgreementError> {
    let mut hashes = Vec::with_capacity(heads.len());
    for h in heads {
        hashes.push(ChangeHash::from_str(h).map_err(|_| AgreementError::Malformed("head"))?);
    }
    if let Some(missing) = doc.get_missing_deps(&hashes).first() {
        return Err(AgreementError::UnknownVersion(missing.to_string()));
    }
    read(doc, Some(&hashes))
}

/// Every well-formed proposal in the document (malformed ones, from a buggy or hostile peer,
/// are left out: nothing can be signed over them).
pub fn proposals(doc: &AutoCommit) -> Result<Vec<Proposal>, AgreementError> {
    let map = child_read(doc, "proposals")?;
    let mut out = Vec::new();
    for id in doc.keys(&map) {
        let Some(p) = obj(doc, &map, &id, None) else { continue };
        let heads = match doc.get(&p, "heads").ok().flatten() {
            Some((Value::Object(ObjType::List), list)) => (0..doc.length(&list))
                .filter_map(|i| match doc.get(&list, i).ok().flatten() {
                    Some((Value::Scalar(s), _)) => s.as_str().map(str::to_owned),
                    _ => None,
                })
                .collect(),
            _ => continue,
        };
        let Some(content) = str_at(doc, &p, "content", None).and_then(|c| ContentHash::from_hex(&c)) else { continue };
        out.push(Proposal {
            id: id.clone(),
            heads,
            content,
            by_user: str_at(doc, &p, "by_user", None).unwrap_or_default(),
            by_org: str_at(doc, &p, "by_org", None).unwrap_or_default(),
            at: int_at(doc, &p, "at").unwrap_or(0),
        });
    }
    Ok(out)
}

/// Every well-formed signature in the document.
pub fn signatures(doc: &AutoCommit) -> Result<Vec<AgreementSignature>, AgreementError> {
    let map = child_read(doc, "signatures")?;
    let mut out = Vec::new();
    for id in doc.keys(&map) {
        let Some(s) = obj(doc, &map, &id, None) else { continue };
        let field = |k: &str| str_at(doc, &s, k, None);
        let (Some(proposal), Some(user), Some(org), Some(key), Some(at), Some(signature)) = (
            field("proposal"),
            field("user"),
            field("org"),
            field("key"),
            int_at(doc, &s, "at"),
            field("signature").and_then(|h| signature_bytes(&h)),
        ) else {
            continue;
        };
        out.push(AgreementSignature { id: id.clone(), proposal, user, org, key, at, signature });
    }
    Ok(out)
}

/// Proposes the version `doc` holds now for signature (writing the proposal into it) and
/// returns it. Proposing a version already proposed writes it again, unchanged in substance.
pub fn propose(doc: &mut AutoCommit, id: crate::DocumentId, by_user: &str, by_org: &str, at: i64) -> Result<Proposal, AgreementError> {
    let heads = crate::record::sorted_heads(&doc.get_heads());
    let content = content(doc)?.hash();
    let proposal = Proposal {
        id: super::signing::proposal_id(id, &heads, &content),
        heads,
        content,
        by_user: by_user.to_owned(),
        by_org: by_org.to_owned(),
        at,
    };
    write_proposal(doc, &proposal)?;
    Ok(proposal)
}

pub fn write_proposal(doc: &mut AutoCommit, p: &Proposal) -> Result<(), AgreementError> {
    let map = child(doc, "proposals")?;
    let obj = doc.put_object(&map, &p.id, ObjType::Map)?;
    let heads = doc.put_object(&obj, "heads", ObjType::List)?;
    for (i, h) in p.heads.iter().enumerate() {
        doc.insert(&heads, i, h.as_str())?;
    }
    doc.put(&obj, "content", p.content.to_hex())?;
    doc.put(&obj, "by_user", p.by_user.as_str())?;
    doc.put(&obj, "by_org", p.by_org.as_str())?;
    doc.put(&obj, "at", ScalarValue::Timestamp(p.at))?;
    Ok(())
}

pub fn write_signature(doc: &mut AutoCommit, s: &AgreementSignature) -> Result<(), AgreementError> {
    let map = child(doc, "signatures")?;
    let obj = doc.put_object(&map, &s.id, ObjType::Map)?;
    for (k, v) in [("proposal", &s.proposal), ("user", &s.user), ("org", &s.org), ("key", &s.key)] {
        doc.put(&obj, k, v.as_str())?;
    }
    doc.put(&obj, "at", ScalarValue::Timestamp(s.at))?;
    doc.put(&obj, "signature", super::content::hex(&s.signature))?;
    Ok(())
}

// ----- reading -----

fn read(doc: &AutoCommit, heads: Option<&[ChangeHash]>) -> Result<Content, AgreementError> {
    let a = root(doc, heads)?;
    let text = |key: &str| match get(doc, &a, key, heads) {
        Some((Value::Object(ObjType::Text), t)) => text_of(doc, &t, heads),
        Some((Value::Scalar(s), _)) => s.as_str().unwrap_or_default().to_owned(),
        _ => String::new(),
    };
    let mut parties: Vec<String> = match get(doc, &a, "parties", heads) {
        Some((Value::Object(ObjType::Map), p)) => keys(doc, &p, heads),
        _ => Vec::new(),
    };
    parties.sort();
    let mut clauses = Vec::new();
    if let Some((Value::Object(ObjType::Map), cs)) = get(doc, &a, "clauses", heads) {
        for id in keys(doc, &cs, heads) {
            let Some(c) = obj(doc, &cs, &id, heads) else { continue };
            let part = |key: &str| match get(doc, &c, key, heads) {
                Some((Value::Object(ObjType::Text), t)) => text_of(doc, &t, heads),
                _ => String::new(),
            };
            let position = str_at(doc, &c, "position", heads).unwrap_or_default();
            clauses.push((position, Clause { id, heading: part("heading"), body: part("body") }));
        }
    }
    clauses.sort_by_cached_key(|(p, c)| (sort_key(p), c.id.clone()));
    Ok(Content {
        title: text("title"),
        preamble: text("preamble"),
        effective_date: text("effective_date"),
        term: text("term"),
        parties,
        clauses: clauses.into_iter().map(|(_, c)| c).collect(),
    })
}

/// The position for a clause right after `after` (skipping `moving`, the clause being moved).
fn position_after(doc: &AutoCommit, after: Option<&str>, moving: Option<&str>) -> Result<String, AgreementError> {
    let cs = child_read(doc, "clauses")?;
    let mut order: Vec<(Vec<u8>, String, String)> = keys(doc, &cs, None)
        .into_iter()
        .filter(|id| Some(id.as_str()) != moving)
        .filter_map(|id| {
            let position = str_at(doc, &obj(doc, &cs, &id, None)?, "position", None).unwrap_or_default();
            Some((sort_key(&position), id, position))
        })
        .collect();
    order.sort();
    let index = match after {
        None => 0,
        Some(after) => order.iter().position(|(_, id, _)| id == after).ok_or_else(|| AgreementError::NoSuchClause(after.into()))? + 1,
    };
    let before = index.checked_sub(1).map(|i| order[i].2.as_str());
    Ok(between(before, order.get(index).map(|(_, _, p)| p.as_str())))
}

fn root(doc: &AutoCommit, heads: Option<&[ChangeHash]>) -> Result<ObjId, AgreementError> {
    match get(doc, &ROOT, "agreement", heads) {
        Some((Value::Object(ObjType::Map), a)) => Ok(a),
        _ => Err(AgreementError::NotAnAgreement),
    }
}

fn child(doc: &mut AutoCommit, key: &str) -> Result<ObjId, AgreementError> {
    let a = root(doc, None)?;
    match doc.get(&a, key)? {
        Some((Value::Object(ObjType::Map), m)) => Ok(m),
        _ => Ok(doc.put_object(&a, key, ObjType::Map)?),
    }
}

fn child_read(doc: &AutoCommit, key: &str) -> Result<ObjId, AgreementError> {
    let a = root(doc, None)?;
    match doc.get(&a, key)? {
        Some((Value::Object(ObjType::Map), m)) => Ok(m),
        _ => Err(AgreementError::Malformed("agreement map")),
    }
}

fn clause_obj(doc: &AutoCommit, id: &str) -> Result<ObjId, AgreementError> {
    let cs = child_read(doc, "clauses")?;
    obj(doc, &cs, id, None).ok_or_else(|| AgreementError::NoSuchClause(id.into()))
}

fn get(doc: &AutoCommit, obj: &ObjId, key: &str, heads: Option<&[ChangeHash]>) -> Option<(Value<'static>, ObjId)> {
    let got = match heads {
        Some(h) => doc.get_at(obj, key, h),
        None => doc.get(obj, key),
    };
    got.ok().flatten().map(|(v, id)| (v.into_owned(), id))
}

fn obj(doc: &AutoCommit, parent: &ObjId, key: &str, heads: Option<&[ChangeHash]>) -> Option<ObjId> {
    match get(doc, parent, key, heads)? {
        (Value::Object(ObjType::Map), id) => Some(id),
        _ => None,
    }
}

fn keys(doc: &AutoCommit, obj: &ObjId, heads: Option<&[ChangeHash]>) -> Vec<String> {
    match heads {
        Some(h) => doc.keys_at(obj, h).collect(),
        None => doc.keys(obj).collect(),
    }
}

fn text_of(doc: &AutoCommit, obj: &ObjId, heads: Option<&[ChangeHash]>) -> String {
    match heads {
        Some(h) => doc.text_at(obj, h),
        None => doc.text(obj),
    }
    .unwrap_or_default()
}

fn str_at(doc: &AutoCommit, obj: &ObjId, key: &str, heads: Option<&[ChangeHash]>) -> Option<String> {
    match get(doc, obj, key, heads)? {
        (Value::Scalar(s), _) => s.as_str().map(str::to_owned),
        _ => None,
    }
}

fn int_at(doc: &AutoCommit, obj: &ObjId, key: &str) -> Option<i64> {
    match get(doc, obj, key, None)? {
        (Value::Scalar(s), _) => match s.as_ref() {
            ScalarValue::Timestamp(t) | ScalarValue::Int(t) => Some(*t),
            _ => None,
        },
        _ => None,
    }
}

/// One version in an agreement's history: a run of changes by one Automerge actor, each
/// within `gap_ms` of the one before (typing makes a change per keystroke).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// Hex actor id: who wrote it is the server's binding of this actor, not a claim in
    /// the document.
    pub actor: String,
    /// The document as of this version's last change, for [`content_at`].
    pub heads: Vec<String>,
    /// Milliseconds since the epoch (changes carry whole seconds).
    pub from: i64,
    pub to: i64,
    pub changes: usize,
}

/// The document's versions, oldest first.
pub fn history(doc: &mut AutoCommit, gap_ms: i64) -> Vec<Version> {
    let mut out: Vec<Version> = Vec::new();
    for change in doc.get_changes_meta(&[]) {
        let actor = change.actor.to_hex_string();
        let at = change.timestamp * 1000;
        match out.last_mut() {
            Some(v) if v.actor == actor && at - v.to <= gap_ms => {
                v.heads = vec![change.hash.to_string()];
                v.to = at.max(v.to);
                v.changes += 1;
            }
            _ => out.push(Version { actor, heads: vec![change.hash.to_string()], from: at, to: at, changes: 1 }),
        }
    }
    out
}

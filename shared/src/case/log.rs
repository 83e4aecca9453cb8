//! The step log as it lives in the document, under the root key `case`:
//!
//! | key | value |
//! | --- | --- |
//! | `events` | map: event id → `{step, by_user, by_org, at, prev, data: {key → code}}`, never changed once written |
//! | `received` | map: event id → `{seq, at}`, written by the server only, when it admits the step |
//! | `texts` | map: event id → free text (a reason, a summary): the only place a step keeps words |
//!
//! Events sit in a map keyed by a random id, so two devices appending offline both keep theirs,
//! and a map entry cannot move. Maps two devices created concurrently under one key are all read
//! (the record's `case` map is made with the record, so that is rare: records made before it).

use std::collections::BTreeMap;

use automerge::{AutoCommit, ChangeHash, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, Value, transaction::Transactable};

use super::CaseError;

/// One step someone took, as written in the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: String,
    /// A step id of the record's workflow.
    pub step: String,
    /// The user id (as the server numbers users) and organisation id of who took it.
    pub by_user: String,
    pub by_org: String,
    /// The device's clock, ms since the epoch.
    pub at: i64,
    /// The latest step its author had seen (`""` for none): what it was taken in answer to.
    pub prev: String,
    /// Codes only (organisation ids, choice ids, dates).
    pub data: BTreeMap<String, String>,
}

/// The server's word on when it admitted a step: `seq` orders steps on every device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Receipt {
    pub seq: i64,
    pub at: i64,
    /// The server kept the step but does not count it: the receiver it names is not of the
    /// kind the step goes to (see `admit`). A step can never leave a record, so refusing the
    /// message would block the record's every later change; this way it is shown as void.
    pub void: bool,
}

/// Everything of the log, read at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Log {
    pub events: BTreeMap<String, Event>,
    pub received: BTreeMap<String, Receipt>,
}

/// Makes the `case` map with its containers (for a new record of a kind with a workflow).
pub fn init(doc: &mut AutoCommit) -> Result<(), CaseError> {
    let case = doc.put_object(ROOT, KEY, ObjType::Map)?;
    for key in ["events", "received", "texts"] {
        doc.put_object(&case, key, ObjType::Map)?;
    }
    Ok(())
}

/// Whether the document has a step log at all.
pub fn present(doc: &AutoCommit) -> bool {
    !maps(doc, &ROOT, KEY, None).is_empty()
}

pub fn read(doc: &AutoCommit) -> Log {
    read_at(doc, None)
}

/// The log as of `heads` (`None`: now). Malformed entries (a buggy or hostile peer's) are left
/// out; the server never admits one.
pub fn read_at(doc: &AutoCommit, heads: Option<&[ChangeHash]>) -> Log {
    let mut log = Log::default();
    for case in maps(doc, &ROOT, KEY, heads) {
        for events in maps(doc, &case, "events", heads) {
            for id in keys(doc, &events, heads) {
                for e in maps(doc, &events, &id, heads) {
                    if let Some(event) = event(doc, &e, &id, heads) {
                        log.events.entry(id.clone()).or_insert(event);
                    }
                }
            }
        }
        for received in maps(doc, &case, "received", heads) {
            for id in keys(doc, &received, heads) {
                for r in maps(doc, &received, &id, heads) {
                    if let (Some(seq), Some(at)) = (int(doc, &r, "seq", heads), int(doc, &r, "at", heads)) {
                        let void = matches!(scalar(doc, &r, "void", heads), Some(ScalarValue::Boolean(true)));
                        log.received.entry(id.clone()).or_insert(Receipt { seq, at, void });
                    }
                }
            }
        }
    }
    log
}

/// Free text written with a step, by event id.
pub fn texts(doc: &AutoCommit) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for case in maps(doc, &ROOT, KEY, None) {
        for texts in maps(doc, &case, "texts", None) {
            for id in keys(doc, &texts, None) {
                if let Some(s) = string(doc, &texts, &id, None) {
                    out.entry(id).or_insert(s);
                }
            }
        }
    }
    out
}

/// Appends a step (and its free text, if any).
pub fn append(doc: &mut AutoCommit, event: &Event, text: Option<&str>) -> Result<(), CaseError> {
    let events = container(doc, "events")?;
    let e = doc.put_object(&events, &event.id, ObjType::Map)?;
    doc.put(&e, "step", event.step.as_str())?;
    doc.put(&e, "by_user", event.by_user.as_str())?;
    doc.put(&e, "by_org", event.by_org.as_str())?;
    doc.put(&e, "at", ScalarValue::Timestamp(event.at))?;
    doc.put(&e, "prev", event.prev.as_str())?;
    let data = doc.put_object(&e, "data", ObjType::Map)?;
    for (k, v) in &event.data {
        doc.put(&data, k.as_str(), v.as_str())?;
    }
    if let Some(text) = text.filter(|t| !t.trim().is_empty()) {
        let texts = container(doc, "texts")?;
        doc.put(&texts, &event.id, text)?;
    }
    Ok(())
}

/// (Server.) Records that the server admitted `event` as the `receipt.seq`-th step.
pub fn write_receipt(doc: &mut AutoCommit, event: &str, receipt: Receipt) -> Result<(), CaseError> {
    let received = container(doc, "received")?;
    let r = doc.put_object(&received, event, ObjType::Map)?;
    doc.put(&r, "seq", receipt.seq)?;
    doc.put(&r, "at", ScalarValue::Timestamp(receipt.at))?;
    if receipt.void {
        doc.put(&r, "void", true)?;
    }
    Ok(())
}

const KEY: &str = "case";

/// The map to write into: the first of the maps under the key (concurrent puts all count when
/// read), made only where the key holds nothing at all. A value that is not a map is never
/// replaced: a put over it would replace every concurrent value with it, the whole log too.
fn container(doc: &mut AutoCommit, key: &str) -> Result<ObjId, CaseError> {
    let case = match (maps(doc, &ROOT, KEY, None).first(), doc.get(ROOT, KEY)?) {
        (Some(m), _) => m.clone(),
        (None, None) => doc.put_object(ROOT, KEY, ObjType::Map)?,
        (None, Some(_)) => return Err(CaseError::Malformed("case")),
    };
    let found = maps(doc, &case, key, None).first().cloned();
    Ok(match (found, doc.get(&case, key)?) {
        (Some(m), _) => m,
        (None, None) => doc.put_object(&case, key, ObjType::Map)?,
        (None, Some(_)) => return Err(CaseError::Malformed("case map")),
    })
}

/// The object of step `id` (the first map under its id, in any of the log's maps).
pub fn event_obj(doc: &AutoCommit, id: &str) -> Option<ObjId> {
    for case in maps(doc, &ROOT, KEY, None) {
        for events in maps(doc, &case, "events", None) {
            if let Some(e) = maps(doc, &events, id, None).into_iter().next() {
                return Some(e);
            }
        }
    }
    None
}

/// Every value (by the op that wrote it) at each place of the log's structure: the `case` key,
/// its three maps, each event and receipt id, each text. Two shapes differ when a message put
/// anything there, even a value that loses to another or is not a map (which `read` skips).
pub fn shape(doc: &AutoCommit) -> BTreeMap<String, Vec<(ObjId, bool)>> {
    let values = |obj: &ObjId, key: &str| -> Vec<(ObjId, bool)> {
        doc.get_all(obj, key).unwrap_or_default().into_iter().map(|(v, id)| (id, matches!(v, Value::Object(ObjType::Map)))).collect()
    };
    let mut out = BTreeMap::new();
    let case = values(&ROOT, KEY);
    for (c, _) in case.iter().filter(|(_, map)| *map) {
        for part in ["events", "received", "texts"] {
            let at = values(c, part);
            for (p, _) in at.iter().filter(|(_, map)| *map) {
                for id in doc.keys(p) {
                    out.entry(format!("{part}/{id}")).or_insert_with(Vec::new).extend(values(p, &id));
                }
            }
            out.entry(part.to_owned()).or_insert_with(Vec::new).extend(at);
        }
    }
    if !case.is_empty() {
        out.insert(KEY.to_owned(), case);
    }
    out
}

fn event(doc: &AutoCommit, e: &ObjId, id: &str, heads: Option<&[ChangeHash]>) -> Option<Event> {
    let mut data = BTreeMap::new();
    for d in maps(doc, e, "data", heads) {
        for k in keys(doc, &d, heads) {
            data.insert(k.clone(), string(doc, &d, &k, heads)?);
        }
    }
    Some(Event {
        id: id.to_owned(),
        step: string(doc, e, "step", heads)?,
        by_user: string(doc, e, "by_user", heads)?,
        by_org: string(doc, e, "by_org", heads)?,
        at: int(doc, e, "at", heads)?,
        prev: string(doc, e, "prev", heads)?,
        data,
    })
}

/// Every map under `key` (concurrent puts of a map all count).
fn maps(doc: &AutoCommit, obj: &ObjId, key: &str, heads: Option<&[ChangeHash]>) -> Vec<ObjId> {
    let all = match heads {
        Some(h) => doc.get_all_at(obj, key, h),
        None => doc.get_all(obj, key),
    };
    all.unwrap_or_default().into_iter().filter(|(v, _)| matches!(v, Value::Object(ObjType::Map))).map(|(_, id)| id).collect()
}

fn keys(doc: &AutoCommit, obj: &ObjId, heads: Option<&[ChangeHash]>) -> Vec<String> {
    match heads {
        Some(h) => doc.keys_at(obj, h).collect(),
        None => doc.keys(obj).collect(),
    }
}

fn scalar(doc: &AutoCommit, obj: &ObjId, key: &str, heads: Option<&[ChangeHash]>) -> Option<ScalarValue> {
    let got = match heads {
        Some(h) => doc.get_at(obj, key, h),
        None => doc.get(obj, key),
    };
    match got.ok().flatten()? {
        (Value::Scalar(s), _) => Some(s.into_owned()),
        _ => None,
    }
}

fn string(doc: &AutoCommit, obj: &ObjId, key: &str, heads: Option<&[ChangeHash]>) -> Option<String> {
    scalar(doc, obj, key, heads)?.as_str().map(str::to_owned)
}

fn int(doc: &AutoCommit, obj: &ObjId, key: &str, heads: Option<&[ChangeHash]>) -> Option<i64> {
    match scalar(doc, obj, key, heads)? {
        ScalarValue::Timestamp(t) | ScalarValue::Int(t) => Some(t),
        ScalarValue::Uint(u) => i64::try_from(u).ok(),
        _ => None,
    }
}

//! The IndexedDB store, in a real browser (headless Chromium via wasm-bindgen-test-runner).

use app::storage::{BLOBS, CHUNKS, RECORDS, Store, StoreError, StoredBlob};
use automerge::AutoCommit;
use indexed_db_futures::database::Database;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::TransactionMode;
use js_sys::{Array, Uint8Array};
use shared::form::RecordKind;
use shared::sync::node::Chunk;
use shared::{DocumentId, FieldValue, Record, RecordMeta};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Each test gets its own database so tests cannot see each other's records.
fn db_name(test: &str) -> String {
    format!("liaison-test-{test}-{}", app::platform::new_document_id())
}

fn new_record() -> Record {
    let meta = RecordMeta {
        kind: RecordKind::new("intake"),
        form_id: "intake".into(),
        form_version: 1,
        created_by: "test".into(),
        created_at: 1_700_000_000_000,
    };
    Record::create(app::platform::new_document_id(), &meta)
}

fn field(id: &str) -> &'static shared::form::Field {
    shared::form::find("intake", 1).unwrap().field(id).unwrap()
}

/// Sets a field and stores the change as the engine does: one incremental chunk per edit.
async fn edit(store: &Store, r: &mut Record, f: &str, v: FieldValue, at: i64) {
    r.set(field(f), Some(v), at).unwrap();
    let chunk = Chunk::incremental(r.save_incremental());
    store.write(r.id(), &chunk, Some(&r.summary().unwrap())).await.unwrap();
}

async fn create(store: &Store) -> Record {
    let mut r = new_record();
    let chunk = Chunk::incremental(r.save_incremental());
    store.write(r.id(), &chunk, Some(&r.summary().unwrap())).await.unwrap();
    r
}

fn fold(id: DocumentId, chunks: &[Vec<u8>]) -> Record {
    let mut doc = AutoCommit::new();
    for c in chunks {
        doc.load_incremental(c).unwrap();
    }
    Record::from_doc(id, doc).unwrap()
}

/// The keys of `id`'s chunks as stored, read around the store's API.
async fn raw_chunk_keys(name: &str, id: DocumentId) -> Vec<Array> {
    let db = Database::open(name).await.unwrap();
    let tx = db.transaction(CHUNKS).build().unwrap();
    let keys: Vec<JsValue> =
        tx.object_store(CHUNKS).unwrap().get_all_keys().primitive().unwrap().await.unwrap().collect::<Result<_, _>>().unwrap();
    keys.into_iter().map(|k| k.unchecked_into::<Array>()).filter(|k| k.get(0).as_string() == Some(id.to_string())).collect()
}

/// Overwrites a stored value behind the store's back, as disk corruption or a bug would.
async fn raw_put(name: &str, store: &str, key: JsValue, value: JsValue) {
    let db = Database::open(name).await.unwrap();
    let tx = db.transaction(store).with_mode(TransactionMode::Readwrite).build().unwrap();
    tx.object_store(store).unwrap().put(value).with_key(key).primitive().unwrap();
    tx.commit().await.unwrap();
}

fn kind(k: &Array) -> String {
    k.get(1).as_string().unwrap()
}

#[wasm_bindgen_test]
async fn a_record_survives_reopening_the_database() {
    let name = db_name("reopen");
    let id;
    {
        let store = Store::open(&name).await.unwrap();
        let mut r = create(&store).await;
        id = r.id();
        edit(&store, &mut r, "survivor_code", FieldValue::Text("XJ-07".into()), 1_700_000_005_000).await;
        edit(&store, &mut r, "survivor_age", FieldValue::Int(13), 1_700_000_006_000).await;
        edit(&store, &mut r, "description", FieldValue::LongText("第一句。\nSecond line.".into()), 1_700_000_007_000).await;
    }
    let store = Store::open(&name).await.unwrap();
    let loaded = store.load(id).await.unwrap();
    assert!(loaded.damaged.is_empty());
    let r = fold(id, &loaded.chunks);
    assert_eq!(r.get(field("survivor_code")), Some(FieldValue::Text("XJ-07".into())));
    assert_eq!(r.get(field("survivor_age")), Some(FieldValue::Int(13)));
    assert_eq!(r.get(field("description")), Some(FieldValue::LongText("第一句。\nSecond line.".into())));

    let (list, errors) = store.list().await.unwrap();
    assert!(errors.is_empty());
    assert_eq!(list.len(), 1);
    assert_eq!((list[0].id, list[0].title.as_str(), list[0].updated_at), (id, "XJ-07", 1_700_000_007_000));
}

#[wasm_bindgen_test]
async fn a_snapshot_replaces_exactly_the_chunks_it_folds() {
    let name = db_name("compact");
    let store = Store::open(&name).await.unwrap();
    let mut r = create(&store).await;
    let id = r.id();
    let mut text = String::new();
    for line in 0..30 {
        text.push_str(&format!("第{line}行 line {line}\n"));
        edit(&store, &mut r, "description", FieldValue::LongText(text.clone()), line).await;
    }
    let written: Vec<String> = raw_chunk_keys(&name, id).await.iter().map(|k| k.get(2).as_string().unwrap()).collect();
    assert_eq!(written.len(), 31);

    // Another tab writes a chunk this tab's node never saw: its snapshot does not name it.
    let other_tab = Store::open(&name).await.unwrap();
    let mut other = fold(id, &other_tab.load(id).await.unwrap().chunks);
    other.doc_mut().set_actor(automerge::ActorId::random());
    edit(&other_tab, &mut other, "incident_place", FieldValue::Text("另一个标签页".into()), 99).await;

    store.write(id, &Chunk::snapshot(r.save(), written), Some(&r.summary().unwrap())).await.unwrap();
    let keys = raw_chunk_keys(&name, id).await;
    assert_eq!(keys.iter().filter(|k| kind(k) == "snapshot").count(), 1, "one snapshot");
    assert_eq!(keys.iter().filter(|k| kind(k) == "incremental").count(), 1, "only the other tab's chunk is left");

    let loaded = Store::open(&name).await.unwrap().load(id).await.unwrap();
    let folded = fold(id, &loaded.chunks);
    assert_eq!(folded.get(field("description")), Some(FieldValue::LongText(text)), "every change kept");
    assert_eq!(folded.get(field("incident_place")), Some(FieldValue::Text("另一个标签页".into())));
}

/// Saves a change and returns the key of the chunk it added.
async fn edit_and_get_key(name: &str, store: &Store, r: &mut Record, f: &str, v: FieldValue) -> Array {
    let before: Vec<String> = raw_chunk_keys(name, r.id()).await.iter().map(|k| k.get(2).as_string().unwrap()).collect();
    edit(store, r, f, v, 5).await;
    let mut added: Vec<Array> =
        raw_chunk_keys(name, r.id()).await.into_iter().filter(|k| !before.contains(&k.get(2).as_string().unwrap())).collect();
    assert_eq!(added.len(), 1);
    added.pop().unwrap()
}

#[wasm_bindgen_test]
async fn a_corrupt_chunk_is_reported_kept_and_everything_else_still_loads() {
    let name = db_name("corrupt");
    let store = Store::open(&name).await.unwrap();
    let mut damaged = create(&store).await;
    let damaged_id = damaged.id();
    edit(&store, &mut damaged, "survivor_code", FieldValue::Text("A-1".into()), 2).await;
    let place = edit_and_get_key(&name, &store, &mut damaged, "incident_place", FieldValue::Text("乡政府".into())).await;
    let mut healthy = create(&store).await;
    edit(&store, &mut healthy, "survivor_code", FieldValue::Text("B-2".into()), 4).await;

    let mut garbage = b"\x85\x6f\x4a\x83".to_vec();
    garbage.extend_from_slice(b"not the bytes that were written");
    raw_put(&name, CHUNKS, place.clone().into(), Uint8Array::from(garbage.as_slice()).into()).await;

    let reopened = Store::open(&name).await.unwrap();
    let loaded = reopened.load(damaged_id).await.unwrap();
    assert_eq!(loaded.damaged.len(), 1, "the corrupt chunk is reported");
    assert_eq!(loaded.damaged[0].hash, place.get(2).as_string().unwrap());
    let r = fold(damaged_id, &loaded.chunks);
    assert_eq!(r.get(field("survivor_code")), Some(FieldValue::Text("A-1".into())), "earlier changes load");
    assert_eq!(r.get(field("incident_place")), None, "the damaged change is missing, not invented");

    // A later snapshot replaces what the node loaded, which never includes the damaged chunk:
    // it stays for recovery.
    let mut r = r;
    let folded = loaded.chunks.iter().map(|c| shared::storage_key::chunk_hash(c)).collect();
    reopened.write(damaged_id, &Chunk::snapshot(r.save(), folded), Some(&r.summary().unwrap())).await.unwrap();
    let keys = raw_chunk_keys(&name, damaged_id).await;
    assert!(keys.iter().any(|k| k.get(2).as_string() == place.get(2).as_string()), "damaged chunk kept");

    let other = fold(healthy.id(), &reopened.load(healthy.id()).await.unwrap().chunks);
    assert_eq!(other.get(field("survivor_code")), Some(FieldValue::Text("B-2".into())));
    let (list, errors) = reopened.list().await.unwrap();
    assert!(errors.is_empty());
    assert_eq!(list.len(), 2, "both records stay listed");
}

#[wasm_bindgen_test]
async fn wrong_types_in_storage_are_reported_not_fatal() {
    let name = db_name("types");
    let store = Store::open(&name).await.unwrap();
    let lost = create(&store).await;
    let keys = raw_chunk_keys(&name, lost.id()).await;
    raw_put(&name, CHUNKS, keys[0].clone().into(), JsValue::from_str("not bytes")).await;
    let mut kept = create(&store).await;
    edit(&store, &mut kept, "survivor_code", FieldValue::Text("D-4".into()), 6).await;
    let junk_id = app::platform::new_document_id().to_string();
    raw_put(&name, RECORDS, JsValue::from_str(&junk_id), JsValue::from_f64(42.0)).await;

    let loaded = store.load(lost.id()).await.unwrap();
    assert_eq!(loaded.damaged.len(), 1);
    assert_eq!(loaded.damaged[0].reason, "not a byte array");
    assert!(loaded.chunks.is_empty());
    let r = fold(kept.id(), &store.load(kept.id()).await.unwrap().chunks);
    assert_eq!(r.get(field("survivor_code")), Some(FieldValue::Text("D-4".into())));

    let (list, errors) = store.list().await.unwrap();
    assert_eq!(list.len(), 2, "both real summaries are listed");
    assert_eq!(errors.len(), 1, "the junk summary is reported");
    assert!(matches!(&errors[0], app::storage::StoreError::Corrupt { id, .. } if *id == junk_id));
}

#[wasm_bindgen_test]
async fn an_attachment_is_stored_queued_for_upload_and_checked_when_read() {
    let name = db_name("blobs");
    let store = Store::open(&name).await.unwrap();
    let doc = app::platform::new_document_id();
    let photo =
        StoredBlob { name: "现场.jpg".into(), mime: "image/jpeg".into(), bytes: (0..200_000u32).map(|i| (i % 251) as u8).collect() };
    let hash = shared::storage_key::chunk_hash(&photo.bytes);
    store.put_blob(doc, &hash, &photo).await.unwrap();

    // It survives reopening, and waits for upload.
    let reopened = Store::open(&name).await.unwrap();
    assert_eq!(reopened.blob(doc, &hash).await.unwrap(), Some(photo.clone()));
    assert_eq!(reopened.pending_uploads().await.unwrap(), vec![(doc, hash.clone(), 200_000)]);
    reopened.uploaded(doc, &hash).await.unwrap();
    assert!(reopened.pending_uploads().await.unwrap().is_empty());
    assert!(reopened.blob(doc, &hash).await.unwrap().is_some(), "uploading does not remove it from the device");

    // Bytes changed on disk: reported, not returned as the attachment.
    let key: JsValue = Array::of2(&doc.to_string().into(), &hash.as_str().into()).into();
    let tampered = js_sys::Object::new();
    js_sys::Reflect::set(&tampered, &"name".into(), &"现场.jpg".into()).unwrap();
    js_sys::Reflect::set(&tampered, &"bytes".into(), &Uint8Array::from(&b"not the photo"[..]).into()).unwrap();
    raw_put(&name, BLOBS, key, tampered.into()).await;
    assert!(matches!(reopened.blob(doc, &hash).await, Err(StoreError::Corrupt { .. })));
    // An attachment that was never stored is simply absent.
    assert_eq!(reopened.blob(doc, &"0".repeat(64)).await.unwrap(), None);
}

//! The IndexedDB store, in a real browser (headless Chromium via wasm-bindgen-test-runner).

use app::storage::{Store, StoreError, CHUNKS, COMPACTION_FLOOR, RECORDS};
use indexed_db_futures::database::Database;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::TransactionMode;
use js_sys::{Array, Uint8Array};
use shared::form::{RecordKind, INTAKE_V1};
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
        kind: RecordKind::Intake,
        form_id: "intake".into(),
        form_version: 1,
        created_by: "test".into(),
        created_at: 1_700_000_000_000,
    };
    Record::create(app::platform::new_document_id(), &meta)
}

fn field(id: &str) -> &'static shared::form::Field {
    INTAKE_V1.field(id).unwrap()
}

/// The keys of `id`'s chunks as stored, read around the store's API.
async fn raw_chunk_keys(name: &str, id: DocumentId) -> Vec<Array> {
    let db = Database::open(name).await.unwrap();
    let tx = db.transaction(CHUNKS).build().unwrap();
    let keys: Vec<JsValue> = tx
        .object_store(CHUNKS)
        .unwrap()
        .get_all_keys()
        .primitive()
        .unwrap()
        .await
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    keys.into_iter()
        .map(|k| k.unchecked_into::<Array>())
        .filter(|k| k.get(0).as_string() == Some(id.to_string()))
        .collect()
}

/// Overwrites a stored value behind the store's back, as disk corruption or a bug would.
async fn raw_put(name: &str, store: &str, key: JsValue, value: JsValue) {
    let db = Database::open(name).await.unwrap();
    let tx = db.transaction(store).with_mode(TransactionMode::Readwrite).build().unwrap();
    tx.object_store(store).unwrap().put(value).with_key(key).primitive().unwrap();
    tx.commit().await.unwrap();
}

#[wasm_bindgen_test]
async fn a_record_survives_reopening_the_database() {
    let name = db_name("reopen");
    let id;
    {
        let store = Store::open(&name).await.unwrap();
        let mut stored = store.create(new_record()).await.unwrap();
        id = stored.record.id();
        for (f, v) in [
            ("survivor_code", FieldValue::Text("XJ-07".into())),
            ("survivor_age", FieldValue::Int(13)),
            ("description", FieldValue::LongText("第一句。\nSecond line.".into())),
        ] {
            stored.record.set(field(f), Some(v), 1_700_000_005_000).unwrap();
            store.save(&mut stored).await.unwrap();
        }
    }
    let store = Store::open(&name).await.unwrap();
    let loaded = store.load(id).await.unwrap();
    assert!(loaded.damaged.is_empty());
    assert_eq!(loaded.record.get(field("survivor_code")), Some(FieldValue::Text("XJ-07".into())));
    assert_eq!(loaded.record.get(field("survivor_age")), Some(FieldValue::Int(13)));
    assert_eq!(loaded.record.get(field("description")), Some(FieldValue::LongText("第一句。\nSecond line.".into())));

    let (list, errors) = store.list().await.unwrap();
    assert!(errors.is_empty());
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].id, id);
    assert_eq!(list[0].title, "XJ-07");
    assert_eq!(list[0].updated_at, 1_700_000_005_000);
}

#[wasm_bindgen_test]
async fn compaction_folds_chunks_into_a_snapshot_and_keeps_every_change() {
    let name = db_name("compact");
    let store = Store::open(&name).await.unwrap();
    let mut stored = store.create(new_record()).await.unwrap();
    let id = stored.record.id();
    // Grow the description line by line, one saved change per line, well past the floor.
    let mut text = String::new();
    let mut line = 0;
    while text.len() < 3 * COMPACTION_FLOOR {
        text.push_str(&format!("第{line}行 line {line}: {}\n", "x".repeat(200)));
        stored.record.set(field("description"), Some(FieldValue::LongText(text.clone())), 1).unwrap();
        store.save(&mut stored).await.unwrap();
        line += 1;
    }
    let keys = raw_chunk_keys(&name, id).await;
    let snapshots = keys.iter().filter(|k| k.get(1).as_string().as_deref() == Some("snapshot")).count();
    assert_eq!(snapshots, 1, "compaction leaves exactly one snapshot");
    assert!(keys.len() < line / 2, "{} chunks remain for {line} changes: compaction did not delete them", keys.len());

    let loaded = Store::open(&name).await.unwrap().load(id).await.unwrap();
    assert!(loaded.damaged.is_empty());
    assert_eq!(loaded.record.get(field("description")), Some(FieldValue::LongText(text)));
    assert_eq!(loaded.snapshot_count(), 1);
}

/// Saves `stored` and returns the key of the chunk that the save added.
async fn save_and_get_key(name: &str, store: &Store, stored: &mut app::storage::StoredRecord) -> Array {
    let id = stored.record.id();
    let before: Vec<String> = raw_chunk_keys(name, id).await.iter().map(|k| k.get(2).as_string().unwrap()).collect();
    store.save(stored).await.unwrap();
    let mut added: Vec<Array> = raw_chunk_keys(name, id)
        .await
        .into_iter()
        .filter(|k| !before.contains(&k.get(2).as_string().unwrap()))
        .collect();
    assert_eq!(added.len(), 1);
    added.pop().unwrap()
}

#[wasm_bindgen_test]
async fn a_corrupt_chunk_is_reported_and_everything_else_still_loads() {
    let name = db_name("corrupt");
    let store = Store::open(&name).await.unwrap();

    let mut damaged = store.create(new_record()).await.unwrap();
    let damaged_id = damaged.record.id();
    damaged.record.set(field("survivor_code"), Some(FieldValue::Text("A-1".into())), 2).unwrap();
    save_and_get_key(&name, &store, &mut damaged).await;
    damaged.record.set(field("incident_place"), Some(FieldValue::Text("乡政府".into())), 3).unwrap();
    let place_chunk = save_and_get_key(&name, &store, &mut damaged).await;

    let mut healthy = store.create(new_record()).await.unwrap();
    let healthy_id = healthy.record.id();
    healthy.record.set(field("survivor_code"), Some(FieldValue::Text("B-2".into())), 4).unwrap();
    store.save(&mut healthy).await.unwrap();

    let mut garbage = b"\x85\x6f\x4a\x83".to_vec();
    garbage.extend_from_slice(b"not the bytes that were written");
    raw_put(&name, CHUNKS, place_chunk.clone().into(), Uint8Array::from(garbage.as_slice()).into()).await;

    let reopened = Store::open(&name).await.unwrap();
    let loaded = reopened.load(damaged_id).await.unwrap();
    assert_eq!(loaded.damaged.len(), 1, "the corrupt chunk is reported");
    assert_eq!(loaded.damaged[0].hash, place_chunk.get(2).as_string().unwrap());
    assert_eq!(loaded.record.get(field("survivor_code")), Some(FieldValue::Text("A-1".into())), "earlier changes load");
    assert_eq!(loaded.record.get(field("incident_place")), None, "the damaged change is missing, not invented");

    let other = reopened.load(healthy_id).await.unwrap();
    assert!(other.damaged.is_empty());
    assert_eq!(other.record.get(field("survivor_code")), Some(FieldValue::Text("B-2".into())));
    let (list, errors) = reopened.list().await.unwrap();
    assert!(errors.is_empty());
    assert_eq!(list.len(), 2, "both records stay listed");
}

#[wasm_bindgen_test]
async fn a_record_with_nothing_readable_fails_alone() {
    let name = db_name("unreadable");
    let store = Store::open(&name).await.unwrap();
    let mut lost = store.create(new_record()).await.unwrap();
    let lost_id = lost.record.id();
    let keys = raw_chunk_keys(&name, lost_id).await;
    assert_eq!(keys.len(), 1);
    // A value of the wrong type where bytes belong.
    raw_put(&name, CHUNKS, keys[0].clone().into(), JsValue::from_str("not bytes")).await;
    lost.record.set(field("survivor_code"), Some(FieldValue::Text("C-3".into())), 5).unwrap();
    store.save(&mut lost).await.unwrap();

    let mut kept = store.create(new_record()).await.unwrap();
    kept.record.set(field("survivor_code"), Some(FieldValue::Text("D-4".into())), 6).unwrap();
    store.save(&mut kept).await.unwrap();
    // And a summary that is not a summary.
    let junk_id = app::platform::new_document_id().to_string();
    raw_put(&name, RECORDS, JsValue::from_str(&junk_id), JsValue::from_f64(42.0)).await;

    match store.load(lost_id).await {
        Err(StoreError::Corrupt { id, .. }) => assert_eq!(id, lost_id.to_string()),
        Err(e) => panic!("expected a corrupt record, got {e}"),
        Ok(r) => panic!("a record without its creation loaded, damaged {:?}", r.damaged),
    }
    let loaded = store.load(kept.record.id()).await.unwrap();
    assert_eq!(loaded.record.get(field("survivor_code")), Some(FieldValue::Text("D-4".into())));

    let (list, errors) = store.list().await.unwrap();
    assert_eq!(list.len(), 2, "both real summaries are listed");
    assert_eq!(errors.len(), 1, "the junk summary is reported");
    assert!(matches!(&errors[0], StoreError::Corrupt { id, .. } if *id == junk_id));
}

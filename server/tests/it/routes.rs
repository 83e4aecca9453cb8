//! The HTTP routes without a socket: `router(state).oneshot(request)` (axum's testing
//! example) on a store of each kind (SQLite in a temporary folder,
//! PostgreSQL on the test server). What needs a socket is in `sync.rs`.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use server::store::Opened;
use server::{Database, Store};
use shared::DocumentId;
use tower::ServiceExt;

use crate::harness::{Backend, temp_dir};

struct App {
    router: axum::Router,
    store: Arc<dyn Store>,
}

impl App {
    async fn on(database: Database) -> App {
        App::with_quota(database, server::Quota::default()).await
    }

    async fn with_quota(database: Database, quota: server::Quota) -> App {
        let store = server::store::open(&database).await.unwrap();
        server::demo::seed(&*store).await.unwrap();
        let dist = temp_dir("dist");
        std::fs::write(dist.join("index.html"), "<!doctype html>").unwrap();
        let mut config = server::Config::new(dist, database);
        config.quota = quota;
        let state = server::state(store.clone(), config).await.unwrap();
        App { router: server::router(state), store }
    }

    async fn send(&self, request: Request<Body>) -> (StatusCode, Value) {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn call(&self, method: Method, uri: &str, token: Option<&str>, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let body = match body {
            Some(json) => {
                request = request.header("content-type", "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        self.send(request.body(body).unwrap()).await
    }

    async fn get(&self, uri: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, uri, Some(token), None).await
    }

    async fn put(&self, uri: &str, token: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
        let request = Request::put(uri).header("authorization", format!("Bearer {token}")).body(Body::from(bytes)).unwrap();
        self.send(request).await
    }

    async fn token(&self, user: &str) -> String {
        let password = server::demo::ACCOUNTS.iter().find(|a| a.user == user).unwrap().password;
        let (status, body) = self.call(Method::POST, "/api/login", None, Some(json!({ "username": user, "password": password }))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["token"].as_str().unwrap().to_owned()
    }

    /// A record of the federation's, created as the sync socket creates one.
    async fn federation_doc(&self) -> DocumentId {
        let mut b = [0u8; 16];
        getrandom::fill(&mut b).unwrap();
        let id = DocumentId::from_random_bytes(b);
        let user = server::accounts::check_password(&*self.store, "fed-li", "demo-federation").await.unwrap().unwrap();
        assert!(matches!(self.store.doc_open(id, &user, true, false).await.unwrap(), Opened::Created));
        id
    }

    /// A record of the federation's that refers to an attachment, stored as a synced one is.
    async fn federation_doc_referring(&self, sha256: &str) -> DocumentId {
        use automerge::transaction::Transactable;
        let id = self.federation_doc().await;
        let mut doc = automerge::AutoCommit::new();
        let photo = doc.put_object(automerge::ROOT, "photo", automerge::ObjType::Map).unwrap();
        doc.put(&photo, "sha256", sha256).unwrap();
        let heads = doc.get_heads().iter().map(ToString::to_string).collect();
        let chunk = shared::sync::node::Chunk::snapshot(doc.save(), Vec::new());
        self.store
            .chunks_write(vec![server::store::ChunkWrite { doc: id, chunk, heads, actors: vec![], at: 0, access: Default::default() }])
            .await
            .unwrap();
        id
    }
}

async fn sign_in_me_and_sign_out(backend: Backend) {
    let app = App::on(backend.database().await).await;
    let login = |user: &str, password: &str| json!({ "username": user, "password": password });
    let (status, body) = app.call(Method::POST, "/api/login", None, Some(login("fed-li", "wrong password"))).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("wrong username or password")));
    let (status, _) = app.call(Method::POST, "/api/login", None, Some(login("nobody", "demo-federation"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "unknown users read as wrong passwords");
    let malformed = Request::post("/api/login").header("content-type", "application/json").body(Body::from("{not json")).unwrap();
    let (status, body) = app.send(malformed).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].is_string(), "bad JSON is an error body like any other: {body}");

    let (status, session) = app.call(Method::POST, "/api/login", None, Some(login("fed-li", "demo-federation"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(session["user"]["org_id"], "county-federation");
    let token = session["token"].as_str().unwrap();
    assert_eq!(token.len(), 64, "256 random bits in hex");

    let (status, me) = app.get("/api/me", token).await;
    assert_eq!((status, me["username"].as_str()), (StatusCode::OK, Some("fed-li")));
    assert_eq!(app.call(Method::GET, "/api/me", None, None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.call(Method::GET, &format!("/api/me?token={token}"), None, None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/api/me", "0123456789abcdef").await.0, StatusCode::UNAUTHORIZED);

    assert_eq!(app.call(Method::POST, "/api/logout", Some(token), None).await.0, StatusCode::OK);
    assert_eq!(app.get("/api/me", token).await.0, StatusCode::UNAUTHORIZED, "a revoked token is refused");
    assert_eq!(app.call(Method::POST, "/api/logout", Some(token), None).await.0, StatusCode::UNAUTHORIZED);
}

async fn orgs_are_listed_to_signed_in_users_only(backend: Backend) {
    let app = App::on(backend.database().await).await;
    assert_eq!(app.call(Method::GET, "/api/orgs", None, None).await.0, StatusCode::UNAUTHORIZED);
    let (status, orgs) = app.get("/api/orgs", &app.token("court-zhao").await).await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = orgs.as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["county-court", "county-federation", "county-procuratorate"]);
}

async fn the_feed_shows_each_organisation_its_own_and_shared_records_once(backend: Backend) {
    let app = App::on(backend.database().await).await;
    let (fed, proc_) = (app.token("fed-li").await, app.token("proc-wang").await);
    let (status, empty) = app.get("/api/docs", &proc_).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(empty["docs"], json!([]));
    let start = empty["last_seq"].as_i64().unwrap();

    let id = app.federation_doc().await;
    let (_, feed) = app.get(&format!("/api/docs?since={start}"), &fed).await;
    assert_eq!(feed["docs"][0]["id"], id.to_string());
    assert_eq!(feed["docs"][0]["owned"], true);
    let last = feed["last_seq"].as_i64().unwrap();
    assert!(last > start);
    let (_, again) = app.get(&format!("/api/docs?since={last}"), &fed).await;
    assert_eq!((again["docs"].clone(), again["last_seq"].as_i64()), (json!([]), Some(last)), "nothing new, an empty answer");
    let (_, other) = app.get(&format!("/api/docs?since={start}"), &proc_).await;
    assert_eq!(other["docs"], json!([]), "not the procuratorate's");

    let share = json!({ "org": "county-procuratorate" });
    assert_eq!(app.call(Method::POST, &format!("/api/docs/{id}/share"), Some(&fed), Some(share)).await.0, StatusCode::OK);
    let (_, shared) = app.get(&format!("/api/docs?since={start}"), &proc_).await;
    assert_eq!(shared["docs"][0]["id"], id.to_string());
    assert_eq!(shared["docs"][0]["owned"], false);
    assert_eq!(app.call(Method::GET, "/api/docs", None, None).await.0, StatusCode::UNAUTHORIZED);
}

async fn only_the_owner_shares_and_revokes_and_others_see_not_found(backend: Backend) {
    let app = App::on(backend.database().await).await;
    let (fed, proc_, court) = (app.token("fed-li").await, app.token("proc-wang").await, app.token("court-zhao").await);
    let id = app.federation_doc().await;
    let access = format!("/api/docs/{id}/access");
    let share = format!("/api/docs/{id}/share");

    let (status, body) = app.get(&access, &fed).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "owner": true, "shared_with": [] })));
    assert_eq!(app.get(&access, &proc_).await.0, StatusCode::NOT_FOUND, "not yours reads as missing");
    assert_eq!(app.get("/api/docs/11111111111111114Ki9Gx/access", &fed).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/docs/not-an-id/access", &fed).await.0, StatusCode::NOT_FOUND);

    let to = |org: &str| Some(json!({ "org": org }));
    assert_eq!(app.call(Method::POST, &share, Some(&fed), to("no-such-org")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.call(Method::POST, &share, Some(&proc_), to("county-court")).await.0, StatusCode::NOT_FOUND, "only the owner");
    assert_eq!(app.call(Method::POST, &share, Some(&fed), Some(json!({ "nope": 1 }))).await.0.as_u16() / 100, 4);
    assert_eq!(app.call(Method::POST, &share, None, to("county-court")).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.call(Method::POST, &share, Some(&fed), to("county-procuratorate")).await.0, StatusCode::OK);

    let (status, body) = app.get(&access, &proc_).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "owner": false, "shared_with": ["county-procuratorate"] })));
    assert_eq!(app.get(&access, &court).await.0, StatusCode::NOT_FOUND);

    let revoke = format!("/api/docs/{id}/share/county-procuratorate");
    assert_eq!(app.call(Method::DELETE, &revoke, Some(&proc_), None).await.0, StatusCode::NOT_FOUND, "only the owner revokes");
    assert_eq!(app.call(Method::DELETE, &revoke, Some(&fed), None).await.0, StatusCode::OK);
    assert_eq!(app.get(&access, &proc_).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&access, &fed).await.1["shared_with"], json!([]));
}

async fn attachment_routes_refuse_what_is_wrong_with_a_message(backend: Backend) {
    let app = App::on(backend.database().await).await;
    let (fed, proc_) = (app.token("fed-li").await, app.token("proc-wang").await);
    let hash = shared::storage_key::chunk_hash(b"the real photo");
    let id = app.federation_doc_referring(&hash).await;
    let url = format!("/api/docs/{id}/blobs/{hash}");
    let stray = shared::storage_key::chunk_hash(b"stray");
    let (status, body) = app.put(&format!("/api/docs/{id}/blobs/{stray}?offset=0&total=5"), &fed, b"stray".to_vec()).await;
    assert_eq!(status, StatusCode::CONFLICT, "only attachments the record refers to");
    assert!(body["error"].as_str().unwrap().contains("does not refer"), "{body}");

    let (status, body) = app.put(&format!("{url}?offset=0&total={}", 50 * 1024 * 1024), &fed, vec![1]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(body["error"].as_str().unwrap().contains("20 MiB"), "{body}");
    assert_eq!(app.put(&format!("{url}?offset=0&total=3000000"), &fed, vec![0; 2_000_000]).await.0, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(app.put(&url, &fed, b"x".to_vec()).await.0, StatusCode::BAD_REQUEST, "no offset and total");
    assert_eq!(app.put(&format!("{url}?offset=0&total=2"), &fed, b"abc".to_vec()).await.0, StatusCode::BAD_REQUEST, "past the end");
    assert_eq!(app.get(&format!("/api/docs/{id}/blobs/not-a-hash"), &fed).await.0, StatusCode::BAD_REQUEST);

    let (status, body) = app.put(&format!("{url}?offset=0&total=14"), &fed, b"the real".to_vec()).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "received": 8, "total": 14, "complete": false })));
    let (status, body) = app.put(&format!("{url}?offset=3&total=14"), &fed, b" photo".to_vec()).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body["error"].as_str().unwrap().contains("byte 8"), "{body}");
    assert_eq!(app.put(&format!("{url}?offset=8&total=15"), &fed, b" photo".to_vec()).await.0, StatusCode::CONFLICT, "size changed");
    assert_eq!(app.get(&url, &fed).await.0, StatusCode::NOT_FOUND, "unfinished uploads are not served");

    let (status, body) = app.put(&format!("{url}?offset=8&total=14"), &fed, b" PHOTO".to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("SHA-256"), "{body}");
    assert_eq!(app.get(&format!("{url}/upload"), &fed).await.1, json!({ "received": 0, "total": 0, "complete": false }), "discarded");

    assert_eq!(app.get(&url, &proc_).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&format!("{url}/upload"), &proc_).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.put(&format!("{url}?offset=0&total=14"), &proc_, b"forged".to_vec()).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&format!("/api/docs/11111111111111114Ki9Gx/blobs/{hash}"), &fed).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.call(Method::GET, &url, None, None).await.0, StatusCode::UNAUTHORIZED);
}

async fn attachments_past_the_organisations_quota_are_refused(backend: Backend) {
    let app = App::with_quota(backend.database().await, server::Quota { docs_per_org: 10, blob_bytes_per_org: 20 }).await;
    let fed = app.token("fed-li").await;
    let small = shared::storage_key::chunk_hash(b"twelve bytes");
    let id = app.federation_doc_referring(&small).await;
    let (status, body) = app.put(&format!("/api/docs/{id}/blobs/{small}?offset=0&total=12"), &fed, b"twelve bytes".to_vec()).await;
    assert_eq!((status, body["complete"].as_bool()), (StatusCode::OK, Some(true)));
    // 12 of 20 bytes used: another 12 would pass the quota.
    let more = shared::storage_key::chunk_hash(b"twelve more!");
    let other = app.federation_doc_referring(&more).await;
    let (status, body) = app.put(&format!("/api/docs/{other}/blobs/{more}?offset=0&total=12"), &fed, b"twelve more!".to_vec()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(body["error"].as_str().unwrap().contains("quota"), "{body}");
}

async fn health_answers_without_a_token(backend: Backend) {
    let app = App::on(backend.database().await).await;
    let (status, body) = app.call(Method::GET, "/api/health", None, None).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("ok")));
}

async fn device_keys_are_registered_listed_and_revoked_with_their_session(backend: Backend) {
    let app = App::on(backend.database().await).await;
    let hexed = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let public = hexed(&ed25519_dalek::SigningKey::from_bytes(&[9; 32]).verifying_key().to_bytes());
    let fed = app.token("fed-li").await;
    let app = &app;
    let register = |token: String, key: Value| async move {
        app.call(Method::POST, "/api/keys", Some(&token), Some(json!({ "public_key": key }))).await
    };

    assert_eq!(app.call(Method::POST, "/api/keys", None, Some(json!({ "public_key": public }))).await.0, StatusCode::UNAUTHORIZED);
    for bad in [json!("zz"), json!("00".repeat(31)), json!(42), json!("00".repeat(32)) /* the identity: a weak key */] {
        let (status, body) = register(fed.clone(), bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert!(body["error"].is_string());
    }
    let (status, key) = register(fed.clone(), json!(public)).await;
    assert_eq!(status, StatusCode::OK, "{key}");
    let key_id = key["key_id"].as_str().unwrap().to_owned();
    assert_eq!(key_id, shared::agreement::key_id(&shared::agreement::parse_public_key(&public).unwrap()));
    assert_eq!((key["username"].as_str(), key["org_id"].as_str()), (Some("fed-li"), Some("county-federation")));
    assert!(key["revoked_at"].as_i64().unwrap() > key["added_at"].as_i64().unwrap(), "it stops when its session expires: {key}");
    assert_eq!(register(fed.clone(), json!(public)).await.0, StatusCode::OK, "registering one's own key again is fine");
    let court = app.token("court-zhao").await;
    let (status, body) = register(court.clone(), json!(public)).await;
    assert_eq!(status, StatusCode::CONFLICT, "nobody takes over another user's key: {body}");

    // Every signed-in user reads the directory (signatures are checked across organisations).
    let (status, keys) = app.get("/api/keys", &court).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(keys.as_array().unwrap().len(), 1);
    assert_eq!(keys[0]["key_id"], key_id.as_str());

    // Signing out of the session that registered it ends the key; it stays listed, revoked.
    assert_eq!(app.call(Method::POST, "/api/logout", Some(&fed), None).await.0, StatusCode::OK);
    let (_, keys) = app.get("/api/keys", &court).await;
    let revoked_at = keys[0]["revoked_at"].as_i64().expect("revoked");
    assert!(revoked_at >= keys[0]["added_at"].as_i64().unwrap());
    assert!(!app.store.key_revoke(&key_id, revoked_at + 5).await.unwrap(), "already revoked: the first time stands");
    let (_, keys) = app.get("/api/keys", &court).await;
    assert_eq!(keys[0]["revoked_at"].as_i64(), Some(revoked_at));
    let fed_again = app.token("fed-li").await;
    let (status, body) = register(fed_again, json!(public)).await;
    assert_eq!(status, StatusCode::CONFLICT, "a revoked key is not brought back: {body}");

    // An administrator revokes a live key (`liaison-server key revoke`).
    let other = hexed(&ed25519_dalek::SigningKey::from_bytes(&[10; 32]).verifying_key().to_bytes());
    let (_, key) = register(court.clone(), json!(other)).await;
    let other_id = key["key_id"].as_str().unwrap();
    assert!(app.store.key_revoke(other_id, 123).await.unwrap());
    let (_, keys) = app.get("/api/keys", &court).await;
    let entry = keys.as_array().unwrap().iter().find(|k| k["key_id"] == other_id).unwrap();
    assert_eq!(entry["revoked_at"].as_i64(), Some(123));
}

async fn the_server_checks_and_keeps_agreement_signatures(backend: Backend) {
    use ed25519_dalek::Signer;
    use shared::agreement::{self, AgreementSignature, Proposal, State};
    let app = App::on(backend.database().await).await;
    let app = &app;
    let hexed = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let (fed_key, court_key) = (ed25519_dalek::SigningKey::from_bytes(&[21; 32]), ed25519_dalek::SigningKey::from_bytes(&[22; 32]));
    let (fed, court, proc_) = (app.token("fed-li").await, app.token("court-zhao").await, app.token("proc-wang").await);
    for (token, key) in [(&fed, &fed_key), (&court, &court_key)] {
        let body = json!({ "public_key": hexed(&key.verifying_key().to_bytes()) });
        assert_eq!(app.call(Method::POST, "/api/keys", Some(token), Some(body)).await.0, StatusCode::OK);
    }

    // The federation's agreement with the court, shared with both the court and (not a party)
    // the procuratorate, stored as a synced one is.
    let id = app.federation_doc().await;
    let mut doc = automerge::AutoCommit::new();
    agreement::init(&mut doc, "家事审判协作机制", &["county-federation", "county-court"]).unwrap();
    agreement::add_clause(&mut doc, "c1", None, "联络", "双方各确定一名联络员。").unwrap();
    doc.commit();
    let heads = shared::record::sorted_heads(&doc.get_heads());
    let chunk = shared::sync::node::Chunk::snapshot(doc.save(), Vec::new());
    app.store
        .chunks_write(vec![server::store::ChunkWrite {
            doc: id,
            chunk,
            heads: heads.clone(),
            actors: vec![],
            at: 0,
            access: Default::default(),
        }])
        .await
        .unwrap();
    for org in ["county-court", "county-procuratorate"] {
        app.store.doc_share(id, "county-federation", org).await.unwrap();
    }
    let content = agreement::content(&doc).unwrap().hash();
    let proposal = Proposal {
        id: agreement::proposal_id(id, &heads, &content),
        heads,
        content,
        by_user: "fed-li".into(),
        by_org: "county-federation".into(),
        at: 1,
    };
    let sign = |key: &ed25519_dalek::SigningKey, p: &Proposal, user: &str, org: &str, at: i64| {
        let key_id = agreement::key_id(&key.verifying_key().to_bytes());
        let bytes = agreement::statement(id, p, user, org, &key_id, at);
        AgreementSignature {
            id: format!("{user}-{at}"),
            proposal: p.id.clone(),
            user: user.into(),
            org: org.into(),
            key: key_id,
            at,
            signature: key.sign(&bytes).to_bytes().to_vec(),
        }
    };
    let url = format!("/api/docs/{id}/signatures");
    let post = |token: String, p: Proposal, s: AgreementSignature| {
        let url = url.clone();
        async move { app.call(Method::POST, &url, Some(&token), Some(json!({ "proposal": p, "signature": s }))).await }
    };

    // What is refused, and why.
    let mut tampered = sign(&fed_key, &proposal, "fed-li", "county-federation", 10);
    tampered.at = 11;
    let (status, body) = post(fed.clone(), proposal.clone(), tampered).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"].as_str().unwrap().contains("altered"), "{body}");
    let (status, _) = post(court.clone(), proposal.clone(), sign(&court_key, &proposal, "court-zhao", "county-federation", 12)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a party does not sign for another");
    let proc_key = ed25519_dalek::SigningKey::from_bytes(&[23; 32]);
    app.call(Method::POST, "/api/keys", Some(&proc_), Some(json!({ "public_key": hexed(&proc_key.verifying_key().to_bytes()) }))).await;
    let (status, body) = post(proc_.clone(), proposal.clone(), sign(&proc_key, &proposal, "proc-wang", "county-procuratorate", 13)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "reading is not being a party: {body}");
    let mut wrong = proposal.clone();
    wrong.content = agreement::ContentHash([1; 32]);
    wrong.id = agreement::proposal_id(id, &wrong.heads, &wrong.content);
    let (status, _) = post(fed.clone(), wrong.clone(), sign(&fed_key, &wrong, "fed-li", "county-federation", 14)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a content hash the server's copy does not give");
    let mut unknown = proposal.clone();
    unknown.heads = vec!["ab".repeat(32)];
    unknown.id = agreement::proposal_id(id, &unknown.heads, &unknown.content);
    let (status, _) = post(fed.clone(), unknown.clone(), sign(&fed_key, &unknown, "fed-li", "county-federation", 15)).await;
    assert_eq!(status, StatusCode::CONFLICT, "a version the server has not got yet");
    let stranger = DocumentId::from_random_bytes([99; 16]);
    assert_eq!(app.call(Method::GET, &format!("/api/docs/{stranger}/signatures"), Some(&fed), None).await.0, StatusCode::NOT_FOUND);

    // Both parties sign; both see the server's copy; nobody else does.
    let fed_sig = sign(&fed_key, &proposal, "fed-li", "county-federation", 20);
    let (status, kept) = post(fed.clone(), proposal.clone(), fed_sig.clone()).await;
    assert_eq!(status, StatusCode::OK, "{kept}");
    let (status, again) = post(fed.clone(), proposal.clone(), fed_sig.clone()).await;
    assert_eq!((status, &again), (StatusCode::OK, &kept), "sent again: what was kept first");
    let mut other = sign(&fed_key, &proposal, "fed-li", "county-federation", 25);
    other.id = fed_sig.id.clone();
    let (status, body) = post(fed.clone(), proposal.clone(), other).await;
    assert_eq!(status, StatusCode::CONFLICT, "another signature under a kept id: {body}");
    let (status, body) = post(court.clone(), proposal.clone(), sign(&court_key, &proposal, "court-zhao", "county-court", 21)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, list) = app.get(&url, &court).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 2);
    let signed: Vec<String> =
        app.store.audit_rows(0, 1000).await.unwrap().into_iter().filter(|r| r.entry.action == "sign").map(|r| r.entry.username).collect();
    assert_eq!(signed, ["fed-li", "court-zhao"], "one row per kept signature, none for one sent again or refused");
    let received: Vec<shared::api::ReceivedSignature> = serde_json::from_value(list).unwrap();
    let (_, keys) = app.get("/api/keys", &fed).await;
    let keys = shared::agreement::KeyDirectory::from_device_keys(&serde_json::from_value::<Vec<shared::api::DeviceKey>>(keys).unwrap());
    let received: Vec<_> = received.into_iter().map(|r| (r.proposal, r.signature, r.received_at)).collect();
    // Neither signature is in this copy of the document: the server's copy alone makes it in force.
    assert_eq!(agreement::status(&doc, id, &keys, &received).unwrap().state, State::InForce);
    assert_eq!(agreement::status(&doc, id, &keys, &[]).unwrap().state, State::Drafting);

    // A revoked key signs no more (the court signs out of the device that held it).
    assert_eq!(app.call(Method::POST, "/api/logout", Some(&court), None).await.0, StatusCode::OK);
    let court_again = app.token("court-zhao").await;
    let (status, body) = post(court_again, proposal.clone(), sign(&court_key, &proposal, "court-zhao", "county-court", 30)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("revoked"), "{body}");
}

on_both!(
    the_server_checks_and_keeps_agreement_signatures,
    device_keys_are_registered_listed_and_revoked_with_their_session,
    sign_in_me_and_sign_out,
    orgs_are_listed_to_signed_in_users_only,
    the_feed_shows_each_organisation_its_own_and_shared_records_once,
    only_the_owner_shares_and_revokes_and_others_see_not_found,
    attachment_routes_refuse_what_is_wrong_with_a_message,
    attachments_past_the_organisations_quota_are_refused,
    health_answers_without_a_token,
);

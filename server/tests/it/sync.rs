use automerge::transaction::Transactable;
use automerge::{ROOT, ReadDoc};
use futures_util::SinkExt;
use shared::DocumentId;
use shared::sync::{Message, PeerId};
use tokio_tungstenite::tungstenite::Message as Ws;

use crate::harness::*;

pub fn new_doc_id() -> DocumentId {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).unwrap();
    DocumentId::from_random_bytes(b)
}

pub async fn feed(server: &TestServer, token: &str, since: i64) -> serde_json::Value {
    reqwest::Client::new()
        .get(server.http(&format!("/api/docs?since={since}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The federation makes a record and syncs it; returns its id.
pub async fn federation_creates(server: &TestServer, token: &str, text: &str) -> DocumentId {
    federation_creates_referring(server, token, text, &[]).await
}

/// Like [`federation_creates`], the record referring to attachments with these SHA-256s (as
/// the app's records do: a map with a `sha256` key), which the server then accepts.
pub async fn federation_creates_referring(server: &TestServer, token: &str, text: &str, attachments: &[&str]) -> DocumentId {
    let id = new_doc_id();
    let mut fed = Client::connect(server, token, "fed-phone").await;
    fed.open(id, vec![]).await;
    let doc = fed.node.doc_mut(id).unwrap();
    doc.put(ROOT, "description", text).unwrap();
    for (i, hash) in attachments.iter().enumerate() {
        let photo = doc.put_object(ROOT, format!("photo{i}"), automerge::ObjType::Map).unwrap();
        doc.put(&photo, "sha256", *hash).unwrap();
    }
    fed.changed(id).await;
    assert!(fed.synced(id).await, "the server acknowledged the new record");
    id
}

async fn login_tokens_and_logout(backend: Backend) {
    let server = TestServer::start(backend).await;
    let bad = server.login("fed-li", "wrong password").await;
    assert_eq!(bad.status(), 401);
    assert_eq!(bad.json::<serde_json::Value>().await.unwrap()["error"], "wrong username or password");
    let unknown = server.login("nobody", "demo-federation").await;
    assert_eq!(unknown.status(), 401);
    let malformed = reqwest::Client::new()
        .post(server.http("/api/login"))
        .body("{not json")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);

    let token = server.token("fed-li").await;
    let me: serde_json::Value =
        reqwest::Client::new().get(server.http("/api/me")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["org_id"], "county-federation");

    // No token, a made-up token: the socket is refused at the upgrade.
    assert!(server.socket("").await.is_err());
    assert!(server.socket("0123456789abcdef").await.is_err());
    assert!(server.socket(&token).await.is_ok());

    let mut open = Client::connect(&server, &token, "fed-phone").await;
    assert!(open.pump_until(|c| c.node.connections().count() == 1).await);
    let out = reqwest::Client::new().post(server.http("/api/logout")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(out.status(), 200);
    assert!(open.pump_until(|c| c.closed.is_some()).await, "signing out closes the token's open sockets");
    assert!(server.socket(&token).await.is_err(), "a revoked token opens nothing");
    let me = reqwest::Client::new().get(server.http("/api/me")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(me.status(), 401);
}

async fn an_expired_token_is_refused(backend: Backend) {
    let server = TestServer::start(backend).await;
    // Issued eight days ago: past the seven-day lifetime.
    let token = server.token_issued_at(server::now_ms() - 8 * 24 * 3600 * 1000).await;
    assert!(server.socket(&token).await.is_err());
}

async fn another_organisation_cannot_read_or_write_a_record_until_it_is_shared(backend: Backend) {
    let server = TestServer::start(backend).await;
    let fed_token = server.token("fed-li").await;
    let proc_token = server.token("proc-wang").await;
    let id = federation_creates(&server, &fed_token, "邻居反映").await;

    // The feed: the federation sees its record, the procuratorate does not.
    let fed_feed = feed(&server, &fed_token, 0).await;
    assert!(fed_feed["docs"].as_array().unwrap().iter().any(|d| d["id"] == id.to_string()));
    let proc_feed = feed(&server, &proc_token, 0).await;
    assert!(proc_feed["docs"].as_array().unwrap().is_empty());

    // Reading: `request` gets doc-unavailable.
    let mut proc_ = Client::connect(&server, &proc_token, "proc-laptop").await;
    proc_.open(id, vec![]).await;
    assert!(proc_.pump_until(|c| c.unavailable.contains(&id)).await, "doc-unavailable for request");

    // Writing: a `sync` carrying a forged change gets doc-unavailable too, and changes nothing.
    let mut forger = Client::connect(&server, &proc_token, "proc-forger").await;
    let mut forged = automerge::AutoCommit::new();
    forged.put(ROOT, "description", "forged").unwrap();
    forger.open(id, vec![forged.save()]).await;
    assert!(forger.pump_until(|c| c.unavailable.contains(&id)).await, "doc-unavailable for sync");

    let mut check = Client::connect(&server, &fed_token, "fed-check").await;
    check.open(id, vec![]).await;
    assert!(check.synced(id).await);
    let doc = check.node.doc(id).unwrap();
    assert_eq!(doc.get(ROOT, "description").unwrap().unwrap().0.as_str(), Some("邻居反映"));

    // Unknown ids read exactly the same.
    let mut probe = Client::connect(&server, &proc_token, "proc-probe").await;
    let nowhere = new_doc_id();
    probe.open(nowhere, vec![]).await;
    assert!(probe.pump_until(|c| c.unavailable.contains(&nowhere)).await);

    // A device waiting on the feed hears nothing while nothing changes for it…
    let wait = |token: String, timeout_ms: u64| {
        let url = server.http(&format!("/api/docs/wait?timeout_ms={timeout_ms}"));
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let answer = reqwest::Client::new().get(url).bearer_auth(token).send().await.unwrap();
            (answer.json::<serde_json::Value>().await.unwrap()["changed"].as_bool().unwrap(), started.elapsed())
        })
    };
    assert!(!wait(proc_token.clone(), 200).await.unwrap().0, "nothing changed for it");
    let unauthorised = reqwest::Client::new().get(server.http("/api/docs/wait")).send().await.unwrap();
    assert_eq!(unauthorised.status(), 401);
    let proc_waits = wait(proc_token.clone(), 20_000);
    let court_token = server.token("court-zhao").await;
    let court_waits = wait(court_token, 1_500);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    // Share: now it shows in the procuratorate's feed and syncs.
    let since = proc_feed["last_seq"].as_i64().unwrap();
    let shared = reqwest::Client::new()
        .post(server.http(&format!("/api/docs/{id}/share")))
        .bearer_auth(&fed_token)
        .json(&serde_json::json!({ "org": "county-procuratorate" }))
        .send()
        .await
        .unwrap();
    assert_eq!(shared.status(), 200);
    // …and is woken by the share at once; another organisation's wait is not.
    let (changed, took) = proc_waits.await.unwrap();
    assert!(changed && took < std::time::Duration::from_secs(10), "woken by the share ({took:?})");
    assert!(!court_waits.await.unwrap().0, "the court's access did not change");
    let proc_feed = feed(&server, &proc_token, since).await;
    assert_eq!(proc_feed["docs"].as_array().unwrap().len(), 1);
    assert_eq!(proc_feed["docs"][0]["id"], id.to_string());
    assert_eq!(proc_feed["docs"][0]["owned"], false);
    // Nothing changed since: the next poll is empty.
    let again = feed(&server, &proc_token, proc_feed["last_seq"].as_i64().unwrap()).await;
    assert!(again["docs"].as_array().unwrap().is_empty());

    let mut reader = Client::connect(&server, &proc_token, "proc-reader").await;
    reader.open(id, vec![]).await;
    assert!(reader.synced(id).await);
    assert_eq!(reader.node.doc(id).unwrap().get(ROOT, "description").unwrap().unwrap().0.as_str(), Some("邻居反映"));

    // The connection that was refused before the share gets the record now, without
    // reconnecting: a refusal is not remembered.
    proc_.unavailable.clear();
    proc_.open(id, vec![]).await;
    assert!(proc_.synced(id).await, "shared after a refusal on the same connection");

    // Revoked: the open connection loses the record at once; its next change is refused and
    // never reaches the federation's copy.
    let revoked = reqwest::Client::new()
        .delete(server.http(&format!("/api/docs/{id}/share/county-procuratorate")))
        .bearer_auth(&fed_token)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    let feed = reqwest::Client::new().get(server.http("/api/docs?since=0")).bearer_auth(&proc_token).send().await.unwrap();
    assert_eq!(feed.json::<shared::api::Feed>().await.unwrap().gone, vec![id.to_string()], "its devices are told to drop it");
    reader.node.doc_mut(id).unwrap().put(ROOT, "description", "after revoke").unwrap();
    reader.changed(id).await;
    assert!(reader.pump_until(|c| c.unavailable.contains(&id)).await, "doc-unavailable after revoke");
    let mut check = Client::connect(&server, &fed_token, "fed-check-2").await;
    check.open(id, vec![]).await;
    assert!(check.synced(id).await);
    assert_eq!(check.node.doc(id).unwrap().get(ROOT, "description").unwrap().unwrap().0.as_str(), Some("邻居反映"));

    // Only the owner may share.
    let resharing = reqwest::Client::new()
        .post(server.http(&format!("/api/docs/{id}/share")))
        .bearer_auth(&proc_token)
        .json(&serde_json::json!({ "org": "county-court" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resharing.status(), 404);
}

async fn malformed_and_oversized_input_gets_an_error_and_the_server_lives_on(backend: Backend) {
    let server = TestServer::start(backend).await;
    let token = server.token("fed-li").await;

    let mut s = server.socket(&token).await.unwrap();
    s.send(Ws::Binary(vec![0xff, 0x00, 0x13].into())).await.unwrap();
    assert!(error_then_close(&mut s).await.unwrap().contains("malformed"));

    let mut s = server.socket(&token).await.unwrap();
    s.send(Ws::Text("hello".into())).await.unwrap();
    assert!(error_then_close(&mut s).await.unwrap().contains("text frames"));

    let mut s = server.socket(&token).await.unwrap();
    s.send(Ws::Binary(join("p1").into())).await.unwrap();
    let unknown = {
        let mut e = minicbor_like_unknown();
        e.shrink_to_fit();
        e
    };
    s.send(Ws::Binary(unknown.into())).await.unwrap();
    assert!(error_then_close(&mut s).await.unwrap().contains("unknown message type"));

    // Bad sync data for a new document: that document is refused, saying why, and nothing is
    // stored; the connection stays and answers about another document.
    let mut s = server.socket(&token).await.unwrap();
    s.send(Ws::Binary(join("p2").into())).await.unwrap();
    assert!(matches!(next_message(&mut s).await, Some(Message::Peer { .. })));
    let id = new_doc_id();
    let bad = Message::Sync { sender_id: PeerId("p2".into()), target_id: PeerId("server".into()), document_id: id, data: vec![1, 2, 3] };
    s.send(Ws::Binary(bad.encode().into())).await.unwrap();
    match next_message(&mut s).await {
        Some(Message::DocUnavailable { document_id, reason: Some(reason), .. }) => {
            assert_eq!(document_id, id);
            assert!(reason.contains("bad sync data"), "{reason}");
        }
        other => panic!("expected a refusal with a reason, got {other:?}"),
    }
    let other = new_doc_id();
    let ask =
        Message::Request { sender_id: PeerId("p2".into()), target_id: PeerId("server".into()), document_id: other, data: empty_sync() };
    s.send(Ws::Binary(ask.encode().into())).await.unwrap();
    assert!(next_message(&mut s).await.is_some(), "the connection still answers");

    // A frame over the limit.
    let mut s = server.socket(&token).await.unwrap();
    let _ = s.send(Ws::Binary(vec![0u8; server::MAX_FRAME_BYTES + 1].into())).await;
    let _ = error_then_close(&mut s).await;

    // A document past the size limit (256 KiB in these tests): refused, nothing stored.
    let mut big = Client::connect(&server, &token, "p3").await;
    let id = new_doc_id();
    big.open(id, vec![]).await;
    // Random letters: Automerge compresses changes, so the text must not be repetitive.
    let mut random = vec![0u8; 700_000];
    getrandom::fill(&mut random).unwrap();
    let noise: String = random.iter().map(|b| char::from(b'a' + b % 26)).collect();
    big.node.doc_mut(id).unwrap().put(ROOT, "description", noise).unwrap();
    big.changed(id).await;
    assert!(big.pump_until(|c| !c.refusals.is_empty()).await);
    assert_eq!(big.refusals[0].0, id);
    assert!(big.refusals[0].1.contains("exceed"), "{:?}", big.refusals);
    assert!(big.closed.is_none(), "refused alone; the connection stays: {:?}", big.closed);
    // The same connection still syncs another document.
    let small = new_doc_id();
    big.open(small, vec![]).await;
    big.node.doc_mut(small).unwrap().put(ROOT, "code", "S-1").unwrap();
    big.changed(small).await;
    assert!(big.pump_until(|c| c.node.in_sync(shared::sync::ConnId(1), small)).await, "the small document synced");

    let health = reqwest::get(server.http("/api/health")).await.unwrap();
    assert_eq!(health.status(), 200, "the server is still up");
}

/// A sync message from a peer that has nothing.
fn empty_sync() -> Vec<u8> {
    let mut state = automerge::sync::State::new();
    automerge::sync::SyncDoc::generate_sync_message(&automerge::Automerge::new(), &mut state).unwrap().encode()
}

/// An unknown message type, as a future peer might send.
fn minicbor_like_unknown() -> Vec<u8> {
    // {"type": "shout"}
    let mut v = vec![0xa1, 0x64];
    v.extend_from_slice(b"type");
    v.push(0x65);
    v.extend_from_slice(b"shout");
    v
}

async fn a_rejoin_with_the_same_peer_id_replaces_the_old_socket(backend: Backend) {
    let server = TestServer::start(backend).await;
    let token = server.token("fed-li").await;
    let id = federation_creates(&server, &token, "first").await;

    let mut old = Client::connect(&server, &token, "fed-phone").await;
    old.open(id, vec![]).await;
    assert!(old.synced(id).await);
    let mut new = Client::connect(&server, &token, "fed-phone").await;
    new.open(id, vec![]).await;
    assert!(new.synced(id).await, "the new socket syncs from scratch");
    assert!(old.pump_until(|c| c.closed.is_some()).await, "the old socket was closed");

    // Someone else using that peer id is refused, and the holder keeps its socket.
    let other = server.token("proc-wang").await;
    let mut intruder = Client::connect(&server, &other, "fed-phone").await;
    assert!(intruder.pump_until(|c| c.closed.is_some()).await);
}

async fn a_killed_server_keeps_every_change_it_acknowledged(backend: Backend) {
    let server = TestServer::start(backend).await;
    let token = server.token("fed-li").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(federation_creates(&server, &token, &format!("record {i}")).await);
    }
    let database = server.kill().await;

    let server = TestServer::start_on(database).await;
    let token = server.token("fed-li").await;
    for (i, id) in ids.into_iter().enumerate() {
        let mut c = Client::connect(&server, &token, &format!("after-restart-{i}")).await;
        c.open(id, vec![]).await;
        assert!(c.synced(id).await);
        let text = c.node.doc(id).unwrap().get(ROOT, "description").unwrap().unwrap().0.as_str().map(str::to_owned);
        assert_eq!(text.as_deref(), Some(format!("record {i}").as_str()));
    }
}

/// An organisation past its record quota gets the new record refused alone, saying why; the
/// connection and its existing records go on.
async fn a_new_record_past_the_quota_is_refused_alone(backend: Backend) {
    let server = TestServer::start_configured(backend.database().await, |c| c.quota.docs_per_org = 2).await;
    let token = server.token("fed-li").await;
    let first = federation_creates(&server, &token, "one").await;
    federation_creates(&server, &token, "two").await;

    let mut fed = Client::connect(&server, &token, "fed-tablet").await;
    let third = new_doc_id();
    fed.open(third, vec![]).await;
    fed.node.doc_mut(third).unwrap().put(ROOT, "description", "three").unwrap();
    fed.changed(third).await;
    assert!(fed.pump_until(|c| !c.refusals.is_empty()).await);
    assert_eq!(fed.refusals[0].0, third);
    assert!(fed.refusals[0].1.contains("quota of 2 records"), "{:?}", fed.refusals);
    assert!(fed.closed.is_none(), "the connection stays");
    // An existing record still syncs on the same connection.
    fed.open(first, vec![]).await;
    assert!(fed.pump_until(|c| c.node.doc(first).is_some_and(|d| d.get(ROOT, "description").ok().flatten().is_some())).await);
}

/// Each Automerge actor belongs to the account that first sent a change by it: the
/// procuratorate, given the record, cannot write under the federation's actor (refused for
/// that record alone, nothing applied), its own actor is bound to it, and readers get both
/// bindings from `GET /api/docs/{id}/actors`.
async fn a_change_under_another_accounts_actor_is_refused_and_not_applied(backend: Backend) {
    let server = TestServer::start(backend).await;
    let fed_token = server.token("fed-li").await;
    let proc_token = server.token("proc-wang").await;
    let id = new_doc_id();
    let fed_actor = automerge::ActorId::from(b"li's phone".as_slice());
    let mut fed = Client::connect(&server, &fed_token, "fed-phone").await;
    fed.open(id, vec![]).await;
    let doc = fed.node.doc_mut(id).unwrap();
    doc.set_actor(fed_actor.clone());
    doc.put(ROOT, "description", "邻居反映").unwrap();
    fed.changed(id).await;
    assert!(fed.synced(id).await);
    let saved = fed.node.doc_mut(id).unwrap().save();
    let shared = reqwest::Client::new()
        .post(server.http(&format!("/api/docs/{id}/share")))
        .bearer_auth(&fed_token)
        .json(&serde_json::json!({ "org": "county-procuratorate" }))
        .send()
        .await
        .unwrap();
    assert_eq!(shared.status(), 200);

    // The procuratorate writes as the federation's actor: refused, saying why, connection kept.
    let mut forger = Client::connect(&server, &proc_token, "proc-laptop").await;
    let other = new_doc_id();
    forger.open(other, vec![]).await;
    forger.node.doc_mut(other).unwrap().put(ROOT, "description", "its own record").unwrap();
    forger.changed(other).await;
    assert!(forger.synced(other).await);
    let mut forged = automerge::AutoCommit::load(&saved).unwrap().with_actor(fed_actor.clone());
    forged.put(ROOT, "description", "the federation withdrew this").unwrap();
    forger.open(id, vec![forged.save()]).await;
    assert!(forger.pump_until(|c| c.refusals.iter().any(|(d, _)| *d == id)).await, "refused: {:?}", forger.unavailable);
    let reason = &forger.refusals.iter().find(|(d, _)| *d == id).unwrap().1;
    assert!(reason.contains("belongs to another account"), "{reason}");
    assert!(forger.closed.is_none(), "the connection stays");
    // Its other record still syncs on that connection.
    forger.node.doc_mut(other).unwrap().put(ROOT, "note", "later").unwrap();
    forger.changed(other).await;
    assert!(forger.synced(other).await, "another record goes on syncing");

    let mut check = Client::connect(&server, &fed_token, "fed-check").await;
    check.open(id, vec![]).await;
    assert!(check.synced(id).await);
    assert_eq!(check.node.doc(id).unwrap().get(ROOT, "description").unwrap().unwrap().0.as_str(), Some("邻居反映"), "not applied");

    // Under its own actor the procuratorate's change is taken, and bound to it.
    let mut honest = Client::connect(&server, &proc_token, "proc-desk").await;
    honest.open(id, vec![]).await;
    assert!(honest.synced(id).await);
    let doc = honest.node.doc_mut(id).unwrap();
    let proc_actor = doc.get_actor().clone();
    doc.put(ROOT, "accepted", true).unwrap();
    honest.changed(id).await;
    assert!(honest.synced(id).await);
    assert!(honest.refusals.is_empty(), "{:?}", honest.refusals);

    let actors: Vec<shared::api::ActorBinding> = reqwest::Client::new()
        .get(server.http(&format!("/api/docs/{id}/actors")))
        .bearer_auth(&proc_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let who = |actor: &automerge::ActorId| {
        actors.iter().find(|a| a.actor == actor.to_hex_string()).map(|a| (a.username.as_str(), a.org_id.as_str()))
    };
    assert_eq!(who(&fed_actor), Some(("fed-li", "county-federation")), "{actors:?}");
    assert_eq!(who(&proc_actor), Some(("proc-wang", "county-procuratorate")), "{actors:?}");
    assert_eq!(actors.len(), 2, "{actors:?}");

    // An organisation without access reads it as missing.
    let court = server.token("court-zhao").await;
    let hidden = reqwest::Client::new().get(server.http(&format!("/api/docs/{id}/actors"))).bearer_auth(&court).send().await.unwrap();
    assert_eq!(hidden.status(), 404);
}

/// Case steps over real sockets: a transfer gives the procuratorate the record; a step written
/// as another organisation's, or one that breaks its guard, is refused for that record and not
/// applied; a return ends the procuratorate's access.
async fn case_steps_are_checked_and_a_return_ends_the_receivers_access(backend: Backend) {
    use shared::case;
    let server = TestServer::start(backend).await;
    let fed_token = server.token("fed-li").await;
    let proc_token = server.token("proc-wang").await;
    let me = |token: String| {
        let url = server.http("/api/me");
        async move { reqwest::Client::new().get(url).bearer_auth(token).send().await.unwrap().json::<shared::api::User>().await.unwrap() }
    };
    let (li, wang) = (me(fed_token.clone()).await, me(proc_token.clone()).await);
    let (fed_org, proc_org) = (li.org_id.as_str(), wang.org_id.as_str());
    let take = |doc: &mut automerge::AutoCommit, who: &shared::api::User, step: &str, id: &str, data: &[(&str, &str)]| {
        case::take(doc, "intake", fed_org, step, id, &who.id.to_string(), &who.org_id, 1_000, case::admit::data(data), None).unwrap();
    };

    // The federation records a case clue with consent and transfers it.
    let id = new_doc_id();
    let meta = shared::record::RecordMeta {
        kind: shared::form::RecordKind::new("intake"),
        form_id: "intake".into(),
        form_version: 2,
        created_by: li.username.clone(),
        created_at: 0,
    };
    let mut record = shared::record::Record::create(id, &meta);
    let consent = record.form().unwrap().fields.iter().find(|f| f.id == "consent").unwrap();
    record.set(consent, Some(shared::record::FieldValue::Choice("given".into())), 0).unwrap();
    let mut fed = Client::connect(&server, &fed_token, "fed-phone").await;
    fed.open(id, vec![record.save()]).await;
    take(fed.node.doc_mut(id).unwrap(), &li, "transfer", "t1", &[("to_org", proc_org), ("basis", "consent")]);
    fed.changed(id).await;
    assert!(fed.synced(id).await);
    assert!(
        fed.pump_until(|c| case::log::read(c.node.doc(id).unwrap()).received.contains_key("t1")).await,
        "the server's receipt comes back"
    );

    // The procuratorate may now read it, with no share by hand.
    let mut desk = Client::connect(&server, &proc_token, "proc-desk").await;
    desk.open(id, vec![]).await;
    assert!(desk.synced(id).await, "{:?}", desk.unavailable);
    assert_eq!(case::state(desk.node.doc(id).unwrap(), "intake").unwrap().state.id, "transferred");

    // Nor may the federation share it, or withdraw it, by hand: that would walk around the
    // consent guard, and the steps alone say who reads a case.
    let http = reqwest::Client::new();
    let share = http
        .post(server.http(&format!("/api/docs/{id}/share")))
        .bearer_auth(&fed_token)
        .json(&serde_json::json!({ "org": "county-court" }));
    let share = share.send().await.unwrap();
    assert_eq!(share.status(), 409);
    assert!(share.text().await.unwrap().contains("case steps"));
    let unshare = http.delete(server.http(&format!("/api/docs/{id}/share/{proc_org}"))).bearer_auth(&fed_token).send().await.unwrap();
    assert_eq!(unshare.status(), 409);
    let access = http.get(server.http(&format!("/api/docs/{id}/access"))).bearer_auth(&fed_token).send().await.unwrap();
    assert_eq!(access.json::<shared::api::DocAccess>().await.unwrap().shared_with, vec![proc_org.to_owned()]);

    // Written as the federation's step by the procuratorate: refused, not applied.
    let mut forger = Client::connect(&server, &proc_token, "proc-forger").await;
    let mut forged = desk.node.doc_mut(id).unwrap().fork();
    take(&mut forged, &li, "withdraw", "w1", &[]);
    forger.open(id, vec![forged.save()]).await;
    assert!(forger.pump_until(|c| c.refusals.iter().any(|(d, _)| *d == id)).await);
    let reason = &forger.refusals.iter().find(|(d, _)| *d == id).unwrap().1;
    assert!(reason.contains("another user's or organisation's"), "{reason}");
    // A result before acceptance, as itself: refused too.
    let mut early = Client::connect(&server, &proc_token, "proc-early").await;
    let mut doc = desk.node.doc_mut(id).unwrap().fork();
    let result = case::Event {
        id: "x1".into(),
        step: "report_result".into(),
        by_user: wang.id.to_string(),
        by_org: wang.org_id.clone(),
        at: 2_000,
        prev: "t1".into(),
        data: case::admit::data(&[("outcome", "prosecuted"), ("date", "2026-12-20")]),
    };
    case::log::append(&mut doc, &result, None).unwrap();
    early.open(id, vec![doc.save()]).await;
    assert!(early.pump_until(|c| c.refusals.iter().any(|(d, _)| *d == id)).await);
    assert!(early.refusals.iter().any(|(_, r)| r.contains("present state")), "{:?}", early.refusals);
    let mut check = Client::connect(&server, &fed_token, "fed-check").await;
    check.open(id, vec![]).await;
    assert!(check.synced(id).await);
    let log = case::log::read(check.node.doc(id).unwrap());
    assert_eq!(log.events.keys().collect::<Vec<_>>(), vec!["t1"], "neither forged step was applied");

    // A case clue transferred to the court, which the register says is no procuratorate: the
    // step is kept (the record stays syncable) but void by the server's receipt, and the court
    // never reads it.
    let to_court = new_doc_id();
    let mut record = shared::record::Record::create(to_court, &meta);
    record.set(consent, Some(shared::record::FieldValue::Choice("given".into())), 0).unwrap();
    let mut wrong = Client::connect(&server, &fed_token, "fed-wrong").await;
    let mut doc = record.into_doc();
    take(&mut doc, &li, "transfer", "t1", &[("to_org", "county-court"), ("basis", "consent")]);
    wrong.open(to_court, vec![doc.save()]).await;
    assert!(
        wrong.pump_until(|c| case::log::read(c.node.doc(to_court).unwrap()).received.get("t1").is_some_and(|r| r.void)).await,
        "the receipt says the server did not count it: {:?}",
        wrong.refusals
    );
    let now = case::state(wrong.node.doc(to_court).unwrap(), "intake").unwrap();
    assert_eq!((now.state.id, now.receiver), ("recorded", None));
    let court_token = server.token("court-zhao").await;
    let court_access = http.get(server.http(&format!("/api/docs/{to_court}/access"))).bearer_auth(&court_token).send().await.unwrap();
    assert_eq!(court_access.status(), 404, "the court was not given the record");

    // The procuratorate returns it: its access ends, and its open socket is told so without
    // asking (its devices then drop their copies, told by the feed).
    take(desk.node.doc_mut(id).unwrap(), &wang, "return", "r1", &[("reason", "not_competent")]);
    desk.changed(id).await;
    assert!(check.pump_until(|c| case::log::read(c.node.doc(id).unwrap()).received.contains_key("r1")).await, "the return is in");
    assert!(desk.pump_until(|c| c.unavailable.contains(&id)).await, "the receiver's socket hears that the record is gone");
    let access = reqwest::Client::new().get(server.http(&format!("/api/docs/{id}/access"))).bearer_auth(&proc_token).send().await.unwrap();
    assert_eq!(access.status(), 404, "the receiver no longer reads it");
    // Its devices hear from the feed that the record is gone, to delete their copies; the
    // owner's never do.
    let feed = |token: String| {
        let url = server.http("/api/docs?since=0");
        async move { reqwest::Client::new().get(url).bearer_auth(token).send().await.unwrap().json::<shared::api::Feed>().await.unwrap() }
    };
    let proc_feed = feed(proc_token.clone()).await;
    assert_eq!(proc_feed.gone, vec![id.to_string()]);
    assert!(proc_feed.docs.iter().all(|d| d.id != id.to_string()));
    assert!(feed(fed_token.clone()).await.gone.is_empty());
    let mut later = Client::connect(&server, &proc_token, "proc-later").await;
    later.open(id, vec![]).await;
    assert!(later.pump_until(|c| c.unavailable.contains(&id)).await, "a new connection is told it is unavailable");
    assert!(check.pump_until(|c| case::state(c.node.doc(id).unwrap(), "intake").unwrap().state.id == "returned").await);

    // Transferred again and withdrawn: the procuratorate's open socket never hears the
    // withdraw (nor its reason); its next word about the record is refused. (The refusals
    // above dropped the record from the server's memory, ending its sessions: a device offers
    // it again on its next round, here a new connection.)
    let mut fed = Client::connect(&server, &fed_token, "fed-phone-again").await;
    fed.open(id, vec![]).await;
    assert!(fed.synced(id).await);
    assert_eq!(case::state(fed.node.doc(id).unwrap(), "intake").unwrap().state.id, "returned");
    take(fed.node.doc_mut(id).unwrap(), &li, "transfer", "t2", &[("to_org", proc_org), ("basis", "consent")]);
    fed.changed(id).await;
    assert!(fed.pump_until(|c| case::log::read(c.node.doc(id).unwrap()).received.contains_key("t2")).await);
    let mut open = Client::connect(&server, &proc_token, "proc-open").await;
    open.open(id, vec![]).await;
    assert!(open.synced(id).await);
    assert!(feed(proc_token.clone()).await.gone.is_empty(), "transferred again: no longer gone");
    case::take(
        fed.node.doc_mut(id).unwrap(),
        "intake",
        fed_org,
        "withdraw",
        "w1",
        &li.id.to_string(),
        fed_org,
        3_000,
        Default::default(),
        Some("W-REASON"),
    )
    .unwrap();
    fed.changed(id).await;
    assert!(fed.pump_until(|c| case::log::read(c.node.doc(id).unwrap()).received.contains_key("w1")).await);
    assert!(
        open.quiet_for(std::time::Duration::from_secs(3), |c| case::log::texts(c.node.doc(id).unwrap()).contains_key("w1")).await,
        "the withdraw did not reach the receiver"
    );
    assert_eq!(feed(proc_token.clone()).await.gone, vec![id.to_string()], "withdrawn: gone again");
    open.node.doc_mut(id).unwrap().put(ROOT, "late", true).unwrap();
    open.changed(id).await;
    assert!(open.pump_until(|c| c.unavailable.contains(&id) || c.refusals.iter().any(|(d, _)| *d == id)).await, "refused now");
}

on_both!(
    login_tokens_and_logout,
    an_expired_token_is_refused,
    another_organisation_cannot_read_or_write_a_record_until_it_is_shared,
    malformed_and_oversized_input_gets_an_error_and_the_server_lives_on,
    a_rejoin_with_the_same_peer_id_replaces_the_old_socket,
    a_killed_server_keeps_every_change_it_acknowledged,
    a_new_record_past_the_quota_is_refused_alone,
    a_change_under_another_accounts_actor_is_refused_and_not_applied,
    case_steps_are_checked_and_a_return_ends_the_receivers_access,
);

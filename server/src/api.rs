//! The HTTP API beside the sync socket: sign-in, the change feed, sharing.

use axum::Json;
use axum::extract::{Path, Query, State};
use futures_util::StreamExt;
use serde::Deserialize;
use shared::DocumentId;

use shared::api::{
    ActorBinding, DeviceKey, DocAccess, Feed, KeyRequest, LoginRequest, Org, ReceivedSignature, Session, ShareRequest, SignatureRequest,
    User,
};

use crate::auth::Authed;
use crate::error::AppError;
use crate::store::{Access, NewKey};
use crate::{AppState, audit, now_ms};
use crate::{accounts, blobs, signatures};

/// JSON bodies whose rejection is an [`AppError`] like every other failure.
pub struct AppJson<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for AppJson<T>
where
    axum::Json<T>: axum::extract::FromRequest<S, Rejection = axum::extract::rejection::JsonRejection>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        Ok(AppJson(axum::Json::<T>::from_request(req, state).await?.0))
    }
}

pub async fn session_create(State(state): State<AppState>, AppJson(req): AppJson<LoginRequest>) -> Result<Json<Session>, AppError> {
    // Argon2 takes tens of milliseconds and 7 MiB: it runs on the blocking pool, so a burst of sign-in attempts cannot stall sync, and at most two at a time, so a flood of
    // attempts queues instead of taking memory for each.
    static HASHING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);
    let started = std::time::Instant::now();
    if let Err(wait) = state.logins.check(&req.username, started) {
        tracing::warn!(username = %shared::sync::node::peer_text(&req.username), "sign-in refused: too many wrong passwords");
        return Err(AppError::TooManyAttempts { retry_after_s: wait.as_secs_f64().ceil() as u64 });
    }
    let stored = state.store.password_hash(&req.username).await?;
    let hash = stored.as_ref().map(|(_, h)| h.clone());
    let known = stored.as_ref().map(|(id, _)| *id);
    let permit = HASHING.acquire().await.map_err(|e| AppError::Internal(e.to_string()))?;
    // The permit goes with the hash into the blocking pool: a client that hangs up does not
    // free it while the hash still runs.
    let verified = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        accounts::verify_password(hash.as_deref(), &req.password)
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?;
    let Some((user_id, _)) = stored.filter(|_| verified) else {
        state.logins.failed(&req.username, std::time::Instant::now());
        tracing::info!(username = %shared::sync::node::peer_text(&req.username), "sign-in failed");
        // A wrong password for a known account is its organisation's to see (someone trying a
        // colleague's account); an unknown username belongs to no organisation.
        // The lookup runs for an unknown username too (account 0 is never issued), so the
        // answer takes as long either way and does not tell which usernames exist.
        let entry = match (known, state.store.user(known.unwrap_or(0)).await) {
            (Some(_), Ok(Some(user))) => audit::Entry::by(audit::Action::SignInFailed, &user),
            (account, _) => audit::Entry { account, ..audit::Entry::new(audit::Action::SignInFailed, now_ms()) },
        };
        audit::record(&*state.store, audit::Entry { username: req.username.clone(), ..entry }).await;
        return Err(AppError::BadLogin);
    };
    state.logins.succeeded(&req.username);
    let user = state.store.user(user_id).await?.ok_or(AppError::BadLogin)?;
    let (token, expires_at) = accounts::issue_token(&*state.store, user.id, now_ms()).await?;
    let reply = Session { token, expires_at, user };
    tracing::info!(user = reply.user.id, org = %reply.user.org_id, "signed in");
    audit::record(&*state.store, audit::Entry::by(audit::Action::SignIn, &reply.user)).await;
    Ok(Json(reply))
}

pub async fn session_delete(State(state): State<AppState>, authed: Authed) -> Result<Json<serde_json::Value>, AppError> {
    let token = authed.token.clone();
    // Sockets opened with the token end too: signing out stops sync at once.
    together(async move {
        // The device's signing key stops speaking for its user with the session: first, so
        // that a failure here leaves the token to sign out with again.
        state.store.keys_revoke_for_token(&accounts::token_hash(&token), now_ms()).await?;
        accounts::revoke_token(&*state.store, &token).await?;
        state.hub.logout(&authed.token).await;
        Ok(())
    })
    .await?;
    Ok(Json(serde_json::json!({ "ok": true })))
}

pub async fn me_get(authed: Authed) -> Json<User> {
    Json(authed.user)
}

#[derive(Deserialize)]
pub struct FeedQuery {
    #[serde(default)]
    pub since: i64,
}

const FEED_PAGE: i64 = 1000;

pub async fn docs_feed(State(state): State<AppState>, authed: Authed, Query(q): Query<FeedQuery>) -> Result<Json<Feed>, AppError> {
    let org = authed.user.org_id.clone();
    let (docs, latest) = state.store.feed(&org, q.since, FEED_PAGE + 1).await?;
    let more = docs.len() as i64 > FEED_PAGE;
    let docs: Vec<_> = docs.into_iter().take(FEED_PAGE as usize).collect();
    let last_seq = if more { docs.last().map_or(q.since, |d| d.seq) } else { latest.max(q.since) };
    let gone = state.store.feed_gone(&org, q.since).await?;
    Ok(Json(Feed { docs, last_seq, more, gone }))
}

#[derive(Deserialize)]
pub struct FeedWaitQuery {
    /// How long to wait, at most [`FEED_WAIT_MS`] (the default).
    pub timeout_ms: Option<u64>,
}

/// Longest a feed wait is held: under the idle timeouts of common proxies.
pub const FEED_WAIT_MS: u64 = 25_000;

/// `GET /api/docs/wait`: answers `{"changed": true}` as soon as the organisation's access to
/// some record changes (a case clue transferred to it, a share, a return), or `false` after
/// the timeout. The device then asks the feed, so a transferred record shows in the
/// receiver's inbox within moments rather than at its next poll. It carries no record ids:
/// the feed, with its checks, says what changed.
pub async fn docs_wait(State(state): State<AppState>, authed: Authed, Query(q): Query<FeedWaitQuery>) -> Json<serde_json::Value> {
    let org = authed.user.org_id;
    let timeout = std::time::Duration::from_millis(q.timeout_ms.unwrap_or(FEED_WAIT_MS).min(FEED_WAIT_MS));
    let mut changes = state.hub.access_changes();
    let mut closing = state.closing.subscribe();
    let heard = tokio::time::timeout(timeout, async {
        loop {
            match changes.recv().await {
                Ok(changed) if changed == org => return true,
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => return true,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
            }
        }
    });
    let heard = tokio::select! {
        heard = heard => heard.unwrap_or(false),
        _ = closing.wait_for(|c| *c) => false,
    };
    Json(serde_json::json!({ "changed": heard }))
}

pub async fn doc_share_create(
    State(state): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
    AppJson(req): AppJson<ShareRequest>,
) -> Result<Json<serde_json::Value>, AppError> {
    let id: DocumentId = id.parse().map_err(|_| AppError::NotFound("document not found".into()))?;
    let owner = authed.user.org_id.clone();
    by_hand(&state, id, &owner).await?;
    let (org, shared_with) = (req.org.clone(), req.org.clone());
    // Open connections of that organisation that were refused the document ask again.
    let hub = state.hub.clone();
    let entry = audit::Entry { doc: Some(id.to_string()), detail: req.org.clone(), ..audit::Entry::by(audit::Action::Share, &authed.user) };
    together(async move {
        state.store.doc_share(id, &owner, &org).await?;
        audit::record(&*state.store, entry).await;
        hub.access_changed(id, shared_with).await;
        Ok(())
    })
    .await?;
    tracing::info!(doc = %id, by = authed.user.id, to = %req.org, "shared");
    Ok(Json(serde_json::json!({ "ok": true })))
}

pub async fn doc_share_delete(
    State(state): State<AppState>,
    authed: Authed,
    Path((id, org)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, AppError> {
    let id: DocumentId = id.parse().map_err(|_| AppError::NotFound("document not found".into()))?;
    let owner = authed.user.org_id.clone();
    by_hand(&state, id, &owner).await?;
    let (o, changed) = (org.clone(), org.clone());
    // Open sync sessions of that organisation lose the document now, not at next connect.
    let entry = audit::Entry { doc: Some(id.to_string()), detail: org.clone(), ..audit::Entry::by(audit::Action::Unshare, &authed.user) };
    together(async move {
        state.store.doc_revoke(id, &owner, &o).await?;
        audit::record(&*state.store, entry).await;
        state.hub.access_changed(id, changed).await;
        Ok(())
    })
    .await?;
    tracing::info!(doc = %id, by = authed.user.id, from = %org, "access revoked");
    Ok(Json(serde_json::json!({ "ok": true })))
}

/// Refuses to share or withdraw by hand a record `owner` owns whose access its case steps
/// give and end (an intake record is shared by transferring it, which checks consent).
async fn by_hand(state: &AppState, id: DocumentId, owner: &str) -> Result<(), AppError> {
    if state.store.doc_owner(id).await?.as_deref() != Some(owner) {
        return Err(AppError::NotFound(format!("document {id} not found")));
    }
    let copy = crate::store::doc_from_chunks(&state.store.chunks_load(id).await?);
    match shared::case::admit::workflow_of(&copy) {
        Some(wf) => Err(AppError::Conflict(format!(
            "a {} record is shared and withdrawn by its case steps (transfer, entrust, withdraw), not by hand",
            wf.kind
        ))),
        None => Ok(()),
    }
}

pub async fn doc_access_get(State(state): State<AppState>, authed: Authed, Path(id): Path<String>) -> Result<Json<DocAccess>, AppError> {
    let id: DocumentId = id.parse().map_err(|_| AppError::NotFound("document not found".into()))?;
    let org = authed.user.org_id.clone();
    if state.store.doc_access(id, &org).await? != Access::Allowed {
        return Err(AppError::NotFound("document not found".into()));
    }
    let owner = state.store.doc_owner(id).await?.as_deref() == Some(org.as_str());
    Ok(Json(DocAccess { owner, shared_with: state.store.doc_shared_with(id).await? }))
}

/// Who each Automerge actor of a document is, as the sync server bound it: the authorship
/// the app shows, instead of what devices wrote into `meta.actors`.
pub async fn doc_actors(
    State(state): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
) -> Result<Json<Vec<ActorBinding>>, AppError> {
    let id: DocumentId = id.parse().map_err(|_| AppError::NotFound("document not found".into()))?;
    if state.store.doc_access(id, &authed.user.org_id).await? != Access::Allowed {
        return Err(AppError::NotFound("document not found".into()));
    }
    Ok(Json(state.store.doc_actors(id).await?))
}

/// Registers this device's public signing key for the signed-in user; signing out of this
/// session revokes it.
pub async fn key_create(
    State(state): State<AppState>,
    authed: Authed,
    AppJson(req): AppJson<KeyRequest>,
) -> Result<Json<DeviceKey>, AppError> {
    let public = shared::agreement::parse_public_key(&req.public_key)
        .ok_or_else(|| AppError::BadRequest("public_key must be an Ed25519 public key: 32 bytes in hex".into()))?;
    let key = NewKey {
        key_id: shared::agreement::key_id(&public),
        public_key: req.public_key.to_ascii_lowercase(),
        user_id: authed.user.id,
        token_hash: accounts::token_hash(&authed.token),
        added_at: now_ms(),
        expires_at: authed.expires_at,
    };
    state.store.key_add(&key).await?;
    let entry = state.store.keys().await?.into_iter().find(|k| k.key_id == key.key_id);
    let entry = entry.ok_or_else(|| AppError::Internal("a key just registered is not listed".into()))?;
    tracing::info!(user = authed.user.id, key = %entry.key_id, "device key registered");
    Ok(Json(entry))
}

/// The directory of device keys, revoked ones included, for verifying signatures offline.
pub async fn keys_list(State(state): State<AppState>, _authed: Authed) -> Result<Json<Vec<DeviceKey>>, AppError> {
    Ok(Json(state.store.keys().await?))
}

/// One party's signature on an agreement, checked and kept by the server.
pub async fn signature_create(
    State(state): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
    AppJson(req): AppJson<SignatureRequest>,
) -> Result<Json<ReceivedSignature>, AppError> {
    let id: DocumentId = id.parse().map_err(|_| AppError::NotFound("document not found".into()))?;
    let now = now_ms();
    let accepted = signatures::accept(&*state.store, id, &authed.user, req, now).await?;
    // A signature sent again gets what was kept first, and no second row.
    if accepted.received_at == now {
        let entry = audit::Entry {
            doc: Some(id.to_string()),
            detail: accepted.proposal.id.clone(),
            ..audit::Entry::by(audit::Action::Sign, &authed.user)
        };
        audit::record(&*state.store, entry).await;
    }
    Ok(Json(accepted))
}

/// The signatures the server keeps for an agreement.
pub async fn signatures_list(
    State(state): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
) -> Result<Json<Vec<ReceivedSignature>>, AppError> {
    let id: DocumentId = id.parse().map_err(|_| AppError::NotFound("document not found".into()))?;
    Ok(Json(signatures::list(&*state.store, id, &authed.user).await?))
}

pub async fn orgs_list(State(state): State<AppState>, _authed: Authed) -> Result<Json<Vec<Org>>, AppError> {
    Ok(Json(state.store.orgs().await?))
}

/// Where an upload of the attachment `hash` to record `id` stands (to resume it).
pub async fn blob_upload_get(
    State(state): State<AppState>,
    authed: Authed,
    Path((id, hash)): Path<(String, String)>,
) -> Result<Json<blobs::Progress>, AppError> {
    let id = readable_doc(&state, &authed, &id).await?;
    blobs::check_hash(&hash)?;
    let progress = state.store.blob_progress(id, &hash).await?;
    Ok(Json(progress.unwrap_or(blobs::Progress { received: 0, total: 0, complete: false })))
}

#[derive(Deserialize)]
pub struct PartQuery {
    offset: u64,
    total: u64,
}

/// One part of an attachment's upload: `?offset=` where the upload stands, `&total=` its size.
pub async fn blob_put(
    State(state): State<AppState>,
    authed: Authed,
    Path((id, hash)): Path<(String, String)>,
    Query(q): Query<PartQuery>,
    body: axum::body::Bytes,
) -> Result<Json<blobs::Progress>, AppError> {
    let id = readable_doc(&state, &authed, &id).await?;
    blobs::check_upload(&hash, q.total)?;
    if q.offset == 0 && state.store.blob_progress(id, &hash).await?.is_none_or(|p| !p.complete) {
        let quota = state.config.quota.blob_bytes_per_org;
        // Charged to the organisation that owns the record, whoever uploads.
        let owner = state.store.doc_owner(id).await?.unwrap_or_else(|| authed.user.org_id.clone());
        let usage = state.store.org_usage(&owner).await?;
        if usage.blob_bytes + q.total > quota {
            return Err(AppError::TooLarge(format!(
                "this organisation's attachments have reached their quota of {} MiB; ask the server's administrator",
                quota / (1024 * 1024)
            )));
        }
        // Only attachments a record refers to: the server is no store for arbitrary files.
        let chunks = state.store.chunks_load(id).await?;
        let check = hash.clone();
        let referenced = tokio::task::spawn_blocking(move || blobs::referenced(&chunks, &check))
            .await
            .map_err(|e| AppError::Internal(format!("the reference check failed: {e}")))?;
        if !referenced {
            return Err(blobs::BlobError::NotReferenced.into());
        }
    }
    let progress = state.store.blob_put_part(id, &hash, q.total, q.offset, &body).await??;
    if progress.complete {
        tracing::info!(doc = %id, user = authed.user.id, bytes = progress.total, "attachment stored");
    }
    Ok(Json(progress))
}

/// A complete attachment's bytes, for anyone who may read its record.
pub async fn blob_get(
    State(state): State<AppState>,
    authed: Authed,
    Path((id, hash)): Path<(String, String)>,
) -> Result<impl axum::response::IntoResponse, AppError> {
    let id = readable_doc(&state, &authed, &id).await?;
    blobs::check_hash(&hash)?;
    let (total, offsets) = state.store.blob_parts(id, &hash).await?.ok_or_else(|| AppError::NotFound("attachment not found".into()))?;
    let entry = audit::Entry {
        doc: Some(id.to_string()),
        detail: hash.chars().take(12).collect(),
        ..audit::Entry::by(audit::Action::Download, &authed.user)
    };
    audit::record(&*state.store, entry).await;
    // Streamed part by part: a download holds one part in memory, not the whole attachment.
    let store = state.store.clone();
    let parts = futures_util::stream::iter(offsets).then(move |offset| {
        let (store, hash) = (store.clone(), hash.clone());
        async move { store.blob_part(id, &hash, offset).await.map(axum::body::Bytes::from).map_err(std::io::Error::other) }
    });
    // Never in the browser's HTTP cache: the app keeps its own copy in IndexedDB, and a
    // survivor's photo must not outlive it somewhere else on the phone.
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (axum::http::header::CACHE_CONTROL, "no-store".to_owned()),
            (axum::http::header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            (axum::http::header::CONTENT_LENGTH, total.to_string()),
        ],
        axum::body::Body::from_stream(parts),
    ))
}

/// Runs a database change and the notice to open connections that must follow it as one
/// task: a client hanging up mid-request drops the handler, and must not leave a committed
/// revoke that open sockets never heard of.
async fn together(work: impl Future<Output = Result<(), AppError>> + Send + 'static) -> Result<(), AppError> {
    tokio::spawn(work).await.map_err(|e| AppError::Internal(e.to_string()))?
}

/// The record `id` if the signed-in organisation may read it; otherwise not found, as for a
/// record that does not exist.
async fn readable_doc(state: &AppState, authed: &Authed, id: &str) -> Result<DocumentId, AppError> {
    let not_found = || AppError::NotFound("document not found".into());
    let id: DocumentId = id.parse().map_err(|_| not_found())?;
    let org = authed.user.org_id.clone();
    match state.store.doc_access(id, &org).await? {
        Access::Allowed => Ok(id),
        Access::Missing | Access::Denied => Err(not_found()),
    }
}

/// The audit trail an organisation's administrator sees: its own people's actions, and
/// anyone's on a record it owns (a read by the organisation a case went to). Newest first,
/// 200 rows a page. A member is refused: who looked at which survivor's record is itself
/// need-to-know.
pub async fn audit_list(
    State(state): State<AppState>,
    authed: Authed,
    Query(filter): Query<audit::Filter>,
) -> Result<Json<shared::api::AuditPage>, AppError> {
    const PAGE: i64 = 200;
    if !authed.user.admin {
        return Err(AppError::Forbidden("only an organisation's administrator sees its audit trail".into()));
    }
    let mut rows = state.store.audit_for_org(&authed.user.org_id, &filter, PAGE + 1).await?;
    let more = rows.len() as i64 > PAGE;
    rows.truncate(PAGE as usize);
    let rows = rows
        .into_iter()
        .map(|r| shared::api::AuditRow {
            seq: r.seq,
            at: r.entry.at,
            action: r.entry.action,
            username: r.entry.username,
            org: r.entry.org,
            doc: r.entry.doc,
            detail: r.entry.detail,
            device: r.entry.device,
        })
        .collect();
    Ok(Json(shared::api::AuditPage { rows, more }))
}

/// An export or print a device reports (queued while it was offline): one audit row.
pub async fn audit_event_create(
    State(state): State<AppState>,
    authed: Authed,
    AppJson(event): AppJson<shared::api::ReportedEvent>,
) -> Result<Json<serde_json::Value>, AppError> {
    let entry = audit::reported(&authed.user, &event).map_err(|why| AppError::BadRequest(why.into()))?;
    // Unlike the rows the server writes for itself, this one is the request's whole point:
    // a failure is the device's to retry.
    state.store.audit_append(&entry).await?;
    Ok(Json(serde_json::json!({ "recorded": true })))
}

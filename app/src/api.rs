//! Calls to the server's HTTP API. Every network call of the app except the sync socket is here.

use gloo_net::http::{Request, Response};
use serde::Deserialize;
use shared::DocumentId;

pub use shared::api::{
    ActorBinding, AuditPage, DeviceKey, DocAccess, Feed, KeyRequest, Org, ReceivedSignature, Session, SignatureRequest, User,
};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("the server could not be reached")]
    Network,
    #[error("the session has expired; sign in again")]
    Unauthorized,
    /// Missing, or not this organisation's to read: the server answers both alike.
    #[error("{0}")]
    NotFound(String),
    /// Too many wrong passwords: sign-in waits this many seconds.
    #[error("too many wrong passwords; try again in {0} s")]
    TooManyAttempts(u64),
    #[error("{0}")]
    Server(String),
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
}

async fn check(result: Result<Response, gloo_net::Error>) -> Result<Response, ApiError> {
    let response = result.map_err(|_| ApiError::Network)?;
    match response.status() {
        200..=299 => Ok(response),
        401 => Err(ApiError::Unauthorized),
        429 => {
            let wait = response.headers().get("retry-after").and_then(|v| v.parse().ok()).unwrap_or(60);
            Err(ApiError::TooManyAttempts(wait))
        }
        status => {
            let message = response.json::<ErrorBody>().await.map(|b| b.error).unwrap_or_else(|_| format!("HTTP {status}"));
            Err(if status == 404 { ApiError::NotFound(message) } else { ApiError::Server(message) })
        }
    }
}

async fn json<T: for<'de> Deserialize<'de>>(r: Response) -> Result<T, ApiError> {
    r.json().await.map_err(|e| ApiError::Server(e.to_string()))
}

pub async fn login(username: &str, password: &str) -> Result<Session, ApiError> {
    let body = serde_json::json!({ "username": username, "password": password });
    let r = Request::post("/api/login").json(&body).map_err(|e| ApiError::Server(e.to_string()))?.send().await;
    // 401 here means a wrong username or password (the sign-in page says so in the person's
    // language), not an expired session.
    json(check(r).await?).await
}

pub async fn logout(token: &str) -> Result<(), ApiError> {
    check(Request::post("/api/logout").header("Authorization", &format!("Bearer {token}")).send().await).await?;
    Ok(())
}

pub async fn me(token: &str) -> Result<User, ApiError> {
    json(check(Request::get("/api/me").header("Authorization", &format!("Bearer {token}")).send().await).await?).await
}

pub async fn feed(token: &str, since: i64) -> Result<Feed, ApiError> {
    let url = format!("/api/docs?since={since}");
    json(check(Request::get(&url).header("Authorization", &format!("Bearer {token}")).send().await).await?).await
}

/// Waits (up to the server's limit, about 25 s) until this organisation's access to some
/// record changes; `true` when it did.
pub async fn feed_wait(token: &str) -> Result<bool, ApiError> {
    #[derive(serde::Deserialize)]
    struct Waited {
        changed: bool,
    }
    let waited: Waited =
        json(check(Request::get("/api/docs/wait").header("Authorization", &format!("Bearer {token}")).send().await).await?).await?;
    Ok(waited.changed)
}

pub async fn orgs(token: &str) -> Result<Vec<Org>, ApiError> {
    let orgs: Vec<Org> =
        json(check(Request::get("/api/orgs").header("Authorization", &format!("Bearer {token}")).send().await).await?).await?;
    // Kept for offline use: names on print and diff, receivers of a transfer made with no
    // signal.
    if let Ok(text) = serde_json::to_string(&orgs) {
        crate::platform::cache(ORGS_CACHE, &text);
    }
    Ok(orgs)
}

/// The register of organisations as last fetched on this device (`[{id, name, kind}, …]`).
/// A list cached before organisations had kinds does not read.
pub fn orgs_cached() -> Option<Vec<Org>> {
    crate::platform::cached(ORGS_CACHE).and_then(|s| serde_json::from_str(&s).ok())
}

const ORGS_CACHE: &str = "liaison.orgs";

pub async fn access(token: &str, id: DocumentId) -> Result<DocAccess, ApiError> {
    let url = format!("/api/docs/{id}/access");
    json(check(Request::get(&url).header("Authorization", &format!("Bearer {token}")).send().await).await?).await
}

pub async fn share(token: &str, id: DocumentId, org: &str) -> Result<(), ApiError> {
    let url = format!("/api/docs/{id}/share");
    let body = serde_json::json!({ "org": org });
    let r = Request::post(&url)
        .header("Authorization", &format!("Bearer {token}"))
        .json(&body)
        .map_err(|e| ApiError::Server(e.to_string()))?
        .send()
        .await;
    check(r).await?;
    Ok(())
}

/// Takes back `org`'s access to record `id` (only its owner may).
pub async fn unshare(token: &str, id: DocumentId, org: &str) -> Result<(), ApiError> {
    let url = format!("/api/docs/{id}/share/{org}");
    check(Request::delete(&url).header("Authorization", &format!("Bearer {token}")).send().await).await?;
    Ok(())
}

/// How far the server has an attachment of record `id`.
#[derive(Debug, Clone, Deserialize)]
pub struct UploadProgress {
    pub received: u64,
    pub total: u64,
    pub complete: bool,
}

pub async fn upload_progress(token: &str, id: DocumentId, hash: &str) -> Result<UploadProgress, ApiError> {
    let url = format!("/api/docs/{id}/blobs/{hash}/upload");
    json(check(Request::get(&url).header("Authorization", &format!("Bearer {token}")).send().await).await?).await
}

/// Sends `part`, which starts at `offset` of an attachment of `total` bytes.
pub async fn upload_part(
    token: &str,
    id: DocumentId,
    hash: &str,
    offset: u64,
    total: u64,
    part: &[u8],
) -> Result<UploadProgress, ApiError> {
    let url = format!("/api/docs/{id}/blobs/{hash}?offset={offset}&total={total}");
    let body = js_sys::Uint8Array::from(part);
    let r = Request::put(&url)
        .header("Authorization", &format!("Bearer {token}"))
        .header("Content-Type", "application/octet-stream")
        .body(body)
        .map_err(|e| ApiError::Server(e.to_string()))?
        .send()
        .await;
    json(check(r).await?).await
}

pub async fn download(token: &str, id: DocumentId, hash: &str) -> Result<Vec<u8>, ApiError> {
    let url = format!("/api/docs/{id}/blobs/{hash}");
    check(Request::get(&url).header("Authorization", &format!("Bearer {token}")).send().await)
        .await?
        .binary()
        .await
        .map_err(|_| ApiError::Network)
}

// ----- agreements -----

/// Registers this device's signing key for the session.
pub async fn register_key(token: &str, public_key: &str) -> Result<DeviceKey, ApiError> {
    let body = KeyRequest { public_key: public_key.to_owned() };
    let r = Request::post("/api/keys")
        .header("Authorization", &format!("Bearer {token}"))
        .json(&body)
        .map_err(|e| ApiError::Server(e.to_string()))?
        .send()
        .await;
    json(check(r).await?).await
}

/// The directory of device keys signatures are verified against.
pub async fn keys(token: &str) -> Result<Vec<DeviceKey>, ApiError> {
    json(check(Request::get("/api/keys").header("Authorization", &format!("Bearer {token}")).send().await).await?).await
}

/// The signatures the server accepted for an agreement.
pub async fn signatures(token: &str, id: DocumentId) -> Result<Vec<ReceivedSignature>, ApiError> {
    let url = format!("/api/docs/{id}/signatures");
    json(check(Request::get(&url).header("Authorization", &format!("Bearer {token}")).send().await).await?).await
}

/// Sends one signature for the server to check and keep.
pub async fn send_signature(token: &str, id: DocumentId, req: &SignatureRequest) -> Result<ReceivedSignature, ApiError> {
    let url = format!("/api/docs/{id}/signatures");
    let r = Request::post(&url)
        .header("Authorization", &format!("Bearer {token}"))
        .json(req)
        .map_err(|e| ApiError::Server(e.to_string()))?
        .send()
        .await;
    json(check(r).await?).await
}

/// Who each actor of a document is, as the server bound them.
pub async fn actors(token: &str, id: DocumentId) -> Result<Vec<ActorBinding>, ApiError> {
    let url = format!("/api/docs/{id}/actors");
    json(check(Request::get(&url).header("Authorization", &format!("Bearer {token}")).send().await).await?).await
}

/// A page of the organisation's audit trail (administrators only), newest first. `query` is
/// the filter's part of the URL, `?doc=…&user=…`, already encoded.
pub async fn audit(token: &str, query: &str) -> Result<AuditPage, ApiError> {
    let url = format!("/api/audit{query}");
    json(check(Request::get(&url).header("Authorization", &format!("Bearer {token}")).send().await).await?).await
}

const PENDING_EVENTS: &str = "liaison.audit.pending";

/// A report waiting on this device, with the account that made it: sent only with that
/// account's session, so another person signing in on the device is never credited with it.
#[derive(Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Queued {
    user: i64,
    event: shared::api::ReportedEvent,
}

fn queued() -> Vec<Queued> {
    crate::platform::cached(PENDING_EVENTS).and_then(|s| serde_json::from_str(&s).ok()).unwrap_or_default()
}

fn save_queue(queue: &[Queued]) {
    if let Ok(text) = serde_json::to_string(queue) {
        crate::platform::cache(PENDING_EVENTS, &text);
    }
}

thread_local! {
    /// Whether a send is under way: one at a time, so no report is sent twice.
    static SENDING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Reports an export or print by `user` for the audit trail: queued on this device first, so
/// one made offline (or whose page closes) is sent later ([`send_reported`]); sent now if the
/// server can be reached.
pub async fn report(token: &str, user: i64, event: shared::api::ReportedEvent) {
    let mut queue = queued();
    queue.push(Queued { user, event });
    save_queue(&queue);
    send_reported(token, user).await;
}

/// Sends `user`'s queued reports, oldest first. One the server took, or refused as malformed
/// (it never would take it), leaves the queue; at any other answer (no network, a server
/// error) the rest wait for the next try. The queue is read again at the end, so a report
/// queued meanwhile is kept.
pub async fn send_reported(token: &str, user: i64) {
    if SENDING.with(|s| s.replace(true)) {
        return;
    }
    let mut done = Vec::new();
    for q in queued().into_iter().filter(|q| q.user == user) {
        let answer = match Request::post("/api/audit/events").header("Authorization", &format!("Bearer {token}")).json(&q.event) {
            Ok(request) => request.send().await.map(|r| r.status()).unwrap_or(0),
            Err(_) => 400,
        };
        if !matches!(answer, 200..=299 | 400) {
            break;
        }
        done.push(q);
    }
    let mut queue = queued();
    for q in done {
        if let Some(i) = queue.iter().position(|e| *e == q) {
            queue.remove(i);
        }
    }
    save_queue(&queue);
    SENDING.with(|s| s.set(false));
}

/// Prints the page and reports the print (of `count` records) to the audit trail, with the
/// signed-in session's `token` (none: not signed in, nothing to report to).
pub fn print_and_report(session: Option<Session>, count: u32) {
    if let Some(w) = web_sys::window() {
        let _ = w.print();
    }
    let Some(session) = session else { return };
    let event = shared::api::ReportedEvent {
        action: "print".into(),
        format: "print".into(),
        count,
        personal: false,
        reason: String::new(),
        at: crate::platform::now_ms(),
        device: crate::platform::device_id(),
    };
    leptos::task::spawn_local(async move { report(&session.token, session.user.id, event).await });
}

//! Organisations, users, passwords and session tokens.
//!
//! Passwords are hashed with Argon2id at one of OWASP's equivalent parameter sets: 7 MiB, 5
//! passes, 1 lane (OWASP lists it beside 19 MiB × 2 passes as the same cost). The smaller
//! block matters on a county's small server, where sign-ins arrive together each morning;
//! hashes made with other parameters still verify with their own.
//! Session tokens are 256 random bits; the database keeps only their SHA-256, so a copy of
//! the database yields no usable token. Expiry and revocation are checked on every use.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use shared::case::workflow::ORG_KINDS;

use crate::store::{Store, StoreError};

/// How long a session token stays valid.
pub const TOKEN_TTL_MS: i64 = 7 * 24 * 60 * 60 * 1000;

pub use shared::api::User;

/// Adds an organisation of `kind`, one of [`ORG_KINDS`] (a case clue is transferred only to a
/// procuratorate, an entrustment only to a federation).
pub async fn create_org(store: &dyn Store, id: &str, name: &str, kind: &str) -> Result<(), StoreError> {
    if !valid_slug(id) {
        return Err(StoreError::Conflict(format!("organisation id `{id}` must be 1-64 of a-z, 0-9, - and _")));
    }
    check_kind(kind)?;
    store.org_create(id, name, kind).await
}

/// Changes what an organisation is. Steps already admitted stand; later ones are checked
/// against the new kind.
pub async fn set_org_kind(store: &dyn Store, id: &str, kind: &str) -> Result<(), StoreError> {
    check_kind(kind)?;
    store.org_set_kind(id, kind).await
}

/// What a user may be in their organisation.
pub const ROLES: [&str; 2] = ["admin", "member"];

/// Makes a user its organisation's administrator (`admin`) or a `member`.
pub async fn set_role(store: &dyn Store, username: &str, role: &str) -> Result<(), StoreError> {
    if !ROLES.contains(&role) {
        return Err(StoreError::Conflict(format!("a role is `admin` or `member`, not `{role}`")));
    }
    store.user_set_role(username, role).await
}

fn check_kind(kind: &str) -> Result<(), StoreError> {
    if ORG_KINDS.contains(&kind) {
        return Ok(());
    }
    Err(StoreError::Conflict(format!("an organisation's kind is one of {}, not `{kind}`", ORG_KINDS.join(", "))))
}

pub async fn create_user(store: &dyn Store, username: &str, display_name: &str, org_id: &str, password: &str) -> Result<i64, StoreError> {
    if !valid_slug(username) {
        return Err(StoreError::Conflict(format!("username `{username}` must be 1-64 of a-z, 0-9, - and _")));
    }
    if password.chars().count() < 10 {
        return Err(StoreError::Conflict("a password needs at least 10 characters".into()));
    }
    if !store.org_exists(org_id).await? {
        return Err(StoreError::NotFound(format!("organisation `{org_id}`")));
    }
    let password = password.to_owned();
    let hash = tokio::task::spawn_blocking(move || hash_password(&password)).await.map_err(|e| StoreError::Backend(e.to_string()))?;
    store.user_create(username, display_name, org_id, &hash).await
}

/// The user whose password this is, or `None` (for the command line and tests; the server
/// splits this in two so that at most two hashes run at a time).
pub async fn check_password(store: &dyn Store, username: &str, password: &str) -> Result<Option<User>, StoreError> {
    let row = store.password_hash(username).await?;
    let ok = verify_password(row.as_ref().map(|(_, h)| h.as_str()), password);
    match row {
        Some((id, _)) if ok => store.user(id).await,
        _ => Ok(None),
    }
}

/// Checks a password against a stored hash. With no hash (an unknown user) it checks against
/// a dummy one, so the answer takes as long and does not reveal which usernames exist.
pub fn verify_password(stored: Option<&str>, password: &str) -> bool {
    let hash = stored.unwrap_or(DUMMY_HASH.as_str());
    let ok = PasswordHash::new(hash).is_ok_and(|h| argon2().verify_password(password.as_bytes(), &h).is_ok());
    ok && stored.is_some()
}

/// What the database keeps of a session token.
pub fn token_hash(token: &str) -> String {
    shared::storage_key::chunk_hash(token.as_bytes())
}

/// Issues a new session token for `user_id`; returns the token and when it expires.
pub async fn issue_token(store: &dyn Store, user_id: i64, now: i64) -> Result<(String, i64), StoreError> {
    let token = crate::store::random_hex(32)?;
    let expires_at = now + TOKEN_TTL_MS;
    store.token_insert(&token_hash(&token), user_id, now, expires_at).await?;
    Ok((token, expires_at))
}

/// The user a token belongs to and when the token expires, if it is known, unexpired and not
/// revoked.
pub async fn user_for_token(store: &dyn Store, token: &str, now: i64) -> Result<Option<(User, i64)>, StoreError> {
    store.token_user(&token_hash(token), now).await
}

pub async fn revoke_token(store: &dyn Store, token: &str) -> Result<(), StoreError> {
    store.token_revoke(&token_hash(token)).await
}

fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(7 * 1024, 5, 1, None).expect("valid argon2 parameters"))
}

fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the OS random source works");
    let salt = SaltString::encode_b64(&salt).expect("16 bytes is a valid salt");
    argon2().hash_password(password.as_bytes(), &salt).expect("argon2 hashing cannot fail with valid parameters").to_string()
}

/// A real Argon2id hash of a random password, verified against when the username is unknown.
static DUMMY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let mut password = [0u8; 16];
    getrandom::fill(&mut password).expect("the OS random source works");
    hash_password(&String::from_utf8_lossy(&password))
});

fn valid_slug(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;

    fn store() -> SqliteStore {
        let mut b = [0u8; 8];
        getrandom::fill(&mut b).unwrap();
        let dir = std::env::temp_dir().join(format!("liaison-accounts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        SqliteStore::open(&dir.join(format!("{}.sqlite3", b.iter().map(|x| format!("{x:02x}")).collect::<String>()))).unwrap()
    }

    #[tokio::test]
    async fn passwords_tokens_expiry_and_revocation() {
        let store = store();
        let s: &dyn Store = &store;
        create_org(s, "fed", "县妇联", "federation").await.unwrap();
        let id = create_user(s, "li", "李", "fed", "correct horse battery").await.unwrap();
        assert!(check_password(s, "li", "wrong password!").await.unwrap().is_none());
        assert!(check_password(s, "nobody", "correct horse battery").await.unwrap().is_none());
        let user = check_password(s, "li", "correct horse battery").await.unwrap().unwrap();
        assert_eq!((user.id, user.org_id.as_str(), user.org_name.as_str()), (id, "fed", "县妇联"));

        let (token, expires) = issue_token(s, id, 1_000).await.unwrap();
        assert_eq!(user_for_token(s, &token, 2_000).await.unwrap(), Some((user.clone(), expires)));
        assert_eq!(user_for_token(s, &token, expires).await.unwrap(), None, "expired");
        assert_eq!(user_for_token(s, "not a token", 2_000).await.unwrap(), None);
        revoke_token(s, &token).await.unwrap();
        assert_eq!(user_for_token(s, &token, 2_000).await.unwrap(), None, "revoked");
        assert_ne!(token_hash(&token), token, "the database holds no usable token");
    }

    #[tokio::test]
    async fn bad_accounts_are_refused_clearly() {
        let store = store();
        let s: &dyn Store = &store;
        create_org(s, "fed", "县妇联", "federation").await.unwrap();
        assert!(matches!(create_org(s, "fed", "again", "federation").await, Err(StoreError::Conflict(_))));
        assert!(matches!(create_org(s, "Bad Org", "x", "court").await, Err(StoreError::Conflict(_))));
        let wrong = create_org(s, "proc", "县检察院", "prosecutor").await;
        assert!(matches!(&wrong, Err(StoreError::Conflict(m)) if m.contains("procuratorate")), "{wrong:?}");
        assert!(!s.org_exists("proc").await.unwrap());
        set_org_kind(s, "fed", "other").await.unwrap();
        assert_eq!(s.orgs().await.unwrap()[0].kind, "other");
        assert!(matches!(set_org_kind(s, "fed", "bank").await, Err(StoreError::Conflict(_))));
        assert!(matches!(set_org_kind(s, "nobody", "court").await, Err(StoreError::NotFound(_))));
        assert!(matches!(create_user(s, "wang", "王", "nope", "long enough pw").await, Err(StoreError::NotFound(_))));
        assert!(matches!(create_user(s, "wang", "王", "fed", "short").await, Err(StoreError::Conflict(_))));
        create_user(s, "wang", "王", "fed", "long enough pw").await.unwrap();
        assert!(matches!(create_user(s, "wang", "王", "fed", "long enough pw").await, Err(StoreError::Conflict(_))));
    }
}

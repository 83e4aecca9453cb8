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
use rusqlite::{Connection, OptionalExtension, params};

use crate::db::DbError;

/// How long a session token stays valid.
pub const TOKEN_TTL_MS: i64 = 7 * 24 * 60 * 60 * 1000;

pub use shared::api::User;

pub fn create_org(conn: &Connection, id: &str, name: &str) -> Result<(), DbError> {
    if !valid_slug(id) {
        return Err(DbError::Conflict(format!("organisation id `{id}` must be 1-64 of a-z, 0-9, - and _")));
    }
    let n = conn.execute("INSERT OR IGNORE INTO orgs (id, name) VALUES (?1, ?2)", params![id, name])?;
    if n == 0 {
        return Err(DbError::Conflict(format!("organisation `{id}` exists already")));
    }
    Ok(())
}

pub fn create_user(conn: &Connection, username: &str, display_name: &str, org_id: &str, password: &str) -> Result<i64, DbError> {
    if !valid_slug(username) {
        return Err(DbError::Conflict(format!("username `{username}` must be 1-64 of a-z, 0-9, - and _")));
    }
    if password.chars().count() < 10 {
        return Err(DbError::Conflict("a password needs at least 10 characters".into()));
    }
    let org_exists: bool = conn.query_row("SELECT EXISTS (SELECT 1 FROM orgs WHERE id = ?1)", [org_id], |r| r.get(0))?;
    if !org_exists {
        return Err(DbError::NotFound(format!("organisation `{org_id}`")));
    }
    let hash = hash_password(password);
    let n = conn.execute(
        "INSERT OR IGNORE INTO users (username, display_name, org_id, password_hash) VALUES (?1, ?2, ?3, ?4)",
        params![username, display_name, org_id, hash],
    )?;
    if n == 0 {
        return Err(DbError::Conflict(format!("user `{username}` exists already")));
    }
    Ok(conn.last_insert_rowid())
}

/// The user whose password this is, or `None` (for the command line and tests; the server
/// splits this in two so hashing happens outside the database lock).
pub fn check_password(conn: &Connection, username: &str, password: &str) -> Result<Option<User>, DbError> {
    let row = password_hash(conn, username)?;
    let ok = verify_password(row.as_ref().map(|(_, h)| h.as_str()), password);
    match row {
        Some((id, _)) if ok => user_by_id(conn, id),
        _ => Ok(None),
    }
}

/// A user's id and stored password hash.
pub fn password_hash(conn: &Connection, username: &str) -> Result<Option<(i64, String)>, DbError> {
    Ok(conn.query_row("SELECT id, password_hash FROM users WHERE username = ?1", [username], |r| Ok((r.get(0)?, r.get(1)?))).optional()?)
}

/// Checks a password against a stored hash. With no hash (an unknown user) it checks against
/// a dummy one, so the answer takes as long and does not reveal which usernames exist.
pub fn verify_password(stored: Option<&str>, password: &str) -> bool {
    let hash = stored.unwrap_or(DUMMY_HASH.as_str());
    let ok = PasswordHash::new(hash).is_ok_and(|h| argon2().verify_password(password.as_bytes(), &h).is_ok());
    ok && stored.is_some()
}

/// Issues a new session token for `user_id`; returns the token and when it expires.
pub fn issue_token(conn: &Connection, user_id: i64, now: i64) -> Result<(String, i64), DbError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| DbError::Task(format!("no randomness: {e}")))?;
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let expires_at = now + TOKEN_TTL_MS;
    conn.execute(
        "INSERT INTO tokens (hash, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![shared::storage_key::chunk_hash(token.as_bytes()), user_id, now, expires_at],
    )?;
    Ok((token, expires_at))
}

/// The user a token belongs to and when the token expires, if it is known, unexpired and not
/// revoked.
pub fn user_for_token(conn: &Connection, token: &str, now: i64) -> Result<Option<(User, i64)>, DbError> {
    let found: Option<(i64, i64)> = conn
        .query_row(
            "SELECT user_id, expires_at FROM tokens WHERE hash = ?1 AND revoked = 0 AND expires_at > ?2",
            params![shared::storage_key::chunk_hash(token.as_bytes()), now],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    match found {
        Some((id, expires_at)) => Ok(user_by_id(conn, id)?.map(|u| (u, expires_at))),
        None => Ok(None),
    }
}

pub fn revoke_token(conn: &Connection, token: &str) -> Result<(), DbError> {
    conn.execute("UPDATE tokens SET revoked = 1 WHERE hash = ?1", [shared::storage_key::chunk_hash(token.as_bytes())])?;
    Ok(())
}

pub fn user_by_id(conn: &Connection, id: i64) -> Result<Option<User>, DbError> {
    Ok(conn
        .query_row(
            "SELECT u.id, u.username, u.display_name, u.org_id, o.name FROM users u JOIN orgs o ON o.id = u.org_id WHERE u.id = ?1",
            [id],
            |r| Ok(User { id: r.get(0)?, username: r.get(1)?, display_name: r.get(2)?, org_id: r.get(3)?, org_name: r.get(4)? }),
        )
        .optional()?)
}

pub fn org_exists(conn: &Connection, id: &str) -> Result<bool, DbError> {
    Ok(conn.query_row("SELECT EXISTS (SELECT 1 FROM orgs WHERE id = ?1)", [id], |r| r.get(0))?)
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

    fn db() -> Connection {
        let dir = std::env::temp_dir().join(format!("liaison-accounts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{}.sqlite3", rand_name()));
        let db = crate::db::Db::open(&path).unwrap();
        drop(db);
        Connection::open(path).unwrap()
    }

    fn rand_name() -> String {
        let mut b = [0u8; 8];
        getrandom::fill(&mut b).unwrap();
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn passwords_tokens_expiry_and_revocation() {
        let conn = db();
        create_org(&conn, "fed", "县妇联").unwrap();
        let id = create_user(&conn, "li", "李", "fed", "correct horse battery").unwrap();
        assert!(check_password(&conn, "li", "wrong password!").unwrap().is_none());
        assert!(check_password(&conn, "nobody", "correct horse battery").unwrap().is_none());
        let user = check_password(&conn, "li", "correct horse battery").unwrap().unwrap();
        assert_eq!((user.id, user.org_id.as_str(), user.org_name.as_str()), (id, "fed", "县妇联"));

        let (token, expires) = issue_token(&conn, id, 1_000).unwrap();
        assert_eq!(user_for_token(&conn, &token, 2_000).unwrap(), Some((user.clone(), expires)));
        assert_eq!(user_for_token(&conn, &token, expires).unwrap(), None, "expired");
        assert_eq!(user_for_token(&conn, "not a token", 2_000).unwrap(), None);
        revoke_token(&conn, &token).unwrap();
        assert_eq!(user_for_token(&conn, &token, 2_000).unwrap(), None, "revoked");
        let stored: String = conn.query_row("SELECT hash FROM tokens", [], |r| r.get(0)).unwrap();
        assert_ne!(stored, token, "the database holds no usable token");
    }

    #[test]
    fn bad_accounts_are_refused_clearly() {
        let conn = db();
        create_org(&conn, "fed", "县妇联").unwrap();
        assert!(matches!(create_org(&conn, "fed", "again"), Err(DbError::Conflict(_))));
        assert!(matches!(create_org(&conn, "Bad Org", "x"), Err(DbError::Conflict(_))));
        assert!(matches!(create_user(&conn, "wang", "王", "nope", "long enough pw"), Err(DbError::NotFound(_))));
        assert!(matches!(create_user(&conn, "wang", "王", "fed", "short"), Err(DbError::Conflict(_))));
        create_user(&conn, "wang", "王", "fed", "long enough pw").unwrap();
        assert!(matches!(create_user(&conn, "wang", "王", "fed", "long enough pw"), Err(DbError::Conflict(_))));
    }
}

//! Demo data for trying liaison on one machine: three county organisations, one user each.
//! The passwords are fixed and printed because this is for localhost trials only.

use crate::accounts;
use crate::store::{Store, StoreError};

pub const ACCOUNTS: &[(&str, &str, &str, &str, &str)] = &[
    // (org id, org name, username, display name, password)
    ("county-federation", "县妇女联合会 County Women's Federation", "fed-li", "李敏 Li Min", "demo-federation"),
    ("county-procuratorate", "县人民检察院 County People's Procuratorate", "proc-wang", "王强 Wang Qiang", "demo-procuratorate"),
    ("county-court", "县人民法院 County People's Court", "court-zhao", "赵静 Zhao Jing", "demo-court"),
];

/// Creates the demo organisations and users unless they exist; returns the lines to print.
pub async fn seed(store: &dyn Store) -> Result<Vec<String>, StoreError> {
    let mut lines = vec!["demo accounts (localhost trials only):".to_owned()];
    for (org, org_name, user, name, password) in ACCOUNTS {
        if !store.org_exists(org).await? {
            accounts::create_org(store, org, org_name).await?;
        }
        match accounts::create_user(store, user, name, org, password).await {
            Ok(_) | Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
        lines.push(format!("  {user:<12} password {password:<20} {org_name}"));
    }
    Ok(lines)
}

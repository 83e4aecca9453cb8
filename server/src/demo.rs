//! Demo data for trying liaison on one machine: three county organisations, one user each.
//! The passwords are fixed and printed because this is for localhost trials only.

use crate::accounts;
use crate::store::{Store, StoreError};

/// One demo organisation and its user.
pub struct DemoAccount {
    pub org: &'static str,
    pub org_name: &'static str,
    pub kind: &'static str,
    pub user: &'static str,
    pub name: &'static str,
    pub password: &'static str,
}

pub const ACCOUNTS: &[DemoAccount] = &[
    DemoAccount {
        org: "county-federation",
        org_name: "县妇女联合会 County Women's Federation",
        kind: "federation",
        user: "fed-li",
        name: "李敏 Li Min",
        password: "demo-federation",
    },
    DemoAccount {
        org: "county-procuratorate",
        org_name: "县人民检察院 County People's Procuratorate",
        kind: "procuratorate",
        user: "proc-wang",
        name: "王强 Wang Qiang",
        password: "demo-procuratorate",
    },
    DemoAccount {
        org: "county-court",
        org_name: "县人民法院 County People's Court",
        kind: "court",
        user: "court-zhao",
        name: "赵静 Zhao Jing",
        password: "demo-court",
    },
];

/// Creates the demo organisations and users unless they exist; returns the lines to print.
pub async fn seed(store: &dyn Store) -> Result<Vec<String>, StoreError> {
    let mut lines = vec!["demo accounts (localhost trials only):".to_owned()];
    for DemoAccount { org, org_name, kind, user, name, password } in ACCOUNTS {
        if store.org_exists(org).await? {
            // A demo database made before organisations had kinds.
            accounts::set_org_kind(store, org, kind).await?;
        } else {
            accounts::create_org(store, org, org_name, kind).await?;
        }
        match accounts::create_user(store, user, name, org, password).await {
            Ok(_) | Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
        // Each demo organisation's one user runs it, and so sees its audit trail.
        accounts::set_role(store, user, "admin").await?;
        lines.push(format!("  {user:<12} password {password:<20} {org_name} (administrator)"));
    }
    Ok(lines)
}

pub mod list;
pub mod login;
pub mod record;

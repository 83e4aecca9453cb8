pub mod list;
pub mod record;

pub mod audit;
pub mod inbox;
pub mod list;
pub mod login;
pub mod record;
pub mod stats;

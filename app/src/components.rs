pub mod field;
pub mod status_bar;

pub mod attachment;
pub mod badges;
pub mod conflict;
pub mod editor;
pub mod field;
pub mod group;
pub mod signature;
pub mod status_bar;

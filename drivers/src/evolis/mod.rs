//! The Evolis family: its command language over any [`Transport`].

pub mod bitmap;
pub mod command;
pub mod reply;

//! The reference runtime: the 3-step pattern implemented correctly, end to end.
//!
//! It defines what the codemods' inserted code must do, and is tested against a real HTTP
//! provider on loopback and a real SQLite database:
//! 1. [`html`]: tell a provider's HTML (or empty) error page from a token response, with the
//!    page's title as the message;
//! 2. [`store`]: keep tokens per (tenant, provider) in SQLite, in one transaction;
//! 3. [`sync`]: queue one historical sync per connection;
//!
//! and [`flow`] runs a callback through all three in the order that keeps every failure safe.

pub mod flow;
pub mod html;
pub mod store;
pub mod sync;

//! oauth-audit: audits OAuth integration code for the 3-step fix pattern.

pub mod alloc;
pub mod baseline;
pub mod callbacks;
pub mod callers;
pub mod cli;
pub mod config;
pub mod coverage;
pub mod discover;
pub mod facts;
pub mod fix;
pub mod index;
pub mod integrations;
pub mod lang;
pub mod report;
pub mod routes;
pub mod rules;
pub mod run;
pub mod runtime;
pub mod scan;
pub mod source;
pub mod suppress;

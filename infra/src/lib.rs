//! `infra`: stack.toml → plan against live AWS → in-place apply.
//!
//! The pipeline is visible in the module names: [`stack`] (parse and validate) → [`live`] (read
//! AWS) → [`plan`] (pure) → [`render`] (text or JSON) → [`apply`] (execute). [`engine`] holds
//! what they share and names no resource kind; [`resources`] holds one module per kind, and
//! [`registry`] is the one list of kinds that the stages walk.

pub mod apply;
pub mod aws;
pub mod cli;
pub mod client;
pub mod container;
pub mod destroy;
pub mod engine;
pub mod error;
pub mod init;
pub mod live;
pub mod logs;
pub mod output;
pub mod permissions;
pub mod plan;
pub mod policy;
pub mod registry;
pub mod render;
pub mod resources;
pub mod saved;
pub mod sensitive;
pub mod stack;

#[cfg(test)]
mod layering;

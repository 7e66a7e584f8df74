//! `infra`: stack.toml → plan against live AWS → in-place apply.
//!
//! The pipeline is visible in the module names: [`stack`] (parse and validate) → [`live`] (read
//! AWS) → [`plan`] (pure) → [`render`] (text or JSON) → [`apply`] (execute, then verify).

pub mod apply;
pub mod aws;
pub mod cli;
pub mod image;
pub mod live;
pub mod output;
pub mod plan;
pub mod policy;
pub mod render;
pub mod resources;
pub mod sensitive;
pub mod stack;

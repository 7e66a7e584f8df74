//! The resource kinds, one file each: the live shape, the reader, the planner and the
//! applier of one kind, behind [`crate::engine::Kind`]. The registry lists them.

pub mod cognito_client;
pub mod cognito_pool;
mod cognito_shared;
pub mod cognito_user;
pub mod ecr_repository;
pub mod iam_role;
pub mod iam_role_policy;
mod iam_shared;
pub mod image;
pub mod log_group;
pub mod runtime;
pub mod secret;

#[cfg(test)]
pub mod mocked;
#[cfg(test)]
pub mod testing;

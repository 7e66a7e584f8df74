//! Read the live state of every declared resource. The only reader: plan never calls AWS.
//!
//! Independent reads run concurrently: the caller identity, the Cognito chain (pool, then its
//! client and users together, then the password checks), the IAM role with its policies, the
//! ECR repository and the AgentCore runtime.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::aws::{Aws, AwsError, partition_of};
use crate::policy::Vars;
use crate::resources::cognito_client::LiveClient;
use crate::resources::cognito_pool::LivePool;
use crate::resources::cognito_user::{self, LiveUser};
use crate::resources::ecr_repository::LiveRepository;
use crate::resources::iam_role::LiveRole;
use crate::resources::runtime::LiveRuntime;
use crate::resources::{
    Lookup, cognito_client, cognito_pool, ecr_repository, iam_role, image, runtime,
};
use crate::stack::{AuthFlow, Stack};

#[derive(Debug, Clone)]
pub struct Live {
    pub region: String,
    pub account_id: String,
    pub partition: String,
    pub user_pool: Lookup<LivePool>,
    pub client: Lookup<LiveClient>,
    /// By username; `None` when the user does not exist.
    pub users: BTreeMap<String, Option<LiveUser>>,
    pub role: Lookup<LiveRole>,
    pub repository: Lookup<LiveRepository>,
    pub runtime: Lookup<LiveRuntime>,
    /// The stack's runtimes under names other than the declared one: (name, ARN).
    pub runtime_named_otherwise: Vec<(String, String)>,
    /// The image built from `[image] build`, and whether the registry has it.
    pub image: Option<image::LiveImage>,
    /// For `[image] uri` with a tag in the stack's repository: the digest it points at.
    pub image_tag_digest: Option<String>,
}

/// Whether reading signs in to verify users' passwords (plan and apply do; `output` does not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Passwords {
    Verify,
    Skip,
}

impl Live {
    pub fn vars(&self, stack: &Stack) -> Vars {
        let repository = stack.repository.as_ref();
        Vars {
            region: self.region.clone(),
            account_id: self.account_id.clone(),
            partition: self.partition.clone(),
            stack: stack.name.clone(),
            repository_arn: repository.map(|r| {
                format!(
                    "arn:{}:ecr:{}:{}:repository/{}",
                    self.partition, self.region, self.account_id, r.name
                )
            }),
            repository_uri: repository.map(|r| {
                let domain = if self.partition == "aws-cn" {
                    "amazonaws.com.cn"
                } else {
                    "amazonaws.com"
                };
                format!(
                    "{}.dkr.ecr.{}.{domain}/{}",
                    self.account_id, self.region, r.name
                )
            }),
            runtime_name: stack.runtime.as_ref().map(|r| r.name.clone()),
        }
    }
}

struct Cognito {
    user_pool: Lookup<LivePool>,
    client: Lookup<LiveClient>,
    users: BTreeMap<String, Option<LiveUser>>,
}

/// `artifact`: the image built for `[image] build`, if any (see [`image::build`]).
pub async fn read(
    aws: &Aws,
    stack: &Stack,
    passwords: Passwords,
    artifact: Option<Arc<image::Artifact>>,
) -> Result<Live, AwsError> {
    let identity = async {
        aws.sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| AwsError::new("aws account", "sts:GetCallerIdentity", e))
    };
    let role = async {
        match &stack.role {
            Some(spec) => iam_role::read(aws, spec, &stack.name).await,
            None => Ok(Lookup::Missing),
        }
    };
    let repository = async {
        match &stack.repository {
            Some(spec) => ecr_repository::read(aws, spec, &stack.name).await,
            None => Ok(Lookup::Missing),
        }
    };
    let runtime = async {
        match &stack.runtime {
            Some(spec) => runtime::read(aws, spec, &stack.name).await,
            None => Ok(runtime::Found {
                runtime: Lookup::Missing,
                named_otherwise: Vec::new(),
            }),
        }
    };
    let hosting = aws.both(repository, runtime);
    let ((identity, (cognito, role)), (repository, runtime)) = aws
        .both(
            aws.both(
                identity,
                aws.both(read_cognito(aws, stack, passwords), role),
            ),
            hosting,
        )
        .await?;
    let arn = identity.arn().unwrap_or_default();
    Ok(Live {
        region: aws.region.clone(),
        account_id: identity.account().unwrap_or_default().to_owned(),
        partition: partition_of(arn),
        user_pool: cognito.user_pool,
        client: cognito.client,
        users: cognito.users,
        role,
        runtime: runtime.runtime,
        runtime_named_otherwise: runtime.named_otherwise,
        // After the repository is known: the registry is the repository's.
        image: image::read(aws, stack, &repository, artifact).await?,
        image_tag_digest: match repository.found() {
            Some(repo) => image::resolve_tag(aws, stack, &repo.uri).await?,
            None => None,
        },
        repository,
    })
}

async fn read_cognito(aws: &Aws, stack: &Stack, passwords: Passwords) -> Result<Cognito, AwsError> {
    let mut out = Cognito {
        user_pool: Lookup::Missing,
        client: Lookup::Missing,
        users: BTreeMap::new(),
    };
    let Some(pool_spec) = &stack.user_pool else {
        return Ok(out);
    };
    out.user_pool = cognito_pool::read(aws, pool_spec, &stack.name).await?;
    // A pool that is not the stack's (and not being adopted) is not looked into: plan refuses it.
    let Some(pool) = out.user_pool.found().filter(|p| p.owned || pool_spec.adopt) else {
        out.users = stack
            .users
            .iter()
            .map(|u| (u.username.clone(), None))
            .collect();
        return Ok(out);
    };
    let pool_id = pool.id.clone();

    let client = async {
        match &stack.client {
            Some(spec) => cognito_client::read(aws, spec, &pool_id).await,
            None => Ok(Lookup::Missing),
        }
    };
    let statuses = aws.all(
        stack
            .users
            .iter()
            .map(|u| cognito_user::read(aws, &pool_id, u)),
    );
    let (client, statuses) = aws.both(client, statuses).await?;

    let desired_client_verifies = stack.client.as_ref().is_some_and(|c| {
        c.explicit_auth_flows.iter().any(|f| {
            matches!(
                f,
                AuthFlow::AllowUserPasswordAuth | AuthFlow::AllowAdminUserPasswordAuth
            )
        })
    });
    let checks = aws
        .all(stack.users.iter().zip(&statuses).map(|(spec, status)| {
            let client = client.found();
            let pool_id = &pool_id;
            async move {
                let Some(status) = status else {
                    return Ok(None);
                };
                let password = match passwords {
                    Passwords::Verify => {
                        cognito_user::check_password(
                            aws,
                            pool_id,
                            client,
                            desired_client_verifies,
                            spec,
                            status,
                        )
                        .await?
                    }
                    Passwords::Skip => cognito_user::PasswordCheck::Unmanaged(
                        "not verified by this command".into(),
                    ),
                };
                Ok::<_, AwsError>(Some(LiveUser {
                    status: status.0.clone(),
                    password,
                }))
            }
        }))
        .await?;
    out.users = stack
        .users
        .iter()
        .map(|u| u.username.clone())
        .zip(checks)
        .collect();
    out.client = client;
    Ok(out)
}

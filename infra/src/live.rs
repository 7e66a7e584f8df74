//! Read the live state of every declared resource. The only reader: plan never calls AWS.
//!
//! Independent reads run concurrently: the caller identity, the Cognito chain (pool, then its
//! client and users together, then the password checks) and the IAM role with its policies.

use std::collections::BTreeMap;

use crate::aws::{Aws, AwsError, partition_of};
use crate::policy::Vars;
use crate::resources::cognito_client::LiveClient;
use crate::resources::cognito_pool::LivePool;
use crate::resources::cognito_user::{self, LiveUser};
use crate::resources::iam_role::LiveRole;
use crate::resources::{Lookup, cognito_client, cognito_pool, iam_role};
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
}

impl Live {
    pub fn vars(&self, stack: &Stack) -> Vars {
        Vars {
            region: self.region.clone(),
            account_id: self.account_id.clone(),
            partition: self.partition.clone(),
            stack: stack.name.clone(),
        }
    }
}

struct Cognito {
    user_pool: Lookup<LivePool>,
    client: Lookup<LiveClient>,
    users: BTreeMap<String, Option<LiveUser>>,
}

pub async fn read(aws: &Aws, stack: &Stack) -> Result<Live, AwsError> {
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
    let (identity, (cognito, role)) = aws
        .both(identity, aws.both(read_cognito(aws, stack), role))
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
    })
}

async fn read_cognito(aws: &Aws, stack: &Stack) -> Result<Cognito, AwsError> {
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
                let password = cognito_user::check_password(
                    aws,
                    pool_id,
                    client,
                    desired_client_verifies,
                    spec,
                    status,
                )
                .await?;
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

//! What the app client kind calls, for `infra permissions`: reads and writes on the stack's
//! pool (tagged for the stack), and the admin sign-in when only that flow checks passwords.

use super::{AuthFlow, Client};
use crate::stack::Stack;

/// The grants of [`Client`]'s calls ([`crate::engine::Kind::permissions`]).
pub(super) fn permissions(
    stack: &Stack,
    vars: &crate::policy::Vars,
) -> Vec<crate::engine::kind::Grant> {
    use crate::engine::kind::{Access, Grant};
    let Some(spec) = stack.one::<Client>() else {
        return Vec::new();
    };
    let pools = Grant::arn(vars, "cognito-idp", "userpool/*");
    let mut grants = vec![
        Grant::new(
            Access::Read,
            "Read",
            &[
                "cognito-idp:ListUserPoolClients",
                "cognito-idp:DescribeUserPoolClient",
            ],
            [&pools],
        ),
        Grant::new(
            Access::Write,
            "Write",
            &[
                "cognito-idp:CreateUserPoolClient",
                "cognito-idp:UpdateUserPoolClient",
                "cognito-idp:DeleteUserPoolClient",
            ],
            [&pools],
        )
        .on_stack_tagged(&stack.name),
    ];
    let allows = |flow| spec.explicit_auth_flows.contains(&flow);
    if allows(AuthFlow::AllowAdminUserPasswordAuth) && !allows(AuthFlow::AllowUserPasswordAuth) {
        grants.push(Grant::new(
            Access::ReadSecret,
            "SignIn",
            &["cognito-idp:AdminInitiateAuth"],
            [&pools],
        ));
    }
    grants
}

//! Applying the pool: create (then keep the oldest of same-named ones), update with the whole
//! configuration, delete a duplicate.

use super::*;

pub(super) fn password_policy(p: &PasswordPolicy) -> PasswordPolicyType {
    PasswordPolicyType::builder()
        .minimum_length(p.minimum_length)
        .require_uppercase(p.require_uppercase)
        .require_lowercase(p.require_lowercase)
        .require_numbers(p.require_numbers)
        .require_symbols(p.require_symbols)
        .temporary_password_validity_days(p.temporary_password_validity_days)
        .build()
}

pub(super) fn deletion_protection(
    on: bool,
) -> aws_sdk_cognitoidentityprovider::types::DeletionProtectionType {
    if on {
        "ACTIVE".into()
    } else {
        "INACTIVE".into()
    }
}

/// Returns the id of the pool to carry on with: the new one, or the one another apply created
/// at the same time (see [`settle`]).
pub(super) async fn create(
    cx: &ApplyContext<'_>,
    addr: &str,
    spec: &UserPoolSpec,
) -> Result<String, Error> {
    let out = cx
        .aws
        .cognito
        .create_user_pool()
        .pool_name(&spec.name)
        .policies(
            UserPoolPolicyType::builder()
                .password_policy(password_policy(&spec.password_policy))
                .build(),
        )
        .set_username_attributes(Some(
            spec.username_attributes
                .iter()
                .map(|a| UsernameAttributeType::from(a.as_aws()))
                .collect(),
        ))
        .deletion_protection(deletion_protection(spec.deletion_protection))
        .set_user_pool_tags(Some(cx.stack.tags().into_iter().collect()))
        .send()
        .await
        .map_err(|e| Error::aws(addr, "CreateUserPool", e))?;
    let mine = out
        .user_pool()
        .and_then(|p| p.id())
        .map(str::to_owned)
        .ok_or_else(|| Error::new(addr, "CreateUserPool", "AWS returned no pool id"))?;
    let created = out.user_pool().and_then(|p| p.creation_date()).cloned();
    settle(cx, addr, spec, &mine, created.as_ref()).await
}

/// Pool names are not unique: another apply may have created the same pool at the same time.
/// Of the pools with the name and the stack's tag, every apply keeps the oldest (creation date,
/// then id), so they all agree; this one deletes its own pool when it is not that one, and
/// carries on with the survivor (what this apply creates next goes into it).
pub(super) async fn settle(
    cx: &ApplyContext<'_>,
    addr: &str,
    spec: &UserPoolSpec,
    mine: &str,
    created: Option<&DateTime>,
) -> Result<String, Error> {
    let ids = same_named_ids(cx.aws, addr, &spec.name).await?;
    if ids.iter().all(|id| id == mine) {
        // Alone (or not listed yet): nothing to compare, and no describe on the critical path.
        return Ok(mine.to_owned());
    }
    let pools = describe_all(cx.aws, addr, &ids, &cx.stack.name).await?;
    // Every racer compares what the same reads return; this one's own pool from the create's
    // answer only when the list does not show it yet.
    let listed = pools.iter().any(|p| p.id == mine);
    let oldest = pools
        .iter()
        .filter(|p| p.owned)
        .map(|p| age_key(p.created.as_ref(), &p.id))
        .chain((!listed).then(|| age_key(created, mine)))
        .min()
        .map(|(_, _, id)| id.to_owned())
        .unwrap_or_else(|| mine.to_owned());
    if oldest == mine {
        return Ok(oldest);
    }
    cx.progress.line(&format!(
        "{addr}: another apply created the same pool at the same time; keeping the older one \
         ({oldest}) and deleting the one this apply created ({mine})"
    ));
    delete(cx, addr, mine, spec.deletion_protection).await?;
    Ok(oldest)
}

/// Delete a pool (a duplicate); already gone is fine. `protected`: turn deletion protection off
/// first (Cognito refuses to delete a protected pool).
pub(super) async fn delete(
    cx: &ApplyContext<'_>,
    addr: &str,
    id: &str,
    protected: bool,
) -> Result<(), Error> {
    if protected {
        // Only the pool about to be deleted: what this resets does not matter.
        let result = cx
            .aws
            .cognito
            .update_user_pool()
            .user_pool_id(id)
            .deletion_protection(deletion_protection(false))
            .send()
            .await
            .map_err(|e| Error::aws(addr, "UpdateUserPool", e));
        if not_found_as_none(result, "ResourceNotFoundException")?.is_none() {
            return Ok(());
        }
    }
    let result = cx
        .aws
        .cognito
        .delete_user_pool()
        .user_pool_id(id)
        .send()
        .await
        .map_err(|e| Error::aws(addr, "DeleteUserPool", e));
    not_found_as_none(result, "ResourceNotFoundException")?;
    Ok(())
}

/// `UpdateUserPool` resets every field it is not sent: send the desired values for what the
/// stack manages and carry over the live values for everything else.
pub(super) async fn update(
    cx: &ApplyContext<'_>,
    addr: &str,
    spec: &UserPoolSpec,
    pool: &LivePool,
) -> Result<String, Error> {
    let live = &pool.raw;
    let mut desired_password_policy = password_policy(&spec.password_policy);
    desired_password_policy.password_history_size = live
        .policies()
        .and_then(|p| p.password_policy())
        .and_then(|p| p.password_history_size());
    let policies = UserPoolPolicyType::builder()
        .password_policy(desired_password_policy)
        .set_sign_in_policy(live.policies().and_then(|p| p.sign_in_policy()).cloned())
        .build();
    let mut all_tags = pool.tags.clone();
    all_tags.extend(cx.stack.tags());
    cx.aws
        .cognito
        .update_user_pool()
        .user_pool_id(&pool.id)
        .policies(policies)
        .deletion_protection(deletion_protection(spec.deletion_protection))
        .set_user_pool_tags(Some(all_tags.into_iter().collect()))
        .set_lambda_config(live.lambda_config().cloned())
        .set_auto_verified_attributes(
            Some(live.auto_verified_attributes().to_vec()).filter(|v| !v.is_empty()),
        )
        .set_sms_verification_message(live.sms_verification_message().map(str::to_owned))
        .set_email_verification_message(live.email_verification_message().map(str::to_owned))
        .set_email_verification_subject(live.email_verification_subject().map(str::to_owned))
        .set_verification_message_template(live.verification_message_template().cloned())
        .set_sms_authentication_message(live.sms_authentication_message().map(str::to_owned))
        .set_user_attribute_update_settings(live.user_attribute_update_settings().cloned())
        .set_mfa_configuration(live.mfa_configuration().cloned())
        .set_device_configuration(live.device_configuration().cloned())
        .set_email_configuration(live.email_configuration().cloned())
        .set_sms_configuration(live.sms_configuration().cloned())
        .set_admin_create_user_config(
            live.admin_create_user_config()
                .map(admin_create_user_config),
        )
        .set_user_pool_add_ons(live.user_pool_add_ons().cloned())
        .set_account_recovery_setting(live.account_recovery_setting().cloned())
        .set_user_pool_tier(live.user_pool_tier().cloned())
        .set_key_configuration(live.key_configuration().cloned())
        .set_issuer_configuration(live.issuer_configuration().cloned())
        .set_acr_configuration(live.acr_configuration().cloned())
        .send()
        .await
        .map_err(|e| Error::aws(addr, "UpdateUserPool", e))?;
    Ok(pool.id.clone())
}

/// The live admin-create-user settings, minus `UnusedAccountValidityDays`: Cognito describes it
/// but rejects it in an update ("use TemporaryPasswordValidityDays in PasswordPolicy instead").
pub(super) fn admin_create_user_config(
    live: &AdminCreateUserConfigType,
) -> AdminCreateUserConfigType {
    AdminCreateUserConfigType::builder()
        .allow_admin_create_user_only(live.allow_admin_create_user_only())
        .set_invite_message_template(live.invite_message_template().cloned())
        .build()
}

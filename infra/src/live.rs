//! Read the live state of every declared resource: each registered kind reads its own, all at
//! once, awaiting one another where one needs another's state. The only reader: plan never
//! calls AWS.

use crate::aws::{Aws, Reads, partition_of};
use crate::engine::{DynKind, Error, Live, Prepared, ReadContext, WriteOnly};
use crate::registry::KINDS;
use crate::stack::Stack;

/// Local work before any read (building an image), blocking. `say` reports progress.
pub fn prepare(stack: &Stack, say: &dyn Fn(&str)) -> Result<Prepared, Error> {
    let mut prepared = Prepared::default();
    for kind in KINDS {
        if let Some(value) = kind.prepare(stack, say)? {
            prepared.insert(kind.type_name(), value);
        }
    }
    Ok(prepared)
}

pub async fn read(
    aws: &Aws,
    stack: &Stack,
    write_only: WriteOnly,
    prepared: &Prepared,
) -> Result<Live, Error> {
    read_with(
        ReadContext::new(aws, stack, write_only, prepared, KINDS),
        true,
    )
    .await
}

/// Read what the stack declares, and only that (`output`): no search for what it no longer
/// declares, no image built, no write-only value compared.
pub async fn read_declared(aws: &Aws, stack: &Stack) -> Result<Live, Error> {
    let prepared = Prepared::default();
    let cx = ReadContext::new(aws, stack, WriteOnly::Skip, &prepared, KINDS);
    read_with(cx, false).await
}

/// Read for `infra destroy`: no image is built, no write-only value is compared, and each kind
/// reads what deleting needs too.
pub async fn read_for_destroy(aws: &Aws, stack: &Stack) -> Result<Live, Error> {
    let prepared = Prepared::default();
    let mut cx = ReadContext::new(aws, stack, WriteOnly::Skip, &prepared, KINDS);
    cx.destroying = true;
    read_with(cx, true).await
}

/// Read every kind; with `undeclared`, also what is tagged for the stack but not declared.
async fn read_with(cx: ReadContext<'_>, undeclared_too: bool) -> Result<Live, Error> {
    let (aws, write_only) = (cx.aws, cx.write_only);
    let identity = async {
        aws.sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| Error::aws("aws account", "sts:GetCallerIdentity", e))
    };
    let kinds = async {
        match aws.reads {
            Reads::Concurrent => {
                futures::future::try_join_all(KINDS.iter().map(|k| cx.read(k.type_name()))).await?;
            }
            Reads::Sequential => {
                for kind in KINDS {
                    cx.read(kind.type_name()).await?;
                }
            }
        }
        Ok(())
    };
    let (identity, ()) = aws.both(identity, kinds).await?;
    let undeclared = if undeclared_too {
        undeclared(&cx).await?
    } else {
        Vec::new()
    };
    let arn = identity.arn().unwrap_or_default();
    let mut live = Live::from_states(
        aws.region.clone(),
        identity.account().unwrap_or_default().to_owned(),
        partition_of(arn),
        cx.into_states(),
        KINDS,
    );
    live.write_only = write_only;
    live.undeclared = undeclared;
    Ok(live)
}

/// The resources tagged for the stack (`infra:stack = NAME`, the Resource Groups Tagging API,
/// one search for every kind that can be found by tag) that it no longer declares: each kind
/// tells which of its own are not declared, and how it deletes them.
async fn undeclared(
    cx: &ReadContext<'_>,
) -> Result<Vec<(&'static dyn DynKind, crate::engine::Planned)>, Error> {
    let types: Vec<&'static str> = KINDS.iter().filter_map(|k| k.tagged_as()).collect();
    if types.is_empty() {
        return Ok(Vec::new());
    }
    let filter = aws_sdk_resourcegroupstagging::types::TagFilter::builder()
        .key(crate::stack::TAG_STACK)
        .values(&cx.stack.name)
        .build();
    let mut pages = cx
        .aws
        .tagging
        .get_resources()
        .tag_filters(filter)
        .set_resource_type_filters(Some(types.iter().map(|t| t.to_string()).collect()))
        .into_paginator()
        .send();
    let mut arns: Vec<String> = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| Error::aws("stack", "tag:GetResources", e))?;
        arns.extend(
            page.resource_tag_mapping_list()
                .iter()
                .filter_map(|r| r.resource_arn().map(str::to_owned)),
        );
    }
    let mut found = Vec::new();
    for kind in KINDS {
        let Some(tagged_as) = kind.tagged_as() else {
            continue;
        };
        let of_kind: Vec<String> = arns
            .iter()
            .filter(|arn| resource_type(arn).as_deref() == Some(tagged_as))
            .cloned()
            .collect();
        if of_kind.is_empty() {
            continue;
        }
        for planned in kind.undeclared(cx, &of_kind).await? {
            found.push((*kind, planned));
        }
    }
    Ok(found)
}

/// The Tagging API's type of an ARN: `service:resource` (`arn:aws:cognito-idp:...:userpool/ID`
/// is `cognito-idp:userpool`, `...:secret:NAME` is `secretsmanager:secret`).
fn resource_type(arn: &str) -> Option<String> {
    let mut parts = arn.splitn(6, ':');
    let (_, _, service, _, _, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let kind = resource.split(['/', ':']).next()?;
    Some(format!("{service}:{kind}"))
}

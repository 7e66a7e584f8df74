//! `infra destroy` of the repository. infra pushes images by digest, without a tag, so the
//! repository's untagged images are the stack's (the image kind deletes them first); a tagged
//! image was pushed by someone else (`docker push` always tags): the repository is then kept
//! and reported, unless `--force-delete-images`, which deletes it with every image in it.

use super::{LiveRepository, Repository};
use crate::aws::Aws;
use crate::engine::kind::{Access, Grant};
use crate::engine::{
    ApplyContext, Destroying, Error, Kind, PlanContext, Planned, Planner, ResourcePlan, doomed,
    not_found_as_none,
};
use crate::stack::Stack;

/// An image in the repository: its digest and tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredImage {
    pub digest: String,
    pub tags: Vec<String>,
}

/// Every image in the repository (`ListImages`, paginated; read only for destroy).
pub(super) async fn images(aws: &Aws, addr: &str, name: &str) -> Result<Vec<StoredImage>, Error> {
    let mut by_digest: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    let mut pages = aws
        .ecr
        .list_images()
        .repository_name(name)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| Error::aws(addr, "ListImages", e))?;
        for id in page.image_ids() {
            let tags = by_digest
                .entry(id.image_digest().unwrap_or_default().to_owned())
                .or_default();
            tags.extend(id.image_tag().map(str::to_owned));
        }
    }
    Ok(by_digest
        .into_iter()
        .map(|(digest, tags)| StoredImage { digest, tags })
        .collect())
}

/// What deleting needs.
struct Doomed {
    name: String,
    force: bool,
}

pub(super) fn plan_destroy(cx: &PlanContext<'_>, options: &Destroying, planner: &mut Planner) {
    let Some(spec) = cx.stack.one::<Repository>() else {
        return;
    };
    let found = cx.live.get::<Repository>();
    let protect = spec.protect.then_some("[ecr.repository]");
    let Some(repository) = doomed(planner, &spec.name, found, protect) else {
        return;
    };
    let foreign = foreign_images(repository);
    if !foreign.is_empty() && !options.force {
        planner.add(Planned::kept(
            &spec.name,
            Some(repository.arn.clone()),
            format!(
                "kept: holds {} image(s) this stack did not push ({}); --force-delete-images \
                 deletes the repository with them",
                foreign.len(),
                shown(&foreign)
            ),
        ));
        return;
    }
    let mut planned = Planned::destroyed(&spec.name, &repository.arn).with_payload(Doomed {
        name: spec.name.clone(),
        force: options.force,
    });
    if !foreign.is_empty() {
        planned = planned.with_notes(vec![format!(
            "--force-delete-images: deletes {} image(s) this stack did not push ({})",
            foreign.len(),
            shown(&foreign)
        )]);
    }
    planner.add(planned);
}

/// The tagged images: not pushed by infra.
fn foreign_images(repository: &LiveRepository) -> Vec<&StoredImage> {
    repository
        .images
        .iter()
        .filter(|i| !i.tags.is_empty())
        .collect()
}

/// `tag, tag` of at most five images.
fn shown(images: &[&StoredImage]) -> String {
    let mut tags: Vec<&str> = images
        .iter()
        .flat_map(|i| i.tags.iter().map(String::as_str))
        .collect();
    tags.sort_unstable();
    let more = tags.len().saturating_sub(5);
    tags.truncate(5);
    let mut text = format!("tagged {}", tags.join(", "));
    if more > 0 {
        text.push_str(&format!(" and {more} more"));
    }
    text
}

pub(super) async fn delete(cx: &ApplyContext<'_>, r: &ResourcePlan) -> Result<(), Error> {
    let Doomed { name, force } = r.payload()?;
    let deleted = cx
        .aws
        .ecr
        .delete_repository()
        .repository_name(name)
        .force(*force)
        .send()
        .await
        .map_err(|e| Error::aws(&r.address, "DeleteRepository", e));
    match not_found_as_none(deleted, "RepositoryNotFoundException") {
        Err(e) if e.code_is("RepositoryNotEmptyException") => Err(Error::new(
            &r.address,
            "DeleteRepository",
            format!(
                "{}. An image was pushed after the plan was made: run destroy again to see \
                 it, or pass --force-delete-images",
                e.message
            ),
        )
        .with_code("RepositoryNotEmptyException")),
        other => other.map(|_| ()),
    }
}

pub(super) fn destroy_permissions(stack: &Stack, vars: &crate::policy::Vars) -> Vec<Grant> {
    let Some(spec) = stack.one::<Repository>() else {
        return Vec::new();
    };
    let repository = super::repository_arn(vars, spec);
    vec![
        Grant::new(
            Access::Read,
            "DestroyList",
            &["ecr:ListImages"],
            [&repository],
        ),
        Grant::new(
            Access::Write,
            "Delete",
            &["ecr:BatchDeleteImage", "ecr:DeleteRepository"],
            [&repository],
        )
        .on_stack_tagged(&stack.name),
    ]
}

/// The repositories tagged for the stack (`arns`, from the Tagging API) under another name than
/// the declared one (a renamed repository), with their images listed: deleted with the
/// untagged images infra pushed; one holding tagged images (someone else's) is listed, kept.
pub(super) async fn undeclared(
    cx: &crate::engine::ReadContext<'_>,
    arns: &[String],
) -> Result<Vec<Planned>, Error> {
    let declared = cx.stack.one::<Repository>().map(|s| s.name.as_str());
    let names: Vec<String> = arns
        .iter()
        .filter_map(|arn| {
            arn.split_once(":repository/")
                .map(|(_, name)| name.to_owned())
        })
        .filter(|name| Some(name.as_str()) != declared)
        .collect();
    let listed = cx
        .aws
        .all(names.iter().map(|name| async move {
            let addr = crate::engine::address(Repository::TYPE, name);
            let images = images(cx.aws, &addr, name).await;
            Ok((
                name,
                not_found_as_none(images, "RepositoryNotFoundException")?,
            ))
        }))
        .await?;
    Ok(listed
        .into_iter()
        .filter_map(|(name, images)| {
            let images = images?;
            let arn = arns.iter().find(|a| a.ends_with(&format!("/{name}")))?;
            let tagged: Vec<&StoredImage> = images.iter().filter(|i| !i.tags.is_empty()).collect();
            Some(if tagged.is_empty() {
                Planned::destroyed(name.as_str(), arn.as_str()).with_payload(Doomed {
                    name: name.clone(),
                    // Only untagged images are left in it: the ones infra pushed.
                    force: !images.is_empty(),
                })
            } else {
                Planned::kept(
                    name.as_str(),
                    Some(arn.clone()),
                    format!(
                        "kept: holds {} image(s) this stack did not push ({}); delete them to \
                         let it go",
                        tagged.len(),
                        shown(&tagged)
                    ),
                )
            })
        })
        .collect())
}

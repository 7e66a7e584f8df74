//! `infra destroy` of the images the stack pushed: infra pushes by digest, without a tag, so
//! they are the untagged images of the stack's own repository (`BatchDeleteImage`). A tagged
//! image is someone else's: the repository kind keeps the repository for it.

use crate::engine::{
    ApplyContext, Destroying, Error, PlanContext, Planned, Planner, ResourcePlan, Shown,
};
use crate::resources::ecr_repository::Repository;

/// What deleting needs.
struct Doomed {
    repository: String,
    digests: Vec<String>,
}

/// At most this many image ids per `BatchDeleteImage` (ECR's limit).
const BATCH: usize = 100;

pub(super) fn plan_destroy(cx: &PlanContext<'_>, _: &Destroying, planner: &mut Planner) {
    let Some(repository) = cx.reference::<Repository>() else {
        return;
    };
    if !repository.owned || repository.pushed.is_empty() {
        return;
    }
    let mut changes = crate::engine::Changes::default();
    changes.push(
        "images",
        Shown::Value(repository.pushed.len().into()),
        Shown::Absent,
    );
    let mut planned = Planned::new(&repository.name, changes, Some(repository.name.clone()))
        .with_action(crate::engine::Action::Delete)
        .with_reason(format!(
            "the {} untagged image(s) infra pushed to the stack's repository",
            repository.pushed.len()
        ));
    planned = planned.with_payload(Doomed {
        repository: repository.name.clone(),
        digests: repository.pushed.clone(),
    });
    planner.add(planned);
}

pub(super) async fn delete(cx: &ApplyContext<'_>, r: &ResourcePlan) -> Result<(), Error> {
    let Doomed {
        repository,
        digests,
    } = r.payload()?;
    for batch in digests.chunks(BATCH) {
        let ids = batch.iter().map(|digest| {
            aws_sdk_ecr::types::ImageIdentifier::builder()
                .image_digest(digest)
                .build()
        });
        let out = cx
            .aws
            .ecr
            .batch_delete_image()
            .repository_name(repository)
            .set_image_ids(Some(ids.collect()))
            .send()
            .await
            .map_err(|e| Error::aws(&r.address, "BatchDeleteImage", e));
        let out = match crate::engine::not_found_as_none(out, "RepositoryNotFoundException")? {
            Some(out) => out,
            None => return Ok(()),
        };
        // An image already gone is what a second destroy finds; anything else is an error.
        let failed: Vec<String> = out
            .failures()
            .iter()
            .filter(|f| {
                f.failure_code()
                    .is_none_or(|c| c.as_str() != "ImageNotFound")
            })
            .map(|f| {
                format!(
                    "{}: {}",
                    f.image_id()
                        .and_then(|i| i.image_digest())
                        .unwrap_or("an image"),
                    f.failure_reason().unwrap_or("no reason given")
                )
            })
            .collect();
        if !failed.is_empty() {
            return Err(Error::new(
                &r.address,
                "BatchDeleteImage",
                failed.join("; "),
            ));
        }
    }
    Ok(())
}

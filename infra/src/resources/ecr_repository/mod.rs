//! `ecr_repository`: found by name (unique per registry), owned when tagged for the stack.

mod destroy;
pub mod section;

pub use destroy::StoredImage;

use std::collections::BTreeMap;

use aws_sdk_ecr::types::{
    EncryptionConfiguration, EncryptionType, ImageScanningConfiguration, ImageTagMutability, Tag,
};
use serde_json::{Value, json};

use crate::aws::Aws;
use crate::engine::lookup::replan;
use crate::engine::{
    ApplyContext, Changes, Error, Kind, Lookup, Noun, Output, Owned, PlanContext, Planned, Planner,
    ReadContext, ResourcePlan, address, claim, not_found_as_none, owned_by, tag_changes, together,
};
use crate::stack::Stack;
use section::RepositorySpec;

#[derive(Debug, Clone)]
pub struct LiveRepository {
    pub arn: String,
    pub uri: String,
    pub owned: bool,
    pub tags: BTreeMap<String, String>,
    pub image_tag_mutability: String,
    pub scan_on_push: bool,
    pub encryption: String,
    pub kms_key: Option<String>,
    pub lifecycle_policy: Option<Value>,
    /// The images in it: read only for destroy.
    pub images: Vec<destroy::StoredImage>,
}

impl Owned for LiveRepository {
    fn identifier(&self) -> &str {
        &self.arn
    }
    fn owned(&self) -> bool {
        self.owned
    }
}

/// The kind.
pub struct Repository;

/// What apply needs.
struct Step {
    spec: RepositorySpec,
    live: Option<LiveRepository>,
}

/// What the kinds that depend on the repository know of it ([`Kind::Ref`]): the declared
/// repository, and its URI once it exists.
#[derive(Debug, Clone)]
pub struct RepositoryRef {
    pub name: String,
    pub keep_images: Option<i32>,
    pub uri: Option<String>,
    /// It carries the stack's tag.
    pub owned: bool,
    /// Its untagged images (the ones infra pushed): read only for destroy.
    pub pushed: Vec<String>,
}

impl Kind for Repository {
    /// The repository by its ARN (known from its name). A create with tags needs
    /// `ecr:TagResource` too; one encrypted with KMS lets ECR use the key through a grant.
    fn permissions(stack: &Stack, vars: &crate::policy::Vars) -> Vec<crate::engine::kind::Grant> {
        use crate::engine::kind::{Access, Grant};
        let Some(spec) = stack.one::<Repository>() else {
            return Vec::new();
        };
        let repository = repository_arn(vars, spec);
        let mut grants = vec![
            Grant::new(
                Access::Read,
                "Read",
                &[
                    "ecr:DescribeRepositories",
                    "ecr:ListTagsForResource",
                    "ecr:GetLifecyclePolicy",
                ],
                [&repository],
            ),
            Grant::new(
                Access::Write,
                "Write",
                &[
                    "ecr:CreateRepository",
                    "ecr:TagResource",
                    "ecr:PutImageTagMutability",
                    "ecr:PutImageScanningConfiguration",
                    "ecr:PutLifecyclePolicy",
                ],
                [&repository],
            ),
        ];
        if spec.encryption == section::Encryption::Kms {
            let key = match &spec.kms_key {
                Some(key) if key.starts_with("arn:") && key.contains(":key/") => key.clone(),
                _ => Grant::arn(vars, "kms", "key/*"),
            };
            grants.push(
                Grant::new(
                    Access::Write,
                    "Key",
                    &["kms:CreateGrant", "kms:DescribeKey", "kms:RetireGrant"],
                    [key],
                )
                .when(
                    "StringEquals",
                    "kms:ViaService",
                    &format!("ecr.{}.amazonaws.com", vars.region),
                ),
            );
        }
        grants
    }

    const TYPE: &'static str = "ecr_repository";
    type Live = Lookup<LiveRepository>;
    type Ref = RepositoryRef;

    #[cfg(test)]
    fn converged(stack: &Stack) -> Self::Live {
        use crate::resources::testing;
        testing::repository(stack).map_or(Lookup::Missing, Lookup::Found)
    }

    async fn read(cx: &ReadContext<'_>) -> Result<Lookup<LiveRepository>, Error> {
        match cx.stack.one::<Repository>() {
            Some(spec) => {
                let mut found = read(cx.aws, spec, &cx.stack.name).await?;
                if let Lookup::Found(repository) = &mut found
                    && cx.destroying
                {
                    let addr = address(Repository::TYPE, &spec.name);
                    repository.images = destroy::images(cx.aws, &addr, &spec.name).await?;
                }
                Ok(found)
            }
            None => Ok(Lookup::Missing),
        }
    }

    fn plan_destroy(cx: &PlanContext<'_>, o: &crate::engine::Destroying, planner: &mut Planner) {
        destroy::plan_destroy(cx, o, planner);
    }

    const TAGGED_AS: Option<&'static str> = Some("ecr:repository");

    async fn undeclared(
        cx: &ReadContext<'_>,
        arns: &[String],
    ) -> Result<Vec<crate::engine::Planned>, Error> {
        destroy::undeclared(cx, arns).await
    }

    async fn delete(cx: &ApplyContext<'_>, r: &ResourcePlan) -> Result<(), Error> {
        destroy::delete(cx, r).await
    }

    fn destroy_permissions(
        stack: &Stack,
        vars: &crate::policy::Vars,
    ) -> Vec<crate::engine::kind::Grant> {
        destroy::destroy_permissions(stack, vars)
    }

    fn plan(cx: &PlanContext<'_>, planner: &mut Planner) {
        if let Some(spec) = cx.stack.one::<Repository>() {
            plan(cx, spec, planner);
        }
    }

    async fn apply(cx: &ApplyContext<'_>, r: &ResourcePlan) -> Result<String, Error> {
        let step: &Step = r.payload()?;
        apply(cx, r, step).await
    }

    /// The repository's URI, once it exists.
    fn id(_stack: &Stack, live: &Lookup<LiveRepository>) -> Option<String> {
        live.found().map(|r| r.uri.clone())
    }

    fn reference(stack: &Stack, live: &Lookup<LiveRepository>) -> Option<RepositoryRef> {
        let spec = stack.one::<Repository>()?;
        Some(RepositoryRef {
            name: spec.name.clone(),
            keep_images: spec.keep_images,
            uri: live.found().map(|r| r.uri.clone()),
            owned: live.found().is_some_and(|r| r.owned),
            pushed: live
                .found()
                .map(|r| {
                    r.images
                        .iter()
                        .filter(|i| i.tags.is_empty())
                        .map(|i| i.digest.clone())
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    fn outputs(cx: &PlanContext<'_>) -> Vec<Output> {
        vec![(
            "repository_uri",
            cx.live.get::<Repository>().found().map(|r| r.uri.clone()),
        )]
    }
}

/// The repository's ARN, as its grants name it.
fn repository_arn(vars: &crate::policy::Vars, spec: &RepositorySpec) -> String {
    vars.get("repository_arn")
        .map(str::to_owned)
        .unwrap_or_else(|| {
            crate::engine::kind::Grant::arn(vars, "ecr", &format!("repository/{}", spec.name))
        })
}

/// The lifecycle policy for "keep the newest `n` images".
pub fn lifecycle_policy(n: i32) -> Value {
    json!({
        "rules": [{
            "rulePriority": 1,
            "description": format!("Keep the newest {n} images"),
            "selection": { "tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": n },
            "action": { "type": "expire" }
        }]
    })
}

async fn read(
    aws: &Aws,
    spec: &RepositorySpec,
    stack: &str,
) -> Result<Lookup<LiveRepository>, Error> {
    let addr = address(Repository::TYPE, &spec.name);
    let result = aws
        .ecr
        .describe_repositories()
        .repository_names(&spec.name)
        .send()
        .await
        .map_err(|e| Error::aws(&addr, "DescribeRepositories", e));
    let Some(out) = not_found_as_none(result, "RepositoryNotFoundException")? else {
        return Ok(Lookup::Missing);
    };
    let Some(repo) = out.repositories().first() else {
        return Ok(Lookup::Missing);
    };
    let arn = repo.repository_arn().unwrap_or_default().to_owned();
    let tags = async {
        let out = aws
            .ecr
            .list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await
            .map_err(|e| Error::aws(&addr, "ListTagsForResource", e))?;
        Ok(out
            .tags()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect::<BTreeMap<_, _>>())
    };
    let lifecycle = async {
        let result = aws
            .ecr
            .get_lifecycle_policy()
            .repository_name(&spec.name)
            .send()
            .await
            .map_err(|e| Error::aws(&addr, "GetLifecyclePolicy", e));
        let Some(out) = not_found_as_none(result, "LifecyclePolicyNotFoundException")? else {
            return Ok(None);
        };
        let text = out.lifecycle_policy_text().unwrap_or("{}");
        serde_json::from_str(text).map(Some).map_err(|e| {
            Error::new(
                &addr,
                "GetLifecyclePolicy",
                format!("AWS returned a lifecycle policy that is not JSON: {e}"),
            )
        })
    };
    let (tags, lifecycle_policy) = aws.both(tags, lifecycle).await?;
    let encryption = repo.encryption_configuration();
    Ok(Lookup::Found(LiveRepository {
        owned: owned_by(&tags, stack),
        uri: repo.repository_uri().unwrap_or_default().to_owned(),
        arn,
        tags,
        image_tag_mutability: repo
            .image_tag_mutability()
            .map_or("MUTABLE", |m| m.as_str())
            .to_owned(),
        scan_on_push: repo
            .image_scanning_configuration()
            .is_some_and(|c| c.scan_on_push()),
        encryption: encryption
            .map_or("AES256", |e| e.encryption_type().as_str())
            .to_owned(),
        kms_key: encryption.and_then(|e| e.kms_key()).map(str::to_owned),
        lifecycle_policy,
        images: Vec::new(),
    }))
}

const NOUN: Noun = Noun::tagged("an ECR repository", "ECR repositories");

fn plan(cx: &PlanContext, spec: &RepositorySpec, planner: &mut Planner) {
    let addr = planner.address(&spec.name);
    let lookup = cx.live.get::<Repository>();
    let Some(claim) = claim(
        planner,
        &addr,
        &spec.name,
        lookup,
        NOUN,
        spec.adopt,
        &cx.stack.name,
    ) else {
        return;
    };
    let live = claim.live;
    if let Some(repo) = live {
        let kms_differs = spec.kms_key.is_some() && repo.kms_key != spec.kms_key;
        if repo.encryption != spec.encryption.as_aws() || kms_differs {
            planner.block(
                &addr,
                Some("encryption"),
                format!(
                    "is {}{} in AWS and {}{} in the stack; ECR fixes a repository's encryption at creation. \
                     Keep the live setting, or declare a repository under another name",
                    repo.encryption,
                    repo.kms_key.as_deref().map(|k| format!(" ({k})")).unwrap_or_default(),
                    spec.encryption.as_aws(),
                    spec.kms_key.as_deref().map(|k| format!(" ({k})")).unwrap_or_default(),
                ),
            );
        }
    }
    let mut changes = Changes::default();
    changes.value(
        "image_tag_mutability",
        live.map(|r| r.image_tag_mutability.as_str()),
        spec.image_tag_mutability.as_aws(),
    );
    changes.value(
        "scan_on_push",
        live.map(|r| r.scan_on_push),
        spec.scan_on_push,
    );
    if live.is_none() {
        changes.value("encryption", None, spec.encryption.as_aws());
    }
    if let Some(n) = spec.keep_images {
        changes.document(
            "lifecycle_policy",
            live.and_then(|r| r.lifecycle_policy.as_ref()),
            &lifecycle_policy(n),
        );
    }
    tag_changes(&mut changes, live.map(|r| &r.tags), &cx.stack.tags());
    let planned = Planned::new(&spec.name, changes, live.map(|r| r.uri.clone()));
    let reason = claim.reason(planned.action());
    planner.add(planned.with_reason(reason).with_payload(Step {
        spec: spec.clone(),
        live: live.cloned(),
    }));
}

fn tags(stack_tags: BTreeMap<String, String>) -> Vec<Tag> {
    stack_tags
        .into_iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .expect("key and value are set")
        })
        .collect()
}

/// Create, or change what differs in place. Returns the repository URI.
async fn apply(cx: &ApplyContext<'_>, r: &ResourcePlan, step: &Step) -> Result<String, Error> {
    match &step.live {
        None => create(cx, r, step).await,
        Some(live) => update(cx, r, step, live).await,
    }
}

/// Repository names are unique in a registry: when the repository exists after all (another
/// apply created it meanwhile, or a retried call whose answer was lost did), it is read and,
/// when it is this stack's, updated to match the stack.
async fn create(cx: &ApplyContext<'_>, r: &ResourcePlan, step: &Step) -> Result<String, Error> {
    let spec = &step.spec;
    let addr = &r.address;
    let encryption = EncryptionConfiguration::builder()
        .encryption_type(EncryptionType::from(spec.encryption.as_aws()))
        .set_kms_key(spec.kms_key.clone())
        .build()
        .expect("encryption type is set");
    let result = cx
        .aws
        .ecr
        .create_repository()
        .repository_name(&spec.name)
        .image_tag_mutability(ImageTagMutability::from(spec.image_tag_mutability.as_aws()))
        .image_scanning_configuration(
            ImageScanningConfiguration::builder()
                .scan_on_push(spec.scan_on_push)
                .build(),
        )
        .encryption_configuration(encryption)
        .set_tags(Some(tags(cx.stack.tags())))
        .send()
        .await
        .map_err(|e| Error::aws(addr, "CreateRepository", e));
    let out = match result {
        Err(e) if e.code_is("RepositoryAlreadyExistsException") => {
            cx.found_on_create(addr, "continuing with it");
            let found = read(cx.aws, spec, &cx.stack.name).await?;
            if matches!(found, Lookup::Missing) {
                return Err(e);
            }
            let r = replan::<Repository>(cx, addr, "CreateRepository", found)?;
            let step: &Step = r.payload()?;
            let live = step.live.as_ref().ok_or(e)?;
            return update(cx, &r, step, live).await;
        }
        other => other?,
    };
    let uri = out
        .repository()
        .and_then(|r| r.repository_uri())
        .map(str::to_owned)
        .ok_or_else(|| Error::new(addr, "CreateRepository", "AWS returned no URI"))?;
    lifecycle(cx, r, spec).await?;
    Ok(uri)
}

/// Change what differs in place. Returns the repository URI.
async fn update(
    cx: &ApplyContext<'_>,
    r: &ResourcePlan,
    step: &Step,
    live: &LiveRepository,
) -> Result<String, Error> {
    let spec = &step.spec;
    let addr = &r.address;
    let mutability = ImageTagMutability::from(spec.image_tag_mutability.as_aws());
    let scanning = ImageScanningConfiguration::builder()
        .scan_on_push(spec.scan_on_push)
        .build();
    together(vec![
        Box::pin(async {
            if r.changes("image_tag_mutability") {
                cx.aws
                    .ecr
                    .put_image_tag_mutability()
                    .repository_name(&spec.name)
                    .image_tag_mutability(mutability)
                    .send()
                    .await
                    .map_err(|e| Error::aws(addr, "PutImageTagMutability", e))?;
            }
            Ok(())
        }),
        Box::pin(async {
            if r.changes("scan_on_push") {
                cx.aws
                    .ecr
                    .put_image_scanning_configuration()
                    .repository_name(&spec.name)
                    .image_scanning_configuration(scanning)
                    .send()
                    .await
                    .map_err(|e| Error::aws(addr, "PutImageScanningConfiguration", e))?;
            }
            Ok(())
        }),
        Box::pin(async {
            if r.changes("tags") {
                cx.aws
                    .ecr
                    .tag_resource()
                    .resource_arn(&live.arn)
                    .set_tags(Some(tags(cx.stack.tags())))
                    .send()
                    .await
                    .map_err(|e| Error::aws(addr, "TagResource", e))?;
            }
            Ok(())
        }),
        Box::pin(lifecycle(cx, r, spec)),
    ])
    .await?;
    Ok(live.uri.clone())
}

/// The lifecycle policy, when the plan changes it.
async fn lifecycle(
    cx: &ApplyContext<'_>,
    r: &ResourcePlan,
    spec: &RepositorySpec,
) -> Result<(), Error> {
    let addr = &r.address;
    if let Some(n) = spec.keep_images
        && r.changes("lifecycle_policy")
    {
        cx.aws
            .ecr
            .put_lifecycle_policy()
            .repository_name(&spec.name)
            .lifecycle_policy_text(lifecycle_policy(n).to_string())
            .send()
            .await
            .map_err(|e| Error::aws(addr, "PutLifecyclePolicy", e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;

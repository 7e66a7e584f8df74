//! Read the live state of every declared resource: each registered kind reads its own, all at
//! once, awaiting one another where one needs another's state. The only reader: plan never
//! calls AWS.

use crate::aws::{Aws, Reads, partition_of};
use crate::engine::{Error, Live, Prepared, ReadContext, WriteOnly};
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
    read_with(ReadContext::new(aws, stack, write_only, prepared, KINDS)).await
}

/// Read for `infra destroy`: no image is built, no write-only value is compared, and each kind
/// reads what deleting needs too.
pub async fn read_for_destroy(aws: &Aws, stack: &Stack) -> Result<Live, Error> {
    let prepared = Prepared::default();
    let mut cx = ReadContext::new(aws, stack, WriteOnly::Skip, &prepared, KINDS);
    cx.destroying = true;
    read_with(cx).await
}

async fn read_with(cx: ReadContext<'_>) -> Result<Live, Error> {
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
    let arn = identity.arn().unwrap_or_default();
    let mut live = Live::from_states(
        aws.region.clone(),
        identity.account().unwrap_or_default().to_owned(),
        partition_of(arn),
        cx.into_states(),
        KINDS,
    );
    live.write_only = write_only;
    Ok(live)
}

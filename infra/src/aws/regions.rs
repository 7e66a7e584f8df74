//! Region names, checked before any call: a typo such as `--region mars-1` would otherwise reach
//! a host that does not exist (or an emulator that answers HTML) and fail after the timeouts.

/// The regions of AWS's partitions as the SDK's endpoint metadata lists them (aws, aws-cn,
/// aws-us-gov, aws-iso*, aws-eusc), late 2026. A name that follows the partitions' region
/// pattern is accepted too, so a region newer than this list still works.
pub const KNOWN: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "cn-north-1",
    "cn-northwest-1",
    "us-gov-east-1",
    "us-gov-west-1",
    "us-iso-east-1",
    "us-iso-west-1",
    "us-isob-east-1",
    "us-isof-south-1",
    "us-isof-east-1",
    "eu-isoe-west-1",
    "eusc-de-east-1",
];

/// Whether `name` is a region: a known one, or one shaped like the partitions' region pattern
/// (`^(us|eu|ap|sa|ca|me|af|il|mx)-\w+-\d+$` for aws, and the `cn-`, `us-gov-`, `us-iso*-`,
/// `eu-isoe-` and `eusc-` prefixes).
pub fn is_region(name: &str) -> bool {
    if KNOWN.contains(&name) {
        return true;
    }
    let parts: Vec<&str> = name.split('-').collect();
    let prefixes: &[&[&str]] = &[
        &["us"],
        &["eu"],
        &["ap"],
        &["sa"],
        &["ca"],
        &["me"],
        &["af"],
        &["il"],
        &["mx"],
        &["cn"],
        &["us", "gov"],
        &["us", "iso"],
        &["us", "isob"],
        &["us", "isof"],
        &["eu", "isoe"],
        &["eusc"],
    ];
    prefixes.iter().any(|prefix| {
        parts.len() == prefix.len() + 2
            && parts.starts_with(prefix)
            && is_direction(parts[prefix.len()])
            && parts[prefix.len() + 1].chars().all(|c| c.is_ascii_digit())
            && !parts[prefix.len() + 1].is_empty()
    })
}

fn is_direction(word: &str) -> bool {
    matches!(
        word,
        "central"
            | "north"
            | "south"
            | "east"
            | "west"
            | "northeast"
            | "northwest"
            | "southeast"
            | "southwest"
    )
}

#[cfg(test)]
mod tests {
    use super::is_region;

    #[test]
    fn regions_are_known_or_shaped_like_one() {
        for name in [
            "us-west-2",
            "eu-central-1",
            "us-gov-west-1",
            "cn-north-1",
            "ap-southeast-9",
        ] {
            assert!(is_region(name), "{name}");
        }
        for name in [
            "mars-1",
            "us-west",
            "uswest2",
            "us-west-2a",
            "",
            "eu-middle-1",
            "US-WEST-2",
        ] {
            assert!(!is_region(name), "{name}");
        }
    }
}

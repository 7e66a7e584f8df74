//! The imports point one way: stages (cli, live, plan, apply, output, client) → registry →
//! resources (the kinds) → engine → stack, aws, policy, error. This test reads the sources and
//! fails when a lower layer names a higher one, or when `stack/` or `engine/` name a kind.

use std::path::Path;

/// The Rust files under `dir` (relative to `src/`), test files left out.
fn sources(dir: &str) -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let path = root.join(dir);
    let mut files = Vec::new();
    let entries: Vec<_> = if path.is_dir() {
        std::fs::read_dir(&path)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect()
    } else {
        vec![path]
    };
    for file in entries {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        if name.ends_with(".rs") && name != "tests.rs" {
            let text = std::fs::read_to_string(&file).unwrap();
            // Only the code before the unit tests.
            let code = text
                .split("#[cfg(test)]\nmod tests")
                .next()
                .unwrap()
                .to_owned();
            files.push((format!("{dir}/{name}"), code));
        }
    }
    files
}

#[test]
fn lower_layers_never_name_higher_ones() {
    let rules: &[(&str, &[&str])] = &[
        (
            "engine",
            &[
                "crate::resources",
                "crate::registry",
                "crate::cli",
                "crate::live",
                "crate::plan",
                "crate::apply",
            ],
        ),
        (
            "stack",
            &[
                "crate::engine",
                "crate::resources",
                "crate::registry",
                "crate::aws",
            ],
        ),
        (
            "aws",
            &[
                "crate::engine",
                "crate::resources",
                "crate::registry",
                "crate::stack",
            ],
        ),
        ("error.rs", &["crate::"]),
        ("policy.rs", &["crate::"]),
    ];
    let mut wrong = Vec::new();
    for (dir, forbidden) in rules {
        for (file, code) in sources(dir) {
            for name in *forbidden {
                if code
                    .lines()
                    .any(|l| !l.trim_start().starts_with("//") && l.contains(name))
                {
                    wrong.push(format!("{file} names {name}"));
                }
            }
        }
    }
    assert_eq!(wrong, Vec::<String>::new());
}

#[test]
fn stack_and_engine_name_no_kind() {
    let kinds: Vec<String> = crate::registry::KINDS
        .iter()
        .map(|k| k.section().path().split('.').next().unwrap().to_owned())
        .chain(
            [
                "UserPool",
                "Runtime",
                "Repository",
                "LogGroup",
                "RolePolicy",
            ]
            .map(str::to_owned),
        )
        .collect();
    let mut wrong = Vec::new();
    for dir in ["stack", "engine"] {
        for (file, code) in sources(dir) {
            for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
                for kind in &kinds {
                    if line.contains(&format!("\"{kind}")) || line.contains(&format!("::{kind}")) {
                        wrong.push(format!("{file}: {}", line.trim()));
                    }
                }
            }
        }
    }
    assert_eq!(wrong, Vec::<String>::new());
}

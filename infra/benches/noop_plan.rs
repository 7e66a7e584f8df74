//! A no-op plan against the emulator: how many calls it makes (all reads) and how long it takes
//! with independent reads issued concurrently versus the same reads one after another.
//!
//! Run: `scripts/test-tools.sh && cargo bench -p infra --bench noop_plan`
//! (`NOOP_PLAN_RUNS=N` sets the number of timed runs per mode, default 40;
//! `EMULATOR_LATENCY_MS=20` makes the emulator answer each call 20 ms later, standing in for
//! the round trip to a real AWS endpoint; moto alone answers in a few ms of Python CPU).

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use infra::aws::{Aws, Reads};
use support::{Moto, PASSWORD, Project, is_read};

fn main() {
    let runs: usize = std::env::var("NOOP_PLAN_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(40);
    let moto = Moto::start();
    let project = Project::from_repo(|s| s);
    project.infra(&moto, &["apply", "--yes"]).expect(0);

    let stack_path = project.dir.path().join("stack.toml");
    let stack = infra::registry::load_stack(&stack_path, &|name| match name {
        "COGNITO_PASSWORD" => Some(PASSWORD.to_owned()),
        "OPENAI_API_KEY" => Some(support::OPENAI_KEY.to_owned()),
        _ => None,
    })
    .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let aws = runtime.block_on(async {
        let config = moto.sdk_config().await;
        Aws::from_config(&config).unwrap()
    });
    let sequential = Aws {
        reads: Reads::Sequential,
        ..aws.clone()
    };

    let noop_plan = |aws: &Aws| {
        runtime.block_on(async {
            let started = Instant::now();
            let live = infra::live::read(
                aws,
                &stack,
                infra::engine::WriteOnly::Verify,
                &Default::default(),
            )
            .await
            .unwrap();
            let plan = infra::plan::plan(&stack, &live);
            let elapsed = started.elapsed();
            assert!(
                !plan.has_changes() && plan.blockers.is_empty(),
                "the benchmark needs a converged stack"
            );
            elapsed
        })
    };

    // Warm up connections and the emulator, then count one run's calls.
    noop_plan(&aws);
    noop_plan(&sequential);
    moto.start_recording();
    noop_plan(&aws);
    let operations = moto.operations();
    // Recording costs the emulator CPU on every call: none in the timed runs.
    moto.stop_recording();
    assert!(
        operations.iter().all(|op| is_read(op)),
        "a no-op plan wrote: {operations:?}"
    );

    // Interleave the two modes so both see the same machine conditions.
    let (mut concurrent_times, mut sequential_times) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        concurrent_times.push(noop_plan(&aws));
        sequential_times.push(noop_plan(&sequential));
    }
    let c = median(&mut concurrent_times);
    let s = median(&mut sequential_times);
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for op in &operations {
        *counts.entry(op).or_default() += 1;
    }
    let latency = std::env::var("EMULATOR_LATENCY_MS").unwrap_or_else(|_| "0".into());
    println!(
        "no-op plan of the repository's stack.toml against the emulator, {latency} ms added per call \
         ({runs} runs per mode, medians)"
    );
    println!("  calls: {} (all reads): {counts:?}", operations.len());
    println!("  concurrent reads: {:>7.1} ms", ms(c));
    println!("  sequential reads: {:>7.1} ms", ms(s));
    println!(
        "  sequential / concurrent: {:.2}x",
        s.as_secs_f64() / c.as_secs_f64()
    );
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

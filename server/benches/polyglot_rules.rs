//! Rules in Rust, TypeScript and Python side by side: the comment classifier (built to wasm by
//! scripts/build-rules, build-js-rules and build-py-rules) on a closed ticket with 20 comments,
//! a fresh sandbox per evaluation with every limit on.
//!
//! Run: `scripts/build-rules && scripts/build-js-rules && scripts/build-py-rules &&
//! cargo bench -p verdict-server --bench polyglot_rules`. Prints per language: module and
//! artifact size, compile time at upload (and, for a component compiled by the baseline
//! compiler, its latency and the background tier-up), footprint, fuel, memory peak, p50/p99
//! latency of the optimized code; then the time to load 200 precompiled rules of mixed
//! languages.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use rules_sdk::{RuleInput, StatusCategory};
use verdict_server::rules::{Limits, LoadedRule, PoolCeilings, RuleEngine, Tier};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[path = "support/twenty_comments.rs"]
mod twenty_comments;
use twenty_comments::input;

/// p50 and p99 of `n` evaluations after `n / 10` to warm up.
fn latency(
    engine: &RuleEngine,
    rule: &LoadedRule,
    input: &RuleInput,
    limits: &Limits,
    n: usize,
) -> (Duration, Duration) {
    for _ in 0..n / 10 {
        let _ = engine.evaluate(rule, input, limits);
    }
    let mut times: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            let e = engine.evaluate(rule, input, limits);
            let d = t.elapsed();
            assert!(e.result.is_ok());
            d
        })
        .collect();
    times.sort();
    (percentile(&times, 0.5), percentile(&times, 0.99))
}

fn built(rel: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target")
        .join(rel);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run scripts/build-rules, build-js-rules and build-py-rules first)",
            path.display()
        )
    })
}

fn main() {
    let engine = RuleEngine::new(16, PoolCeilings::default()).unwrap();
    let input = input();
    let mut rules = vec![
        (
            "rust".to_owned(),
            "wasm/wasm32-unknown-unknown/release/comment_classifier.wasm".to_owned(),
            2_000usize,
        ),
        (
            "javascript".into(),
            "js-rules/comment-classifier.wasm".into(),
            1_000,
        ),
        (
            "python".into(),
            "py-rules/comment-classifier.wasm".into(),
            300,
        ),
    ];
    // `VERDICT_BENCH_RULES=label=path,…` (paths under target/): only these builds, e.g. to
    // compare two builds of a classifier; the rest of the benchmark is skipped.
    let only = std::env::var("VERDICT_BENCH_RULES").ok();
    if let Some(list) = &only {
        rules = list
            .split(',')
            .filter_map(|item| item.split_once('='))
            .map(|(label, path)| (label.to_owned(), path.to_owned(), 300))
            .collect();
    }
    let mut stored = Vec::new();
    for (language, path, n) in rules {
        let (language, path) = (language.as_str(), path.as_str());
        let bytes = built(path);
        let limits = Limits {
            memory_bytes: 64 << 20,
            fuel: 100_000_000,
            deadline_ms: 1_000,
            module_bytes: 64 << 20,
            ..Limits::default()
        };
        let t = Instant::now();
        let mut prepared = engine.prepare(&bytes, &limits).unwrap();
        let upload = t.elapsed();
        let tier = prepared.rule.tier;
        // A baseline upload: its latency as evaluations see it until the tier-up, then the
        // tier-up itself (what the server does in the background); the figures below are the
        // optimized code's.
        if tier == Tier::Baseline {
            let (p50, p99) = latency(&engine, &prepared.rule, &input, &limits, n);
            let t = Instant::now();
            let (optimized, artifact) = engine
                .optimize(&prepared.component, &prepared.rule)
                .unwrap();
            println!(
                "{language:<10} baseline (Winch) code: p50 {p50:>9.1?}  p99 {p99:>9.1?}; tier-up (Cranelift, in the background) {:.1?}",
                t.elapsed()
            );
            prepared.rule = optimized;
            prepared.artifact = artifact;
        }
        let rule = &prepared.rule;
        let first = engine.evaluate(rule, &input, &limits);
        let out = first.result.as_ref().expect("the classifier decides");
        assert!(
            format!("{out:?}").contains("FalsePositive"),
            "{language}: {out:?}"
        );
        let (p50, p99) = latency(&engine, rule, &input, &limits, n);
        // The same ticket still in progress: every rule defers at once, so this is the fixed
        // cost (a fresh instance, the 20 comments handed over, the answer read back).
        let mut open = input.clone();
        if let RuleInput::Closure(i) = &mut open {
            i.ticket.status.category = StatusCategory::InProgress;
        }
        let (fixed, _) = latency(&engine, rule, &open, &limits, n);
        let fixed_fuel = engine.evaluate(rule, &open, &limits).usage.fuel_used;
        let t = prepared.timings;
        println!(
            "{language:<10} upload phases ({} compiler): read {:.1?}, compile {:.1?}, link+measure {:.1?}, serialize {:.1?}, smoke {:.1?}",
            tier.as_str(),
            t.read,
            t.compile,
            t.link,
            t.serialize,
            t.smoke
        );
        println!(
            "{language:<10} module {:>9} B  artifact {:>9} B  upload (validate+compile+smoke) {:>8.1?}  footprint {}/{}/{}  fuel {:>10}  memory peak {:>9} B  p50 {:>9.1?}  p99 {:>9.1?}  (fixed cost p50 {:>9.1?}, fuel {})",
            bytes.len(),
            prepared.artifact.len(),
            upload,
            rule.footprint.core_instances,
            rule.footprint.memories,
            rule.footprint.tables,
            first.usage.fuel_used,
            first.usage.memory_peak_bytes,
            p50,
            p99,
            fixed,
            fixed_fuel,
        );
        stored.push((
            prepared.artifact,
            prepared.component,
            (prepared.rule.footprint, prepared.rule.toolchain),
        ));
    }

    if only.is_some() {
        return;
    }
    // Uploading another rule of a toolchain already seen: the interpreter's functions come
    // from the compiled-function cache.
    for (language, path) in [
        ("javascript", "js-rules/risk-acceptance.wasm"),
        ("python", "py-rules/auto-ticket.wasm"),
    ] {
        let limits = Limits {
            memory_bytes: 64 << 20,
            fuel: 100_000_000,
            module_bytes: 64 << 20,
            ..Limits::default()
        };
        let bytes = built(path);
        let before = engine.compile_cache_stats().unwrap_or_default();
        let t = Instant::now();
        let p = engine.prepare(&bytes, &limits).unwrap();
        let upload = t.elapsed();
        let tier_up = (p.rule.tier == Tier::Baseline).then(|| {
            let t = Instant::now();
            engine.optimize(&p.component, &p.rule).unwrap();
            t.elapsed()
        });
        let after = engine.compile_cache_stats().unwrap_or_default();
        println!(
            "{language:<10} a second rule ({path}): upload {upload:.1?} ({} compiler, compile {:.1?}), tier-up {}, {} functions from the cache, {} compiled",
            p.rule.tier.as_str(),
            p.timings.compile,
            tier_up.map_or("none".to_owned(), |d| format!("{d:.1?}")),
            after.hits - before.hits,
            after.misses - before.misses,
        );
    }

    // Start-up: 200 precompiled rules of mixed languages (150 Rust, 40 JavaScript, 10
    // Python) deserialized and linked by a fresh engine.
    let fresh = RuleEngine::new(32, PoolCeilings::default()).unwrap();
    let mix: Vec<usize> = (0..200)
        .map(|i| match i % 20 {
            0 => 2,
            1..=4 => 1,
            _ => 0,
        })
        .collect();
    let t = Instant::now();
    let loaded: Vec<_> = mix
        .iter()
        .map(|&k| {
            fresh
                .load(&stored[k].0, &stored[k].1, Some(stored[k].2.clone()))
                .unwrap()
        })
        .collect();
    println!(
        "loading {} precompiled rules (150 Rust, 40 JavaScript, 10 Python): {:.1?}",
        loaded.len(),
        t.elapsed()
    );
}

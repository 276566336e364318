//! Rule evaluation speed: the comment classifier (`rules-examples/comment-classifier`, built
//! to wasm by scripts/build-rules) on a closed ticket with 20 comments of ~200 characters,
//! a fresh instance per evaluation with every limit on, against the same logic natively.
//!
//! Run: `scripts/build-rules && cargo bench -p verdict-server --bench rule_eval`. Prints the
//! fuel and memory one evaluation takes, p50/p99 latency (wasm and native, and their ratio),
//! throughput on all cores, and start-up time for 200 precompiled rules.

use std::time::{Duration, Instant};

use rules_sdk::ClosureInput;
use verdict_server::rules::{Limits, PoolCeilings, RuleEngine};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[path = "support/twenty_comments.rs"]
mod twenty_comments;
use twenty_comments::input;

fn main() {
    let wasm_path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/wasm/wasm32-unknown-unknown/release/comment_classifier.wasm"
    );
    let bytes = std::fs::read(wasm_path)
        .unwrap_or_else(|e| panic!("{wasm_path}: {e} (run scripts/build-rules first)"));
    let engine = RuleEngine::new(64, PoolCeilings::default()).unwrap();
    let limits = Limits::default();
    let prepared = engine.prepare(&bytes, &limits).unwrap();
    let rule = &prepared.rule;
    let input = input();
    let size = serde_json::to_vec(&input).unwrap().len();

    let native_out = rules_sdk::evaluate::<ClassifierNative>(&input);
    let wasm_eval = engine.evaluate(rule, &input, &limits);
    assert_eq!(wasm_eval.result.as_ref().unwrap(), &native_out);
    println!(
        "input {size} bytes, 20 comments; fuel used {} of {}; memory peak {} bytes",
        wasm_eval.usage.fuel_used, limits.fuel, wasm_eval.usage.memory_peak_bytes
    );

    let n = 20_000;
    for _ in 0..1_000 {
        let _ = engine.evaluate(rule, &input, &limits);
    }
    let mut wasm: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            let e = engine.evaluate(rule, &input, &limits);
            let d = t.elapsed();
            assert!(e.result.is_ok());
            d
        })
        .collect();
    let mut native: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(rules_sdk::evaluate::<ClassifierNative>(
                std::hint::black_box(&input),
            ));
            t.elapsed()
        })
        .collect();
    wasm.sort();
    native.sort();
    let (wp50, wp99) = (percentile(&wasm, 0.5), percentile(&wasm, 0.99));
    let (np50, np99) = (percentile(&native, 0.5), percentile(&native, 0.99));
    println!(
        "wasm   p50 {wp50:>9.1?}  p99 {wp99:>9.1?}   (fresh store + instance, fuel + epoch + limits)"
    );
    println!("native p50 {np50:>9.1?}  p99 {np99:>9.1?}");
    println!(
        "ratio wasm/native at p50: {:.2}x",
        wp50.as_secs_f64() / np50.as_secs_f64()
    );

    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let per = 20_000;
    let t = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                for _ in 0..per {
                    assert!(engine.evaluate(rule, &input, &limits).result.is_ok());
                }
            });
        }
    });
    let secs = t.elapsed().as_secs_f64();
    println!(
        "throughput on {threads} threads: {:.0} evaluations/s",
        (threads * per) as f64 / secs
    );

    // Start-up: 200 stored artifacts deserialized and linked.
    let artifacts: Vec<Vec<u8>> = (0..200).map(|_| prepared.artifact.clone()).collect();
    let fresh = RuleEngine::new(64, PoolCeilings::default()).unwrap();
    let known = (prepared.rule.footprint, prepared.rule.toolchain.clone());
    let t = Instant::now();
    let loaded: Vec<_> = artifacts
        .iter()
        .map(|a| {
            fresh
                .load(a, &prepared.component, Some(known.clone()))
                .unwrap()
        })
        .collect();
    println!(
        "start-up with {} precompiled rules: {:.1?}",
        loaded.len(),
        t.elapsed()
    );
}

/// The classifier's logic, natively.
struct ClassifierNative;

impl rules_sdk::Rule for ClassifierNative {
    fn closure(input: &ClosureInput) -> rules_sdk::ClosureDecision {
        comment_classifier_native(input)
    }
}

#[path = "../../rules-examples/comment-classifier/src/logic.rs"]
mod logic;
use logic::classify_closure as comment_classifier_native;

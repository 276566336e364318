//! Rules written in TypeScript/JavaScript (built by scripts/build-js-rules with rules-sdk-js and
//! componentize-qjs) and Python (scripts/build-py-rules, rules-sdk-py and componentize-py) run
//! like Rust ones: sized from what they link, recognised by language, contained when hostile,
//! refused with a way out when they import WASI.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use rules_sdk::{DecisionKind, RuleInput};
use verdict_server::rules::{
    CompileCacheConfig, FunctionCache, Language, Limits, PoolCeilings, RuleEngine, RuleError, Tier,
    smoke,
};

fn js_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/js-rules");
    assert!(
        dir.join("js_hostile.wasm").exists(),
        "the JavaScript rules are not built: run scripts/build-js-rules (scripts/test does)"
    );
    dir
}

fn js(name: &str) -> Vec<u8> {
    std::fs::read(js_dir().join(format!("{name}.wasm"))).unwrap()
}

fn py(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/py-rules")
        .join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run scripts/build-py-rules (scripts/test does)",
            path.display()
        )
    })
}

fn run_fixtures(engine: &RuleEngine, rule: &verdict_server::rules::LoadedRule, dir: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(dir);
    let results = rules_sdk::testing::run_with(&dir, |input| {
        engine
            .evaluate(rule, input, &Limits::default())
            .result
            .map_err(|e| e.to_string())
    });
    assert!(results.len() >= 6, "{}: too few fixtures", dir.display());
    let failures: Vec<String> = results
        .iter()
        .filter_map(|r| r.failure.as_ref().map(|f| format!("{}: {f}", r.name)))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The tests share compiled functions with every other test process of the run (as the
/// end-to-end tests' servers do): CPython and QuickJS compile once per run.
fn shared_cache() -> Option<Arc<FunctionCache>> {
    static CACHE: OnceLock<Arc<FunctionCache>> = OnceLock::new();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/test-compile-cache");
    Some(
        CACHE
            .get_or_init(|| {
                Arc::new(
                    FunctionCache::open(&CompileCacheConfig {
                        dir: Some(dir),
                        ..CompileCacheConfig::default()
                    })
                    .unwrap(),
                )
            })
            .clone(),
    )
}

fn engine() -> RuleEngine {
    pooled(8, PoolCeilings::default())
}

fn pooled(slots: u32, ceilings: PoolCeilings) -> RuleEngine {
    RuleEngine::with_compile_cache(slots, ceilings, shared_cache()).unwrap()
}

fn asking(body: &str) -> RuleInput {
    let RuleInput::Closure(mut input) = smoke::input(DecisionKind::Closure) else {
        unreachable!()
    };
    input.ticket.comments = vec![rules_sdk::Comment {
        id: "1".into(),
        author: "acc-1".into(),
        body: body.into(),
        ..rules_sdk::Comment::default()
    }];
    RuleInput::Closure(input)
}

#[test]
fn typescript_examples_pass_their_fixtures_as_wasm_and_name_their_toolchain() {
    let engine = engine();
    for name in ["risk-acceptance", "comment-classifier"] {
        let prepared = engine
            .prepare(&js(name), &Limits::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let rule = &prepared.rule;
        assert_eq!(rule.decisions, vec![DecisionKind::Closure], "{name}");
        assert_eq!(rule.toolchain.language, Language::JavaScript, "{name}");
        assert!(
            rule.toolchain
                .tools
                .iter()
                .any(|t| t == "componentize-qjs 0.4.5"),
            "{name}: {:?}",
            rule.toolchain.tools
        );
        // QuickJS links several modules: more than the two core instances a Rust rule takes.
        assert!(rule.footprint.core_instances > 2, "{:?}", rule.footprint);
        run_fixtures(
            &engine,
            rule,
            &format!("../rules-examples/ts/{name}/fixtures"),
        );
    }
}

#[test]
fn python_examples_pass_their_fixtures_as_wasm_under_the_default_limits() {
    let engine = engine();
    for (name, kind) in [
        ("auto-ticket", DecisionKind::Ticketing),
        ("comment-classifier", DecisionKind::Closure),
    ] {
        let prepared = engine
            .prepare(&py(name), &Limits::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let rule = &prepared.rule;
        assert_eq!(rule.decisions, vec![kind], "{name}");
        assert_eq!(rule.toolchain.language, Language::Python, "{name}");
        assert!(
            rule.toolchain
                .tools
                .iter()
                .any(|t| t == "componentize-py 0.25.1"),
            "{name}: {:?}",
            rule.toolchain.tools
        );
        // CPython links dozens of modules: the 38, more than 32 would allow.
        assert!(rule.footprint.core_instances > 32, "{:?}", rule.footprint);
        run_fixtures(
            &engine,
            rule,
            &format!("../rules-examples/py/{name}/fixtures"),
        );
    }
}

#[test]
fn hostile_python_is_contained_with_typed_errors() {
    assert_contained(
        &py("py_hostile"),
        &[
            ("loop", &["out_of_fuel", "deadline_exceeded"], None),
            ("allocate", &["memory_limit"], None),
            // CPython's own recursion limit raises RecursionError: an exception, so a trap.
            ("recurse", &["trap"], Some("RecursionError")),
            (
                "throw",
                &["trap"],
                Some("uncaught exception: ValueError: asked to throw"),
            ),
        ],
    );
}

/// Each request (the last comment's text) ends in one of its error codes, with the message
/// fragment when given; the next evaluation in the same pool still decides normally.
/// A rule compiled by the baseline compiler at upload is checked on both tiers.
fn assert_contained(bytes: &[u8], requests: &[(&str, &[&str], Option<&str>)]) {
    let engine = engine();
    let prepared = engine.prepare(bytes, &Limits::default()).unwrap();
    assert_contained_in(&engine, &prepared.rule, requests);
    if prepared.rule.tier == Tier::Baseline {
        let (optimized, _) = engine
            .optimize(&prepared.component, &prepared.rule)
            .unwrap();
        assert_contained_in(&engine, &optimized, requests);
    }
}

fn assert_contained_in(
    engine: &RuleEngine,
    rule: &verdict_server::rules::LoadedRule,
    requests: &[(&str, &[&str], Option<&str>)],
) {
    let limits = Limits::default();
    for (ask, codes, fragment) in requests {
        let error = engine
            .evaluate(rule, &asking(ask), &limits)
            .result
            .err()
            .unwrap_or_else(|| panic!("`{ask}` succeeded"));
        assert!(
            codes.contains(&error.code()),
            "{ask} ({:?}): {error}",
            rule.tier
        );
        if let Some(f) = fragment {
            assert!(error.to_string().contains(f), "{ask}: {error}");
        }
    }
    let ok = engine.evaluate(rule, &asking("fine"), &limits);
    assert!(ok.result.is_ok(), "{:?}", ok.result);
}

#[test]
fn rust_rules_are_recognised_and_take_one_instance_of_everything() {
    let bytes = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../target/wasm/wasm32-unknown-unknown/release/default_policy.wasm"),
    )
    .expect("run scripts/build-rules");
    let prepared = engine().prepare(&bytes, &Limits::default()).unwrap();
    assert_eq!(prepared.rule.toolchain.language, Language::Rust);
    assert!(prepared.rule.footprint.core_instances >= 1);
    assert!(prepared.rule.footprint.core_instances <= 4);
}

#[test]
fn a_rule_larger_than_the_pool_ceiling_is_refused_naming_both_numbers() {
    let small = pooled(
        2,
        PoolCeilings {
            core_instances: 4,
            ..PoolCeilings::default()
        },
    );
    let bytes = js("risk-acceptance");
    let needs = engine()
        .prepare(&bytes, &Limits::default())
        .unwrap()
        .rule
        .footprint
        .core_instances;
    match small.prepare(&bytes, &Limits::default()) {
        Err(RuleError::OverPoolCeiling {
            what,
            needs: n,
            ceiling,
            key,
        }) => {
            assert_eq!(
                (what, n.as_str(), ceiling, key),
                (
                    "core instances",
                    "at least 11",
                    4,
                    "rules_max_core_instances"
                )
            );
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("accepted"),
    }
    let message = small
        .prepare(&bytes, &Limits::default())
        .err()
        .unwrap()
        .to_string();
    assert!(
        message.contains("needs at least 11 core instances"),
        "{message}"
    );
    assert!(message.contains("allows 4"), "{message}");
    // Counted exactly only once compiled: wasmtime adds adapter modules between the parts.
    let exact = pooled(
        2,
        PoolCeilings {
            core_instances: needs - 1,
            ..PoolCeilings::default()
        },
    );
    match exact.prepare(&bytes, &Limits::default()) {
        Err(RuleError::OverPoolCeiling { needs: n, .. }) => assert_eq!(n, needs.to_string()),
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("accepted under a ceiling one below its footprint"),
    }
}

#[test]
fn hostile_javascript_is_contained_with_typed_errors() {
    assert_contained(
        &js("js_hostile"),
        &[
            ("loop", &["out_of_fuel", "deadline_exceeded"], None),
            ("allocate", &["memory_limit"], None),
            ("recurse", &["stack_overflow"], None),
            // The SDK's build logs the exception before it traps; the error carries it.
            (
                "throw",
                &["trap"],
                Some("uncaught exception: Error: asked to throw"),
            ),
            // find-phrases (contract 1.2.0): its limits trap with their numbers, and its
            // native work is metered as fuel.
            (
                "phrases",
                &["trap"],
                Some("find-phrases: 1001 phrases, at most 1000"),
            ),
            ("search", &["out_of_fuel"], None),
        ],
    );
}

#[test]
fn a_javascript_rule_that_imports_wasi_is_refused_with_how_to_build_it() {
    let err = match engine().prepare(&js("js_with_wasi"), &Limits::default()) {
        Err(e) => e,
        Ok(_) => panic!("a rule importing WASI was accepted"),
    };
    assert_eq!(err.code(), "forbidden_import");
    let message = err.to_string();
    assert!(message.contains("wasi:"), "{message}");
    assert!(message.contains("--stub-wasi"), "{message}");
}

#[test]
fn rules_of_one_toolchain_share_compiled_functions_across_rules_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let config = CompileCacheConfig {
        dir: Some(dir.path().join("cache")),
        ..CompileCacheConfig::default()
    };
    let fresh = || {
        let cache = Arc::new(FunctionCache::open(&config).unwrap());
        let engine =
            RuleEngine::with_compile_cache(2, PoolCeilings::default(), Some(cache.clone()))
                .unwrap();
        (engine, cache)
    };
    // First rule: everything is compiled and kept.
    let (engine, cache) = fresh();
    engine
        .prepare(&js("risk-acceptance"), &Limits::default())
        .unwrap();
    let first = cache.stats();
    // (A few functions repeat within one component, so even the first has some hits.)
    assert!(
        first.misses > 1_000 && first.hits < first.misses,
        "{first:?}"
    );
    // Everything compiled is kept — once, though identical functions compiled at the same
    // time on two threads are both misses.
    assert!(
        first.stored > 1_000 && first.stored <= first.misses,
        "{first:?}"
    );
    // Another rule built by the same toolchain: QuickJS's functions come from the cache, and
    // the rule still decides as it should.
    let prepared = engine
        .prepare(&js("comment-classifier"), &Limits::default())
        .unwrap();
    let second = cache.stats();
    let (hits, misses) = (second.hits - first.hits, second.misses - first.misses);
    assert!(hits > 5 * misses, "hits {hits}, misses {misses}");
    run_fixtures(
        &engine,
        &prepared.rule,
        "../rules-examples/ts/comment-classifier/fixtures",
    );
    // After a restart the directory still holds them. (Not quite every function: some of
    // the glue wasmtime generates between a component's parts differs from one compile to
    // the next — 153 of ~3,600 here.)
    let (engine, cache) = fresh();
    engine
        .prepare(&js("comment-classifier"), &Limits::default())
        .unwrap();
    let again = cache.stats();
    assert!(again.hits > 10 * again.misses, "{again:?}");
}

#[test]
fn a_python_upload_runs_baseline_code_at_once_and_the_optimized_code_decides_the_same() {
    let engine = engine();
    let bytes = py("comment-classifier");
    let prepared = engine.prepare(&bytes, &Limits::default()).unwrap();
    // CPython's 18 MB are over the default threshold (4 MiB): Winch compiled them.
    assert_eq!(prepared.rule.tier, Tier::Baseline);
    let fixtures = "../rules-examples/py/comment-classifier/fixtures";
    run_fixtures(&engine, &prepared.rule, fixtures);
    let known = || Some((prepared.rule.footprint, prepared.rule.toolchain.clone()));
    // Stored before the tier-up finished (a restart): the baseline artifact loads as such —
    // the optimized engine refuses it.
    let reloaded = engine
        .load(&prepared.artifact, &prepared.component, known())
        .unwrap();
    assert_eq!(reloaded.tier, Tier::Baseline);
    run_fixtures(&engine, &reloaded, fixtures);

    let (optimized, artifact) = engine
        .optimize(&prepared.component, &prepared.rule)
        .unwrap();
    assert_eq!(optimized.tier, Tier::Optimized);
    assert_eq!(optimized.footprint, prepared.rule.footprint);
    assert_ne!(artifact, prepared.artifact);
    run_fixtures(&engine, &optimized, fixtures);
    let reloaded = engine
        .load(&artifact, &prepared.component, known())
        .unwrap();
    assert_eq!(reloaded.tier, Tier::Optimized);

    // Smaller components (QuickJS, Rust) and a server with the baseline compiler turned off
    // compile with Cranelift at upload.
    let js = engine
        .prepare(&js("comment-classifier"), &Limits::default())
        .unwrap();
    assert_eq!(js.rule.tier, Tier::Optimized);
    let off = RuleEngine::with_options(2, PoolCeilings::default(), shared_cache(), None).unwrap();
    let cranelift = off.prepare(&bytes, &Limits::default()).unwrap();
    assert_eq!(cranelift.rule.tier, Tier::Optimized);
    // Its artifact is one the default engine loads as optimized code.
    let loaded = engine
        .load(&cranelift.artifact, &cranelift.component, known())
        .unwrap();
    assert_eq!(loaded.tier, Tier::Optimized);
}

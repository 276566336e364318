//! The wasm host against hostile modules (written in WAT here) and the example rules (built to
//! wasm by scripts/test): every failure gets its typed error, and good rules keep working.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rules_sdk::{ClosureDecision, DecisionKind, FindingStatus, RuleInput, RuleOutput};
use verdict_server::rules::{Limits, PoolCeilings, RuleEngine, RuleError, Tier, smoke};

/// A core module with the contract's component metadata for `world`, from WAT.
fn module_for(world: &str, wat: &str, version: &str) -> Vec<u8> {
    let mut module = wat::parse_str(wat).expect("test WAT parses");
    // Modules of an earlier version are built against its frozen contract, as they were.
    let wit = match version {
        "1.0.0" => rules_sdk::WIT_1_0_0.to_owned(),
        "1.1.0" => rules_sdk::WIT_1_1_0.to_owned(),
        "1.2.0" => rules_sdk::WIT_1_2_0.to_owned(),
        v => rules_sdk::WIT.replace(
            &format!("@{};", rules_sdk::CONTRACT_VERSION),
            &format!("@{v};"),
        ),
    };
    let mut resolve = wit_parser::Resolve::default();
    let pkg = resolve.push_str("rules.wit", &wit).unwrap();
    let world = resolve.select_world(&[pkg], Some(world)).unwrap();
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )
    .unwrap();
    module
}

/// A closure-only rule whose `decide` runs `body` and then answers `defer` (or whatever
/// `body` left at offset 16 and returns itself).
fn closure_rule(body: &str, extra: &str) -> Vec<u8> {
    closure_rule_v(body, extra, rules_sdk::CONTRACT_VERSION)
}

fn closure_rule_v(body: &str, extra: &str, version: &str) -> Vec<u8> {
    let wat = format!(
        r#"(module
  {extra}
  (memory (export "memory") 4)
  (global $heap (mut i32) (i32.const 131072))
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (local.set $p (i32.and (i32.add (global.get $heap) (i32.sub (local.get 2) (i32.const 1)))
                           (i32.sub (i32.const 0) (local.get 2))))
    (global.set $heap (i32.add (local.get $p) (local.get 3)))
    (block $ok
      (loop $grow
        (br_if $ok (i32.le_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536))))
        (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1)) (then unreachable))
        (br $grow)))
    (local.get $p))
  (func $decide (export "verdict:rules/closure@{version}#decide") (param i32) (result i32)
    (i32.store8 (i32.const 16) (i32.const 2))
    {body}
    (i32.const 16))
)"#
    );
    module_for("closure-rule", &wat, version)
}

fn engine() -> RuleEngine {
    RuleEngine::new(16, PoolCeilings::default()).unwrap()
}

fn prepare_err(engine: &RuleEngine, bytes: &[u8], limits: &Limits) -> RuleError {
    match engine.prepare(bytes, limits) {
        Ok(_) => panic!("the module was accepted"),
        Err(e) => e,
    }
}

#[test]
fn a_well_behaved_wat_rule_is_accepted_and_defers() {
    let engine = engine();
    // Every contract version the host runs (1.0.0 modules are built against the frozen WIT).
    for version in rules_sdk::SUPPORTED_CONTRACT_VERSIONS {
        let prepared = engine
            .prepare(&closure_rule_v("", "", version), &Limits::default())
            .unwrap();
        assert_eq!(prepared.rule.decisions, vec![DecisionKind::Closure]);
        assert_eq!(prepared.rule.contract_version, *version);
        let eval = engine.evaluate(
            &prepared.rule,
            &smoke::input(DecisionKind::Closure),
            &Limits::default(),
        );
        assert_eq!(
            eval.result.unwrap(),
            RuleOutput::Closure(ClosureDecision::Defer)
        );
        assert!(eval.usage.fuel_used > 0 && eval.usage.fuel_used < 1_000_000);
    }
    let prepared = engine
        .prepare(&closure_rule("", ""), &Limits::default())
        .unwrap();
    let err = engine
        .evaluate(
            &prepared.rule,
            &smoke::input(DecisionKind::Ticketing),
            &Limits::default(),
        )
        .result
        .unwrap_err();
    assert_eq!(err.code(), "not_implemented");
}

#[test]
fn an_infinite_loop_runs_out_of_fuel() {
    let err = prepare_err(
        &engine(),
        &closure_rule("(loop $l (br $l))", ""),
        &Limits::default(),
    );
    assert_eq!(err, RuleError::OutOfFuel { limit: 10_000_000 });
}

#[test]
fn an_infinite_loop_with_fuel_to_spare_hits_the_deadline() {
    let limits = Limits {
        fuel: 1_000_000_000,
        deadline_ms: 20,
        ..Limits::default()
    };
    let err = prepare_err(&engine(), &closure_rule("(loop $l (br $l))", ""), &limits);
    assert_eq!(err, RuleError::DeadlineExceeded { limit_ms: 20 });
}

#[test]
fn a_memory_bomb_hits_the_memory_limit() {
    let body =
        "(loop $l (br_if $l (i32.ne (memory.grow (i32.const 16)) (i32.const -1)))) unreachable";
    let err = prepare_err(&engine(), &closure_rule(body, ""), &Limits::default());
    assert_eq!(
        err,
        RuleError::MemoryLimit {
            limit: 16 * 1024 * 1024
        }
    );
}

#[test]
fn deep_recursion_overflows_the_stack() {
    let extra =
        "(func $down (param i32) (result i32) (call $down (i32.add (local.get 0) (i32.const 1))))";
    let err = prepare_err(
        &engine(),
        &closure_rule("(drop (call $down (i32.const 0)))", extra),
        &Limits {
            fuel: 1_000_000_000,
            deadline_ms: 1_000,
            ..Limits::default()
        },
    );
    assert_eq!(err.code(), "stack_overflow", "{err}");
}

#[test]
fn a_trap_is_reported_with_where_it_happened() {
    let err = prepare_err(
        &engine(),
        &closure_rule("unreachable", ""),
        &Limits::default(),
    );
    let RuleError::Trap(msg) = &err else {
        panic!("expected a trap, got {err:?}")
    };
    assert!(msg.contains("unreachable"), "{msg}");
}

#[test]
fn an_oversized_output_is_refused() {
    // apply(resolved, reason = 100,000 bytes at 65536, confidence 0.5)
    let body = "(i32.store8 (i32.const 16) (i32.const 0)) (i32.store8 (i32.const 20) (i32.const 1))
                (i32.store (i32.const 24) (i32.const 65536)) (i32.store (i32.const 28) (i32.const 100000))
                (f32.store (i32.const 32) (f32.const 0.5))
                (memory.fill (i32.const 65536) (i32.const 97) (i32.const 100000))";
    let err = prepare_err(&engine(), &closure_rule(body, ""), &Limits::default());
    assert_eq!(err.code(), "output_too_large", "{err}");
}

#[test]
fn an_invalid_decision_is_refused() {
    // apply(open, …) is not a closure verdict.
    let body = "(i32.store8 (i32.const 16) (i32.const 0)) (i32.store8 (i32.const 20) (i32.const 0))
                (i32.store (i32.const 24) (i32.const 65536)) (i32.store (i32.const 28) (i32.const 2))
                (f32.store (i32.const 32) (f32.const 0.5))
                (memory.fill (i32.const 65536) (i32.const 97) (i32.const 2))";
    let err = prepare_err(&engine(), &closure_rule(body, ""), &Limits::default());
    assert_eq!(err.code(), "output_invalid", "{err}");
    assert!(err.to_string().contains("cannot be `open`"), "{err}");
}

#[test]
fn a_wasi_import_is_forbidden() {
    let extra = r#"(import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))"#;
    let err = prepare_err(&engine(), &closure_rule("", extra), &Limits::default());
    assert_eq!(
        err,
        RuleError::ForbiddenImport("wasi_snapshot_preview1::fd_write".into())
    );
}

#[test]
fn a_future_contract_version_is_named() {
    let err = prepare_err(
        &engine(),
        &closure_rule_v("", "", "2.0.0"),
        &Limits::default(),
    );
    assert_eq!(
        err.to_string(),
        "unsupported contract version 2.0.0: this server runs verdict:rules versions 1.0.0, 1.1.0, 1.2.0, 1.3.0"
    );
}

#[test]
fn garbage_and_plain_modules_are_invalid() {
    let engine = engine();
    let err = prepare_err(&engine, b"definitely not wasm", &Limits::default());
    assert_eq!(err.code(), "invalid_module");
    // A valid core module without the contract's metadata exports no decision.
    let plain = wat::parse_str("(module (func (export \"f\")))").unwrap();
    let err = prepare_err(&engine, &plain, &Limits::default());
    assert_eq!(err.code(), "no_decisions");
    assert!(err.to_string().contains("export_rule!"), "{err}");
}

#[test]
fn a_three_mib_module_is_too_large() {
    let data = "\\00".repeat(3 << 20);
    let extra = format!("(data (memory 0) (i32.const 200000) \"{data}\")");
    // The data segment needs the memory declared first; build the module by hand.
    let module = closure_rule("", "").len();
    assert!(module < 10_000);
    let wat = format!("(module (memory 64) {extra})");
    let big = wat::parse_str(&wat).unwrap();
    assert!(big.len() > 3 << 20);
    let limits = Limits {
        module_bytes: 2 << 20,
        ..Limits::default()
    };
    let err = prepare_err(&engine(), &big, &limits);
    assert_eq!(
        err,
        RuleError::ModuleTooLarge {
            size: big.len(),
            limit: 2 << 20
        }
    );
}

fn wasm_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/wasm/wasm32-unknown-unknown/release");
    assert!(
        dir.join("default_policy.wasm").exists(),
        "the example rules are not built: run scripts/build-rules (scripts/test does)"
    );
    dir
}

fn example(name: &str) -> Vec<u8> {
    std::fs::read(wasm_dir().join(format!("{}.wasm", name.replace('-', "_")))).unwrap()
}

fn fixtures(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../rules-examples/{name}/fixtures"))
}

#[test]
fn every_example_passes_its_fixtures_as_wasm() {
    let engine = engine();
    for name in [
        "default-policy",
        "comment-classifier",
        "resolution-mapper",
        "transition-chooser",
        "auto-ticket",
        "risk-acceptance",
    ] {
        let prepared = engine
            .prepare(&example(name), &Limits::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(prepared.rule.decisions.len(), 3, "{name}");
        let results = rules_sdk::testing::run_with(&fixtures(name), |input| {
            engine
                .evaluate(&prepared.rule, input, &Limits::default())
                .result
                .map_err(|e| e.to_string())
        });
        assert!(results.len() >= 5, "{name}: too few fixtures");
        let failures: Vec<String> = results
            .iter()
            .filter_map(|r| {
                r.failure
                    .as_ref()
                    .map(|f| format!("{name}/{}: {f}", r.name))
            })
            .collect();
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}

/// The default policy decides identically natively and as wasm, over every fixture thread,
/// the labelled corpus and every example fixture.
#[test]
fn the_default_policy_is_the_same_native_and_wasm() {
    let engine = engine();
    let rule = engine
        .prepare(&example("default-policy"), &Limits::default())
        .unwrap()
        .rule;
    let mut inputs: Vec<RuleInput> = Vec::new();
    for name in [
        "default-policy",
        "comment-classifier",
        "risk-acceptance",
        "transition-chooser",
        "auto-ticket",
    ] {
        for (_, input, expected) in rules_sdk::testing::fixtures(&fixtures(name)).unwrap() {
            inputs.push(rules_sdk::testing::load(&input, &expected).unwrap().0);
        }
    }
    let threads: serde_json::Value = serde_json::from_str(include_str!(
        "../../tests/fixtures/closing-threads/threads.json"
    ))
    .unwrap();
    let RuleInput::Closure(base) = smoke::input(DecisionKind::Closure) else {
        unreachable!()
    };
    let corpus: serde_json::Value = serde_json::from_str(include_str!(
        "../../tests/fixtures/closing-threads/corpus.json"
    ))
    .unwrap();
    let all_threads = threads["threads"]
        .as_array()
        .unwrap()
        .iter()
        .chain(corpus["threads"].as_array().unwrap());
    for t in all_threads {
        let mut input = base.clone();
        input.ticket.resolution = t["resolution"].as_str().map(str::to_owned);
        input.ticket.comments = t["comments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| rules_sdk::Comment {
                body: c.as_str().unwrap().to_owned(),
                ..Default::default()
            })
            .collect();
        inputs.push(RuleInput::Closure(input));
    }
    assert!(inputs.len() > 600);
    for input in &inputs {
        let native = rules_sdk::evaluate::<rules_sdk::DefaultPolicy>(input);
        let wasm = engine
            .evaluate(&rule, input, &Limits::default())
            .result
            .unwrap();
        assert_eq!(
            native,
            wasm,
            "input: {}",
            serde_json::to_string(input).unwrap()
        );
    }
}

#[test]
fn a_guest_panic_message_reaches_the_error() {
    let engine = engine();
    let rule = engine
        .prepare(&example("test-panicking"), &Limits::default())
        .unwrap()
        .rule;
    let mut input = smoke::input(DecisionKind::Closure);
    if let RuleInput::Closure(i) = &mut input {
        i.ticket.comments[0].body = "panic please".into();
    }
    let err = engine
        .evaluate(&rule, &input, &Limits::default())
        .result
        .unwrap_err();
    let RuleError::Trap(msg) = &err else {
        panic!("expected a trap, got {err:?}")
    };
    assert!(msg.contains("asked to panic by comment 1"), "{msg}");
    // The instance that trapped is gone; the next evaluation starts fresh and succeeds.
    let ok = engine.evaluate(
        &rule,
        &smoke::input(DecisionKind::Closure),
        &Limits::default(),
    );
    assert_eq!(
        ok.result.unwrap(),
        RuleOutput::Closure(ClosureDecision::Defer)
    );
}

#[test]
fn logs_come_back_with_the_evaluation_and_are_capped() {
    let engine = engine();
    let rule = engine
        .prepare(&example("comment-classifier"), &Limits::default())
        .unwrap()
        .rule;
    let mut input = smoke::input(DecisionKind::Closure);
    if let RuleInput::Closure(i) = &mut input {
        i.ticket.comments[0].body = "False positive: only in test fixtures.".into();
    }
    let eval = engine.evaluate(&rule, &input, &Limits::default());
    assert!(matches!(
        eval.result.unwrap(),
        RuleOutput::Closure(ClosureDecision::Apply(v)) if v.status == FindingStatus::FalsePositive
    ));
    assert_eq!(eval.logs.len(), 1);
    assert_eq!(eval.logs[0].message, "classified the thread");
    let tiny = Limits {
        log_bytes: 5,
        ..Limits::default()
    };
    let eval = engine.evaluate(&rule, &input, &tiny);
    assert_eq!(eval.logs[0].message, "class");
    assert!(eval.usage.logs_truncated);
}

/// Hostile rules burning their whole budget do not stop good rules from succeeding.
#[test]
fn hostile_rules_do_not_starve_good_ones() {
    let engine = engine();
    let good = engine
        .prepare(&example("default-policy"), &Limits::default())
        .unwrap()
        .rule;
    let spinner = closure_rule("(loop $l (br $l))", "");
    let looping_limits = Limits {
        fuel: 1_000_000_000,
        deadline_ms: 30,
        ..Limits::default()
    };
    let stop = Arc::new(AtomicBool::new(false));
    let hostile: Vec<_> = (0..2)
        .map(|_| {
            let engine = engine.clone();
            let stop = stop.clone();
            let spinner = spinner.clone();
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let err = engine.prepare(&spinner, &looping_limits).err().unwrap();
                    assert_eq!(err.code(), "deadline_exceeded");
                    n += 1;
                }
                n
            })
        })
        .collect();
    let input = smoke::input(DecisionKind::Closure);
    for _ in 0..200 {
        let eval = engine.evaluate(&good, &input, &Limits::default());
        assert!(eval.result.is_ok(), "{:?}", eval.result);
    }
    stop.store(true, Ordering::Relaxed);
    for h in hostile {
        assert!(h.join().unwrap() > 0);
    }
}

/// Slots keep their pages between runs (copied back from the image where the kernel says
/// which were written): what one run wrote — over its data segment, in zeroed memory, past a
/// grown end — is never seen by the next.
#[test]
fn each_evaluation_starts_from_the_pristine_image() {
    let body = r#"
    (if (i32.ne (i32.load8_u (i32.const 200)) (i32.const 65)) (then unreachable))
    (if (i32.ne (i32.load8_u (i32.const 200000)) (i32.const 0)) (then unreachable))
    (if (i32.ne (memory.size) (i32.const 4)) (then unreachable))
    (i32.store8 (i32.const 200) (i32.const 66))
    (i32.store8 (i32.const 200000) (i32.const 1))
    (drop (memory.grow (i32.const 2)))
    (i32.store8 (i32.const 300000) (i32.const 1))"#;
    let engine = engine();
    let rule = engine
        .prepare(
            &closure_rule(body, r#"(data (i32.const 200) "A")"#),
            &Limits::default(),
        )
        .unwrap()
        .rule;
    for run in 0..5 {
        let eval = engine.evaluate(
            &rule,
            &smoke::input(DecisionKind::Closure),
            &Limits::default(),
        );
        assert_eq!(
            eval.result,
            Ok(RuleOutput::Closure(ClosureDecision::Defer)),
            "run {run} saw an earlier run's memory"
        );
    }
}

fn closure_with_comments(bodies: &[String]) -> RuleInput {
    let RuleInput::Closure(mut input) = smoke::input(DecisionKind::Closure) else {
        unreachable!()
    };
    input.ticket.comments = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| rules_sdk::Comment {
            id: i.to_string(),
            author: "acc-1".into(),
            body: body.clone(),
            ..rules_sdk::Comment::default()
        })
        .collect();
    RuleInput::Closure(input)
}

/// The SDK's allocator: a typical decision stays inside the arena the module starts with (its
/// memory never grows, which is what keeps a fresh instance cheap), a large one grows past
/// it, and one past the tenant's limit fails as `memory_limit`.
#[test]
fn rust_rules_allocate_from_an_arena_and_grow_past_it_within_the_limit() {
    let engine = engine();
    let limits = Limits::default();

    let module = example("comment-classifier");
    let initial_pages = wasmparser::Parser::new(0)
        .parse_all(&module)
        .find_map(|payload| match payload.unwrap() {
            wasmparser::Payload::MemorySection(memories) => {
                Some(memories.into_iter().next().unwrap().unwrap().initial)
            }
            _ => None,
        })
        .unwrap();
    let classifier = engine.prepare(&module, &limits).unwrap().rule;
    let one = engine.evaluate(
        &classifier,
        &closure_with_comments(&["Fixed in 2.4.1.".into()]),
        &limits,
    );
    let long: Vec<String> = (0..20)
        .map(|i| {
            format!("Comment {i}: we looked at the scanner output and the code path again. ")
                .repeat(4)
        })
        .collect();
    let twenty = engine.evaluate(&classifier, &closure_with_comments(&long), &limits);
    assert!(one.result.is_ok() && twenty.result.is_ok());
    assert_eq!(
        one.usage.memory_peak_bytes as u64,
        initial_pages * 65536,
        "a one-comment decision grew the rule's memory"
    );
    assert_eq!(
        twenty.usage.memory_peak_bytes, one.usage.memory_peak_bytes,
        "a 20-comment decision grew the rule's memory"
    );

    let hoarder = engine
        .prepare(&example("test-panicking"), &limits)
        .unwrap()
        .rule;
    let hoard = |kib: usize| {
        engine.evaluate(
            &hoarder,
            &closure_with_comments(&[format!("hoard {kib} kib")]),
            &limits,
        )
    };
    let small = hoard(16);
    let initial = small.usage.memory_peak_bytes;
    let large = hoard(4096);
    match large.result {
        Ok(RuleOutput::Closure(ClosureDecision::Skip(why))) => {
            assert!(why.starts_with("held 4096 KiB"), "{why}")
        }
        other => panic!("unexpected: {other:?}"),
    }
    // Part of it fits in the arena's 256 KiB; the rest grew the memory.
    assert!(
        large.usage.memory_peak_bytes >= initial + (4 << 20) - (256 << 10),
        "4 MiB held with a peak of {} bytes (initial {initial})",
        large.usage.memory_peak_bytes
    );
    assert_eq!(
        hoard(64 << 10).result.unwrap_err(),
        RuleError::MemoryLimit {
            limit: limits.memory_bytes
        }
    );
    // The instance after a failed one starts clean.
    assert_eq!(hoard(16).usage.memory_peak_bytes, initial);
}

/// A module built with wit-bindgen against the frozen 1.0.0 WIT (tests/guest-rules/contract-1-0)
/// gets every record of its version — pages without `references-ticket` — and its log.
#[test]
fn a_rule_built_against_contract_1_0_0_keeps_working() {
    let engine = engine();
    let prepared = engine
        .prepare(&example("test-contract-1-0"), &Limits::default())
        .unwrap();
    assert_eq!(prepared.rule.contract_version, "1.0.0");
    assert_eq!(prepared.rule.decisions, vec![DecisionKind::Closure]);
    let RuleInput::Closure(mut input) = smoke::input(DecisionKind::Closure) else {
        unreachable!()
    };
    let page = |id: &str, labels: &[&str]| rules_sdk::Page {
        id: id.into(),
        title: format!("Risk record {id}"),
        labels: labels.iter().map(|l| l.to_string()).collect(),
        space: "SEC".into(),
        last_modified: 1,
        excerpt: "text".into(),
        url: format!("https://acme.atlassian.net/wiki/spaces/SEC/pages/{id}"),
        references_ticket: true,
    };
    input.pages = vec![page("7", &["draft"]), page("8", &["risk-approved"])];
    let eval = engine.evaluate(
        &prepared.rule,
        &RuleInput::Closure(input.clone()),
        &Limits::default(),
    );
    let RuleOutput::Closure(ClosureDecision::Apply(v)) = eval.result.unwrap() else {
        panic!("the 1.0.0 rule did not apply a verdict")
    };
    assert_eq!(v.status, FindingStatus::AcceptedRisk);
    assert_eq!(
        v.reason,
        "page 8 `Risk record 8` (https://acme.atlassian.net/wiki/spaces/SEC/pages/8) approves it"
    );
    assert!(
        eval.logs[0].message.contains(&input.ticket.key),
        "{:?}",
        eval.logs
    );
    input.pages.pop();
    let eval = engine.evaluate(
        &prepared.rule,
        &RuleInput::Closure(input),
        &Limits::default(),
    );
    assert!(
        matches!(&eval.result, Ok(RuleOutput::Closure(ClosureDecision::Skip(s))) if s.starts_with("1 page(s), none approved")),
        "{:?}",
        eval.result
    );
}

/// Winch does not implement every proposal Cranelift does (tail calls, exceptions): a large
/// rule it refuses is compiled by Cranelift instead of being refused.
#[test]
fn a_rule_the_baseline_compiler_refuses_is_compiled_by_cranelift() {
    // Every upload is "large" for this engine.
    let engine = RuleEngine::with_options(2, PoolCeilings::default(), None, Some(1)).unwrap();
    let plain = engine
        .prepare(&closure_rule("", ""), &Limits::default())
        .unwrap();
    assert_eq!(plain.rule.tier, Tier::Baseline);
    let tail_call = closure_rule(
        "",
        "(func $again (param i32) (result i32) (return_call $done (local.get 0)))
         (func $done (param i32) (result i32) (local.get 0))",
    );
    let prepared = engine.prepare(&tail_call, &Limits::default()).unwrap();
    assert_eq!(prepared.rule.tier, Tier::Optimized);
    let eval = engine.evaluate(
        &prepared.rule,
        &smoke::input(DecisionKind::Closure),
        &Limits::default(),
    );
    assert_eq!(
        eval.result.unwrap(),
        RuleOutput::Closure(ClosureDecision::Defer)
    );
    // Its artifact loads as Cranelift's code.
    let loaded = engine
        .load(&prepared.artifact, &prepared.component, None)
        .unwrap();
    assert_eq!(loaded.tier, Tier::Optimized);
}

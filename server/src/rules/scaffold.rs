//! `verdict rules new`: a working rule project in Rust, TypeScript or Python — the same small
//! closure rule in each, with two fixtures it passes natively and as wasm, as generated.

use std::path::{Path, PathBuf};

use rules_sdk::{ClosureDecision, DecisionKind, FindingStatus, RuleInput};

use super::smoke;

/// The languages a project can be scaffolded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProjectLanguage {
    Rust,
    Ts,
    Py,
}

#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error(
        "rule name `{0}` must be 1–64 lowercase letters, digits or `-`, starting with a letter"
    )]
    BadName(String),
    #[error("{0} already exists; choose another name or directory")]
    Exists(PathBuf),
    #[error("the SDK is not at {0} (pass --sdk with the Verdict checkout)")]
    NoSdk(PathBuf),
    #[error("cannot write {0}: {1}")]
    Io(PathBuf, std::io::Error),
}

/// One file of the project, relative to its folder.
struct File {
    path: &'static str,
    text: String,
}

fn valid(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The two fixtures: a closure whose last comment says `fp: …` (False Positive) and the
/// built-in ordinary closure (left to the default policy).
fn fixtures() -> [(String, String, String); 2] {
    let ordinary = smoke::input(DecisionKind::Closure);
    let mut marked = ordinary.clone();
    if let RuleInput::Closure(i) = &mut marked
        && let Some(c) = i.ticket.comments.last_mut()
    {
        c.body = "fp: the handler only runs in the test harness".into();
    }
    let json = |v: &RuleInput| serde_json::to_string_pretty(v).expect("inputs serialise");
    let expect = |d: &ClosureDecision| {
        let v = match d {
            ClosureDecision::Apply(v) => serde_json::json!({
                "outcome": "apply",
                "status": v.status.as_str(),
                "reason_contains": "test harness",
            }),
            _ => serde_json::json!({"outcome": "defer"}),
        };
        serde_json::to_string_pretty(&v).expect("serialises")
    };
    let fp = ClosureDecision::Apply(rules_sdk::Verdict {
        status: FindingStatus::FalsePositive,
        reason: String::new(),
        confidence: 0.9,
    });
    [
        ("marked-fp".into(), json(&marked), expect(&fp)),
        (
            "ordinary".into(),
            json(&ordinary),
            expect(&ClosureDecision::Defer),
        ),
    ]
}

fn rust(name: &str, sdk: &Path) -> Vec<File> {
    let crate_name = name.replace('-', "_");
    vec![
        File {
            path: "Cargo.toml",
            text: format!(
                r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
crate-type = ["cdylib", "rlib"]

[dependencies]
rules-sdk = {{ path = "{sdk}/rules-sdk", features = ["guest"] }}

[dev-dependencies]
rules-sdk = {{ path = "{sdk}/rules-sdk", features = ["testing"] }}

[profile.release]
opt-level = 3
lto = true
codegen-units = 1
panic = "abort"
# Function names stay, so a trap says where the rule failed.
strip = false
debug = false

# Its own workspace: the rule builds on its own.
[workspace]
"#,
                sdk = sdk.display()
            ),
        },
        File {
            path: "src/lib.rs",
            text: format!(
                r#"//! {name}: a closure whose last comment starts with `fp:` is a False Positive, for the
//! reason after it; everything else is left to the default policy.

use rules_sdk::{{ClosureDecision, ClosureInput, FindingStatus, Rule, Verdict}};

pub struct {ty};

impl Rule for {ty} {{
    fn closure(input: &ClosureInput) -> ClosureDecision {{
        let Some(last) = input.ticket.comments.last() else {{
            return ClosureDecision::Defer;
        }};
        match last.body.trim().strip_prefix("fp:") {{
            Some(reason) if !reason.trim().is_empty() => ClosureDecision::Apply(Verdict {{
                status: FindingStatus::FalsePositive,
                reason: format!("comment {{}}: {{}}", last.id, reason.trim()),
                confidence: 0.9,
            }}),
            _ => ClosureDecision::Defer,
        }}
    }}
}}

rules_sdk::export_rule!({ty});

#[cfg(test)]
mod tests {{
    #[test]
    fn fixtures() {{
        rules_sdk::testing::assert_dir::<super::{ty}>(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures"));
    }}
}}
"#,
                ty = upper_camel(&crate_name)
            ),
        },
    ]
}

fn upper_camel(s: &str) -> String {
    s.split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn typescript(name: &str, sdk: &Path) -> Vec<File> {
    vec![
        File {
            path: "package.json",
            text: format!(
                r#"{{
  "name": "{name}",
  "version": "0.1.0",
  "private": true,
  "type": "module",
  "scripts": {{
    "build": "verdict-rule build src/rule.ts -o rule.wasm",
    "test": "node --test test/"
  }},
  "devDependencies": {{
    "@verdict/rules-sdk": "file:{sdk}/rules-sdk-js"
  }}
}}
"#,
                sdk = sdk.display()
            ),
        },
        File {
            path: "tsconfig.json",
            text: r#"{
  "compilerOptions": {
    "target": "ES2022",
    "module": "ESNext",
    "moduleResolution": "Bundler",
    "strict": true,
    "noEmit": true,
    "types": []
  },
  "include": ["src"]
}
"#
            .into(),
        },
        File {
            path: "src/rule.ts",
            text: format!(
                r#"// {name}: a closure whose last comment starts with `fp:` is a False Positive, for the
// reason after it; everything else is left to the default policy.
import {{ closure as decision }} from "@verdict/rules-sdk";
import type {{ ClosureDecision, ClosureInput }} from "@verdict/rules-sdk";

function decide(input: ClosureInput): ClosureDecision {{
  const last = input.ticket.comments.at(-1);
  const reason = last?.body.trim().match(/^fp:(.*)$/s)?.[1].trim();
  if (!last || !reason) return decision.defer();
  return decision.apply("false-positive", `comment ${{last.id}}: ${{reason}}`, 0.9);
}}

export const closure = {{ decide }};
"#
            ),
        },
        File {
            path: "test/fixtures.test.mjs",
            text: r#"import { testFixtures } from "@verdict/rules-sdk/testing";

await testFixtures(new URL("../src/rule.ts", import.meta.url), new URL("../fixtures/", import.meta.url));
"#
            .into(),
        },
    ]
}

fn python(name: &str) -> Vec<File> {
    vec![
        File {
            path: "app.py",
            text: format!(
                r#""""{name}: a closure whose last comment starts with `fp:` is a False Positive, for the
reason after it; everything else is left to the default policy."""

from verdict_rules import FindingStatus, closure
from wit_world import exports
from wit_world.exports.closure import ClosureDecision, ClosureInput


class Closure(exports.Closure):
    def decide(self, input: ClosureInput) -> ClosureDecision:
        if not input.ticket.comments:
            return closure.defer()
        last = input.ticket.comments[-1]
        body = last.body.strip()
        reason = body[len("fp:") :].strip() if body.startswith("fp:") else ""
        if not reason:
            return closure.defer()
        return closure.apply(FindingStatus.FALSE_POSITIVE, f"comment {{last.id}}: {{reason}}", 0.9)
"#
            ),
        },
        File {
            path: "test_fixtures.py",
            text: r#"from verdict_rules.testing import fixture_test

test_fixtures = fixture_test("app.py", "fixtures")
"#
            .into(),
        },
    ]
}

/// How to build and test the generated project, for the CLI to print.
pub fn next_steps(lang: ProjectLanguage, dir: &Path, sdk: &Path) -> String {
    let d = dir.display();
    match lang {
        ProjectLanguage::Rust => format!(
            "cd {d}\ncargo test                                             # fixtures, natively\ncargo build --release --target wasm32-unknown-unknown  # see README, \"Writing a rule\"\nverdict rules test target/wasm32-unknown-unknown/release/*.wasm fixtures"
        ),
        ProjectLanguage::Ts => format!(
            "cd {d}\nnpm install                                            # links {sdk}/rules-sdk-js\nnpm test                                               # fixtures, natively (node --test)\nnpm run build                                          # rule.wasm\nverdict rules test rule.wasm fixtures",
            sdk = sdk.display()
        ),
        ProjectLanguage::Py => format!(
            "cd {d}\npip install -e '{sdk}/rules-sdk-py[test]'            # componentize-py, pytest\npytest                                                 # fixtures, natively\nverdict-rule-py build app.py -o rule.wasm\nverdict rules test rule.wasm fixtures",
            sdk = sdk.display()
        ),
    }
}

/// Writes the project into `dir` (which must not exist yet); returns the files written.
pub fn create(
    name: &str,
    lang: ProjectLanguage,
    dir: &Path,
    sdk: &Path,
) -> Result<Vec<PathBuf>, ScaffoldError> {
    if !valid(name) {
        return Err(ScaffoldError::BadName(name.to_owned()));
    }
    if dir.exists() {
        return Err(ScaffoldError::Exists(dir.to_owned()));
    }
    let marker = match lang {
        ProjectLanguage::Rust => "rules-sdk",
        ProjectLanguage::Ts => "rules-sdk-js",
        ProjectLanguage::Py => "rules-sdk-py",
    };
    if !sdk.join(marker).is_dir() {
        return Err(ScaffoldError::NoSdk(sdk.join(marker)));
    }
    let mut files = match lang {
        ProjectLanguage::Rust => rust(name, sdk),
        ProjectLanguage::Ts => typescript(name, sdk),
        ProjectLanguage::Py => python(name),
    };
    let mut written = Vec::new();
    let fixture_files: Vec<(String, String)> = fixtures()
        .into_iter()
        .flat_map(|(n, input, expected)| {
            [
                (format!("fixtures/{n}.input.json"), input),
                (format!("fixtures/{n}.expected.json"), expected),
            ]
        })
        .collect();
    let gitignore = match lang {
        ProjectLanguage::Rust => "/target\n",
        ProjectLanguage::Ts => "/node_modules\n/rule.wasm\n",
        ProjectLanguage::Py => "__pycache__/\n/rule.wasm\n",
    };
    files.push(File {
        path: ".gitignore",
        text: gitignore.into(),
    });
    let all = files
        .into_iter()
        .map(|f| (f.path.to_owned(), f.text))
        .chain(fixture_files);
    for (rel, text) in all {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| ScaffoldError::Io(parent.into(), e))?;
        }
        std::fs::write(&path, text).map_err(|e| ScaffoldError::Io(path.clone(), e))?;
        written.push(path);
    }
    Ok(written)
}

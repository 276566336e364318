//! Native fixture runner for rule authors: every `NAME.input.json` in a directory is run
//! through the rule and compared with `NAME.expected.json` (see [`Expected`]).

use std::path::{Path, PathBuf};

use crate::{Expected, Rule, RuleInput, RuleOutput};

/// One fixture's outcome.
#[derive(Debug)]
pub struct FixtureResult {
    pub name: String,
    pub output: Option<RuleOutput>,
    /// `None` when it passed.
    pub failure: Option<String>,
}

/// Reads the fixture pairs in `dir`, sorted by name.
pub fn fixtures(dir: &Path) -> std::io::Result<Vec<(String, PathBuf, PathBuf)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".input.json"))
        else {
            continue;
        };
        let expected = dir.join(format!("{name}.expected.json"));
        out.push((name.to_owned(), path, expected));
    }
    out.sort();
    Ok(out)
}

/// Parses a fixture pair.
pub fn load(input: &Path, expected: &Path) -> Result<(RuleInput, Expected), String> {
    let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()));
    let i = serde_json::from_str::<RuleInput>(&read(input)?)
        .map_err(|e| format!("{}: {e}", input.display()))?
        .with_page_references();
    let e: Expected = serde_json::from_str(&read(expected)?)
        .map_err(|e| format!("{}: {e}", expected.display()))?;
    Ok((i, e))
}

/// Runs every fixture in `dir` through `R` natively.
pub fn run_dir<R: Rule>(dir: &Path) -> Vec<FixtureResult> {
    run_with(dir, |i| Ok(crate::evaluate::<R>(i)))
}

/// Runs every fixture in `dir` through `eval` (the host uses this with its wasm engine).
pub fn run_with(
    dir: &Path,
    mut eval: impl FnMut(&RuleInput) -> Result<RuleOutput, String>,
) -> Vec<FixtureResult> {
    let pairs = match fixtures(dir) {
        Ok(p) => p,
        Err(e) => {
            return vec![FixtureResult {
                name: dir.display().to_string(),
                output: None,
                failure: Some(format!("cannot read the fixture directory: {e}")),
            }];
        }
    };
    pairs
        .into_iter()
        .map(|(name, input, expected)| match load(&input, &expected) {
            Err(e) => FixtureResult {
                name,
                output: None,
                failure: Some(e),
            },
            Ok((input, expected)) => match eval(&input) {
                Err(e) => FixtureResult {
                    name,
                    output: None,
                    failure: Some(e),
                },
                Ok(output) => FixtureResult {
                    name,
                    failure: expected.check(&output).err(),
                    output: Some(output),
                },
            },
        })
        .collect()
}

/// Panics with every failing fixture; for `#[test]`s of a rule crate.
pub fn assert_dir<R: Rule>(dir: impl AsRef<Path>) {
    let results = run_dir::<R>(dir.as_ref());
    assert!(
        !results.is_empty(),
        "no fixtures in {}",
        dir.as_ref().display()
    );
    let failures: Vec<String> = results
        .iter()
        .filter_map(|r| r.failure.as_ref().map(|f| format!("{}: {f}", r.name)))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

pub mod quality;

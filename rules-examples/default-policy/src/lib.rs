//! Verdict's built-in default policy, built as a rule: the very code the server runs
//! natively when a tenant has no rule, so the two can be checked to decide identically.

rules_sdk::export_rule!(rules_sdk::DefaultPolicy);

#[cfg(test)]
mod tests {
    #[test]
    fn fixtures() {
        rules_sdk::testing::assert_dir::<rules_sdk::DefaultPolicy>(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures"
        ));
    }
}

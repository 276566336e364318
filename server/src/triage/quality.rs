//! How often a Resolved verdict held: the closure decisions that resolved a finding, and how
//! many of them a later scan contradicted by reporting the finding again, per rule and per
//! resolution — a measured quality signal for every tenant.

use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};
use serde::Serialize;

use crate::store::entities::decisions;

/// One rule and resolution's record.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ResolvedRecord {
    /// The rule's name, or `default` for the default policy.
    pub rule: String,
    /// The ticket's resolution when it was closed, or `none`.
    pub resolution: String,
    /// Closure decisions that resolved a finding.
    pub resolved: u64,
    /// Of those, how many a later scan contradicted.
    pub contradicted: u64,
    /// `contradicted / resolved`.
    pub contradicted_rate: f64,
}

/// The tenant's Resolved verdicts, most contradicted first.
pub async fn resolved_records<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
) -> Result<Vec<ResolvedRecord>, DbErr> {
    let rows: Vec<(Option<String>, Option<String>, i64, i64)> = decisions::Entity::find()
        .select_only()
        .column(decisions::Column::RuleName)
        .column(decisions::Column::Resolution)
        .column_as(decisions::Column::Id.count(), "resolved")
        .column_as(decisions::Column::ContradictedAt.count(), "contradicted")
        .filter(decisions::Column::TenantId.eq(tenant_id))
        .filter(decisions::Column::Kind.eq("closure"))
        .filter(decisions::Column::Outcome.eq("apply"))
        .filter(decisions::Column::Verdict.eq(rules_sdk::FindingStatus::Resolved.as_str()))
        .group_by(decisions::Column::RuleName)
        .group_by(decisions::Column::Resolution)
        .into_tuple()
        .all(db)
        .await?;
    let mut out: Vec<ResolvedRecord> = rows
        .into_iter()
        .map(
            |(rule, resolution, resolved, contradicted)| ResolvedRecord {
                rule: rule.unwrap_or_else(|| "default".into()),
                resolution: resolution.unwrap_or_else(|| "none".into()),
                resolved: resolved.max(0) as u64,
                contradicted: contradicted.max(0) as u64,
                contradicted_rate: if resolved > 0 {
                    contradicted as f64 / resolved as f64
                } else {
                    0.0
                },
            },
        )
        .collect();
    out.sort_by(|a, b| {
        b.contradicted_rate
            .total_cmp(&a.contradicted_rate)
            .then_with(|| b.resolved.cmp(&a.resolved))
            .then_with(|| a.rule.cmp(&b.rule))
            .then_with(|| a.resolution.cmp(&b.resolution))
    });
    Ok(out)
}

/// A plain-text table of the records, for the CLI.
pub fn render(records: &[ResolvedRecord]) -> String {
    let mut out = format!(
        "{:<24} {:<20} {:>9} {:>13} {:>7}\n",
        "rule", "resolution", "resolved", "contradicted", "rate"
    );
    for r in records {
        out.push_str(&format!(
            "{:<24} {:<20} {:>9} {:>13} {:>6.1}%\n",
            r.rule,
            r.resolution,
            r.resolved,
            r.contradicted,
            r.contradicted_rate * 100.0
        ));
    }
    if records.is_empty() {
        out.push_str("(no Resolved verdicts yet)\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_shows_counts_and_rates() {
        let table = render(&[ResolvedRecord {
            rule: "default".into(),
            resolution: "Done".into(),
            resolved: 8,
            contradicted: 2,
            contradicted_rate: 0.25,
        }]);
        let row = table.lines().nth(1).unwrap();
        assert!(row.starts_with("default"), "{table}");
        assert!(
            row.contains("Done") && row.contains(" 8 ") && row.ends_with("25.0%"),
            "{table}"
        );
    }
}

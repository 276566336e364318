//! Auto-ticket policy: a score threshold per scan type (`threshold.<scan type>`, defaults
//! below), secrets always ticketed, severity → priority and an SLA due date by severity
//! (`priority.<severity>`, `sla_days.<severity>`), into `ticket.project` as `ticket.issue_type`.
//! Contract 1.3.0 extras: the owning team (`team.<repository>`) goes into the field named by
//! `auto.team_field`, and `auto.group = package` gives every finding of a package, across
//! repositories, one ticket; `auto.epic_by = team` files tickets under an epic per team.

use rules_sdk::defaults::{date_after, priority_for, sla_days};
use rules_sdk::{
    Config, FindingStatus, Rule, Severity, TicketDecision, TicketField, TicketInput, TicketPlan,
};

pub struct AutoTicket;

fn default_threshold(scan_type: &str) -> f64 {
    match scan_type {
        "sast" => 7.0,
        "dast" => 6.0,
        "sca" | "dependency" => 7.0,
        "iac" | "container" => 8.0,
        _ => 9.0,
    }
}

fn severity_score(s: Severity) -> f64 {
    match s {
        Severity::Critical => 9.5,
        Severity::High => 7.5,
        Severity::Medium => 5.0,
        Severity::Low => 2.5,
        Severity::Info => 0.0,
    }
}

impl Rule for AutoTicket {
    fn ticketing(input: &TicketInput) -> TicketDecision {
        let config = Config(&input.config);
        let f = &input.finding;
        let Some(project) = config.get("ticket.project") else {
            return TicketDecision::Skip("ticket.project is not set".into());
        };
        if f.status != FindingStatus::Open {
            return TicketDecision::Skip(format!("the finding is {}", f.status.as_str()));
        }
        let scan_type = f.scan_type.to_ascii_lowercase();
        let secret = matches!(scan_type.as_str(), "secrets" | "secret");
        let score = f.score.unwrap_or_else(|| severity_score(f.severity));
        let threshold = config
            .number(&format!("threshold.{scan_type}"))
            .unwrap_or_else(|| default_threshold(&scan_type));
        if !secret && score < threshold {
            return TicketDecision::Skip(format!(
                "score {score:.1} is below the {scan_type} threshold {threshold:.1}"
            ));
        }
        let mut labels = vec!["security".to_owned(), format!("scan-{scan_type}")];
        if secret {
            labels.push("secret".to_owned());
        }
        let team = f
            .repository
            .as_deref()
            .and_then(|r| config.get(&format!("team.{r}")));
        let fields = match (config.get("auto.team_field"), team) {
            (Some(field), Some(team)) => vec![TicketField::text(field, team)],
            _ => Vec::new(),
        };
        let epic = match config.get("auto.epic_by") {
            Some("team") => team.map(str::to_owned),
            _ => None,
        };
        let group = match config.get("auto.group") {
            Some("package") => f.package.as_ref().map(|p| format!("package {p}")),
            _ => None,
        };
        TicketDecision::Create(TicketPlan {
            project: project.to_owned(),
            issue_type: config.get("ticket.issue_type").unwrap_or("Bug").to_owned(),
            priority: Some(priority_for(f.severity, config)),
            labels,
            due_date: sla_days(f.severity, config).map(|d| date_after(input.now, d)),
            reason: if secret {
                "secrets are always ticketed".to_owned()
            } else {
                format!("score {score:.1} reaches the {scan_type} threshold {threshold:.1}")
            },
            fields,
            group,
            assignee: None,
            epic,
        })
    }
}

rules_sdk::export_rule!(AutoTicket);

#[cfg(test)]
mod tests {
    #[test]
    fn fixtures() {
        rules_sdk::testing::assert_dir::<super::AutoTicket>(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures"
        ));
    }
}

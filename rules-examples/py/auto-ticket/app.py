"""Auto-ticket policy in Python (the twin of rules-examples/auto-ticket): a score threshold
per scan type (`threshold.<scan type>`, defaults below), secrets always ticketed, severity →
priority and an SLA due date by severity (`priority.<severity>`, `sla_days.<severity>`), into
`ticket.project` as `ticket.issue_type`."""

from verdict_rules import Config, FindingStatus, Severity, date_after, severity_name, ticketing
from wit_world import exports
from wit_world.exports.ticketing import TicketDecision, TicketInput

THRESHOLDS = {"sast": 7.0, "dast": 6.0, "sca": 7.0, "dependency": 7.0, "iac": 8.0, "container": 8.0}
SEVERITY_SCORE = {
    Severity.CRITICAL: 9.5,
    Severity.HIGH: 7.5,
    Severity.MEDIUM: 5.0,
    Severity.LOW: 2.5,
    Severity.INFO: 0.0,
}
PRIORITY = {
    Severity.CRITICAL: "Highest",
    Severity.HIGH: "High",
    Severity.MEDIUM: "Medium",
    Severity.LOW: "Low",
    Severity.INFO: "Lowest",
}
SLA_DAYS = {Severity.CRITICAL: 7, Severity.HIGH: 30, Severity.MEDIUM: 90, Severity.LOW: 180}


def sla_days(severity: Severity, config: Config) -> int | None:
    days = config.number(f"sla_days.{severity_name(severity)}")
    if days is not None:
        return int(days) if days >= 1 else None
    return SLA_DAYS.get(severity)


class Ticketing(exports.Ticketing):
    def plan(self, input: TicketInput) -> TicketDecision:
        config = Config(input.config)
        f = input.finding
        project = config.get("ticket.project")
        if not project:
            return ticketing.skip("ticket.project is not set")
        if f.status != FindingStatus.OPEN:
            return ticketing.skip(f"the finding is {f.status.name.lower()}")
        scan_type = f.scan_type.lower()
        secret = scan_type in ("secrets", "secret")
        score = f.score if f.score is not None else SEVERITY_SCORE[f.severity]
        threshold = config.number(f"threshold.{scan_type}")
        if threshold is None:
            threshold = THRESHOLDS.get(scan_type, 9.0)
        if not secret and score < threshold:
            return ticketing.skip(f"score {score:.1f} is below the {scan_type} threshold {threshold:.1f}")
        labels = ["security", f"scan-{scan_type}"] + (["secret"] if secret else [])
        days = sla_days(f.severity, config)
        return ticketing.create(
            project=project,
            issue_type=config.get("ticket.issue_type") or "Bug",
            priority=config.get(f"priority.{severity_name(f.severity)}") or PRIORITY[f.severity],
            labels=labels,
            due_date=date_after(input.now, days) if days is not None else None,
            reason="secrets are always ticketed"
            if secret
            else f"score {score:.1f} reaches the {scan_type} threshold {threshold:.1f}",
        )

//! The admin app: the audit trail of admin changes, operator sessions, and what the admin's
//! decision log filters on (outcome, verdict, reason, confidence, who closed) as columns.

// async_trait expands `&SchemaManager` with its own lifetimes; spelling `<'_>` breaks the impl.
#![allow(elided_lifetimes_in_paths)]

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AdminAudit {
    Table,
    Id,
    TenantId,
    ActorKind,
    ActorId,
    Via,
    Action,
    Target,
    OldValue,
    NewValue,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AdminSessions {
    Table,
    Id,
    CsrfToken,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Decisions {
    Table,
    Outcome,
    Verdict,
    Reason,
    Confidence,
    Actor,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    TenantId,
    State,
    ReceivedAt,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Findings {
    Table,
    Id,
    TenantId,
}

/// What a stored `RuleOutput` says, as the new columns hold it.
fn summarise(output: &serde_json::Value) -> (String, Option<String>, Option<String>, Option<f64>) {
    use serde_json::Value;
    let Some((_, decision)) = output.as_object().and_then(|o| o.iter().next()) else {
        return ("unknown".into(), None, None, None);
    };
    match decision {
        Value::String(s) => (s.clone(), None, None, None),
        Value::Object(o) => match o.iter().next() {
            Some((outcome, Value::Object(v))) => (
                outcome.clone(),
                v.get("status")
                    .or_else(|| v.get("project"))
                    .or_else(|| v.get("id"))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                v.get("reason").and_then(Value::as_str).map(str::to_owned),
                v.get("confidence").and_then(Value::as_f64),
            ),
            Some((outcome, Value::String(reason))) => {
                (outcome.clone(), None, Some(reason.clone()), None)
            }
            Some((outcome, _)) => (outcome.clone(), None, None, None),
            None => ("unknown".into(), None, None, None),
        },
        _ => ("unknown".into(), None, None, None),
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(AdminAudit::Table)
                .col(
                    ColumnDef::new(AdminAudit::Id)
                        .string_len(36)
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(AdminAudit::TenantId).string_len(36).null())
                .col(
                    ColumnDef::new(AdminAudit::ActorKind)
                        .string_len(16)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(AdminAudit::ActorId)
                        .string_len(128)
                        .not_null(),
                )
                .col(ColumnDef::new(AdminAudit::Via).string_len(16).not_null())
                .col(ColumnDef::new(AdminAudit::Action).string_len(64).not_null())
                .col(ColumnDef::new(AdminAudit::Target).string_len(256).null())
                .col(ColumnDef::new(AdminAudit::OldValue).text().null())
                .col(ColumnDef::new(AdminAudit::NewValue).text().null())
                .col(
                    ColumnDef::new(AdminAudit::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_admin_audit_tenant")
                        .from(AdminAudit::Table, AdminAudit::TenantId)
                        .to(Tenants::Table, Tenants::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_admin_audit_tenant")
                .table(AdminAudit::Table)
                .col(AdminAudit::TenantId)
                .col(AdminAudit::Id)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(AdminSessions::Table)
                .col(
                    ColumnDef::new(AdminSessions::Id)
                        .string_len(64)
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(AdminSessions::CsrfToken)
                        .string_len(64)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(AdminSessions::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(AdminSessions::ExpiresAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_admin_sessions_expires")
                .table(AdminSessions::Table)
                .col(AdminSessions::ExpiresAt)
                .to_owned(),
        )
        .await?;

        // One ALTER per column: SQLite allows only one change per ALTER TABLE.
        for col in [
            ColumnDef::new(Decisions::Outcome)
                .string_len(16)
                .null()
                .to_owned(),
            ColumnDef::new(Decisions::Verdict)
                .string_len(64)
                .null()
                .to_owned(),
            ColumnDef::new(Decisions::Reason).text().null().to_owned(),
            ColumnDef::new(Decisions::Confidence)
                .double()
                .null()
                .to_owned(),
            ColumnDef::new(Decisions::Actor)
                .string_len(128)
                .null()
                .to_owned(),
        ] {
            m.alter_table(
                Table::alter()
                    .table(Decisions::Table)
                    .add_column(col)
                    .to_owned(),
            )
            .await?;
        }
        // Decisions logged before these columns existed get them from their stored JSON.
        let db = m.get_connection();
        let backend = db.get_database_backend();
        let rows = db
            .query_all(Statement::from_string(
                backend,
                "SELECT id, output, input FROM decisions WHERE outcome IS NULL",
            ))
            .await?;
        for row in rows {
            let id: String = row.try_get("", "id")?;
            let output: String = row.try_get("", "output")?;
            let input: String = row.try_get("", "input")?;
            let output: serde_json::Value = serde_json::from_str(&output).unwrap_or_default();
            let input: serde_json::Value = serde_json::from_str(&input).unwrap_or_default();
            let (outcome, verdict, reason, confidence) = summarise(&output);
            let actor = input
                .pointer("/closure/ticket/closer")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned);
            let update = Query::update()
                .table(Decisions::Table)
                .values([
                    (Decisions::Outcome, outcome.into()),
                    (Decisions::Verdict, verdict.into()),
                    (Decisions::Reason, reason.into()),
                    (Decisions::Confidence, confidence.into()),
                    (Decisions::Actor, actor.into()),
                ])
                .and_where(Expr::col(Alias::new("id")).eq(id))
                .to_owned();
            m.exec_stmt(update).await?;
        }
        // Listing a tenant's findings in id order (the API oldest first, the admin app newest
        // first) walks this index instead of sorting every finding of the tenant.
        m.create_index(
            Index::create()
                .name("ix_findings_tenant_id")
                .table(Findings::Table)
                .col(Findings::TenantId)
                .col(Findings::Id)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_webhook_deliveries_tenant_state")
                .table(WebhookDeliveries::Table)
                .col(WebhookDeliveries::TenantId)
                .col(WebhookDeliveries::State)
                .col(WebhookDeliveries::ReceivedAt)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("ix_findings_tenant_id")
                .table(Findings::Table)
                .to_owned(),
        )
        .await?;
        m.drop_index(
            Index::drop()
                .name("ix_webhook_deliveries_tenant_state")
                .table(WebhookDeliveries::Table)
                .to_owned(),
        )
        .await?;
        for col in [
            Decisions::Outcome,
            Decisions::Verdict,
            Decisions::Reason,
            Decisions::Confidence,
            Decisions::Actor,
        ] {
            m.alter_table(
                Table::alter()
                    .table(Decisions::Table)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        m.drop_table(Table::drop().table(AdminSessions::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(AdminAudit::Table).to_owned())
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::summarise;
    use serde_json::json;

    #[test]
    fn reads_every_output_shape() {
        let apply = json!({"closure": {"apply": {"status": "false_positive", "reason": "test code", "confidence": 0.85}}});
        let (o, v, r, c) = summarise(&apply);
        assert_eq!(
            (o.as_str(), v.as_deref(), r.as_deref()),
            ("apply", Some("false_positive"), Some("test code"))
        );
        assert!((c.unwrap() - 0.85).abs() < 1e-6);
        let skip = json!({"closure": {"skip": "comments disagree"}});
        assert_eq!(
            summarise(&skip),
            ("skip".into(), None, Some("comments disagree".into()), None)
        );
        assert_eq!(
            summarise(&json!({"closure": "defer"})),
            ("defer".into(), None, None, None)
        );
        assert_eq!(summarise(&json!(null)).0, "unknown");
    }
}

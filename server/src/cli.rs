//! The `verdict` command line: serve, migrate, tenants and API keys, the OpenAPI document.
//! Exit codes: 0 success, 1 runtime failure, 2 bad usage or configuration.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::app::{self, App};
use crate::config::Config;
use crate::store;
use crate::telemetry;
use crate::tenants::{self, ConnectionKind};

#[derive(Parser, Debug)]
#[command(
    name = "verdict",
    version,
    about = "Decides what a closed Jira security ticket means."
)]
pub struct Cli {
    /// Config file (TOML). Default: ./verdict.toml when it exists. Env: VERDICT_CONFIG.
    #[arg(long, global = true, env = "VERDICT_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Apply pending migrations, then serve HTTP until SIGTERM/SIGINT.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the version.
    Version,
    /// Manage tenants (one per Jira site or connection).
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// Manage a tenant's API keys.
    ApiKey {
        #[command(subcommand)]
        command: ApiKeyCommand,
    },
    /// Print the OpenAPI document of the REST API.
    Openapi,
    /// Start Verdict (temp SQLite) and a simulated Jira site in this process, install, import,
    /// auto-ticket and play a triage story; print what happened. Needs no configuration.
    Demo {
        /// How the simulated site installs Verdict: the native Forge app, or Connect.
        #[arg(long = "install-as", value_enum, default_value = "forge")]
        install_as: crate::demo::InstallAs,
    },
    /// Compare linked findings with their Jira tickets and bring them together. Prints one
    /// row per finding and a summary; exits 1 when any finding failed or nothing matched.
    Reconcile {
        /// `reconcile`: the newer change wins; `push`: tickets follow findings; `import`:
        /// findings follow tickets (closures decided by the closure rule).
        #[arg(long, value_enum, default_value = "reconcile")]
        mode: crate::sync::reconcile::Mode,
        /// Tenant id or name (default: every tenant).
        #[arg(long)]
        tenant: Option<String>,
        /// Jira project key.
        #[arg(long)]
        project: Option<String>,
        /// Only findings changed since this date (`YYYY-MM-DD`, UTC).
        #[arg(long)]
        since: Option<chrono::NaiveDate>,
        /// Report what would change without changing anything.
        #[arg(long)]
        dry_run: bool,
        #[arg(long, value_enum, default_value = "table")]
        format: crate::sync::reconcile::OutputFormat,
    },
    /// How often Resolved verdicts held: per rule and resolution, how many closures resolved a
    /// finding and how many a later scan contradicted by reporting it again.
    Quality {
        /// Tenant id or name.
        #[arg(long)]
        tenant: String,
    },
    /// Check and run rule modules locally, without a server or database.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum RulesCommand {
    /// Validate a module exactly as an upload would (format, imports, contract version,
    /// compile, smoke run). Exit 0 when it would be accepted, 1 when not.
    Check {
        module: PathBuf,
        /// Override a limit, e.g. `--limit fuel=20000000` (repeatable).
        #[arg(long = "limit", value_name = "KEY=VALUE")]
        limits: Vec<String>,
    },
    /// Run a module on one input file (`{"closure": {...}}` etc.) and print the decision,
    /// its logs and its usage against every limit. Exit 1 when the rule fails.
    Run {
        module: PathBuf,
        #[arg(long)]
        input: PathBuf,
        #[arg(long = "limit", value_name = "KEY=VALUE")]
        limits: Vec<String>,
    },
    /// Run every `NAME.input.json` in a directory and compare with `NAME.expected.json`.
    /// Exit 1 when any fixture fails.
    Test {
        module: PathBuf,
        dir: PathBuf,
        #[arg(long = "limit", value_name = "KEY=VALUE")]
        limits: Vec<String>,
    },
    /// Create a rule project (Rust, TypeScript or Python) that builds and passes its
    /// fixtures as generated; prints how to build and test it.
    New {
        /// The rule's name (lowercase letters, digits, `-`); also the folder's name.
        name: String,
        #[arg(long, value_enum)]
        lang: crate::rules::scaffold::ProjectLanguage,
        /// Where to create it (default: ./NAME).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The Verdict checkout holding rules-sdk, rules-sdk-js and rules-sdk-py (default:
        /// the one this binary was built from).
        #[arg(long, env = "VERDICT_SDK_DIR")]
        sdk: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum TenantCommand {
    /// Create a tenant and print its id.
    Add {
        /// A unique, human-readable name (e.g. the Jira site).
        name: String,
        #[arg(long, value_enum, default_value_t = ConnectionKind::Standalone)]
        kind: ConnectionKind,
    },
    /// List tenants.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Connect a tenant with an API token (Jira Cloud, with --email) or a personal access token
    /// (Jira Data Center, without --email). The token is read from VERDICT_JIRA_TOKEN, checked
    /// against Jira, then stored encrypted.
    Connect {
        /// Tenant id or name.
        tenant: String,
        /// The site URL, e.g. https://acme.atlassian.net or https://jira.example.com.
        #[arg(long)]
        site: String,
        /// The Atlassian account email the API token belongs to (Cloud).
        #[arg(long)]
        email: Option<String>,
    },
    /// Generate the secret that signs this site's admin webhooks (printed once) and show the
    /// URL to configure in Jira.
    WebhookSecret {
        /// Tenant id or name.
        tenant: String,
    },
    /// Print everything Verdict keeps for a tenant as one JSON document (credentials and
    /// compiled rule artifacts omitted).
    Export {
        /// Tenant id or name.
        tenant: String,
        /// Write to this file instead of standard output.
        #[arg(long)]
        output: Option<std::path::PathBuf>,
    },
    /// Delete a tenant and every row Verdict keeps for it. Irreversible.
    Purge {
        /// Tenant id or name.
        tenant: String,
        /// Confirms the purge (required).
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum ApiKeyCommand {
    /// Create a key; the secret is printed once and never stored.
    Create {
        /// Tenant id or name.
        #[arg(long)]
        tenant: String,
        /// A label for the key (e.g. the scanner that uses it).
        #[arg(long, default_value = "default")]
        name: String,
        /// `scanner` imports and reads findings only; `admin` also manages settings, rules,
        /// connections, exports and jobs.
        #[arg(long, value_enum, default_value = "admin")]
        scope: tenants::KeyScope,
    },
    /// Change a key's scope, e.g. narrow an admin key a scanner uses to `scanner`.
    Scope {
        #[arg(long)]
        tenant: String,
        /// Key id or the prefix shown by `api-key list`.
        key: String,
        #[arg(value_enum)]
        scope: tenants::KeyScope,
    },
    /// Revoke a key by id or prefix.
    Revoke {
        #[arg(long)]
        tenant: String,
        /// Key id or the prefix shown by `api-key list`.
        key: String,
    },
    /// List a tenant's keys (never their secrets).
    List {
        #[arg(long)]
        tenant: String,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Version = cli.command {
        println!("verdict {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    if let Command::Openapi = cli.command {
        use utoipa::OpenApi as _;
        let doc = crate::http::ApiDoc::openapi();
        println!("{}", doc.to_pretty_json().expect("OpenAPI serialises"));
        return ExitCode::SUCCESS;
    }
    if let Command::Rules { command } = cli.command {
        return rules_command(command);
    }
    if let Command::Demo { install_as } = cli.command {
        telemetry::init(crate::config::LogFormat::Text, "warn");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build();
        return match runtime
            .map_err(anyhow::Error::from)
            .and_then(|rt| rt.block_on(crate::demo::run(install_as)))
        {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("verdict demo: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let config = match Config::from_process_env(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("verdict: {e}");
            return ExitCode::from(2);
        }
    };
    // `serve` logs at the configured level; a one-shot command prints what it was asked for,
    // and logs only warnings and errors unless VERDICT_LOG_LEVEL asks for more.
    let level = if matches!(cli.command, Command::Serve)
        || std::env::var_os("VERDICT_LOG_LEVEL").is_some()
    {
        config.log_level.clone()
    } else {
        "warn".to_owned()
    };
    telemetry::init(config.log_format, &level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("verdict: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("verdict: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve => {
            let listen = config.listen;
            let app = App::start(config).await?;
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("cannot listen on {listen} (set VERDICT_LISTEN)"))?;
            app.serve(listener, app::shutdown_signal()).await?;
        }
        Command::Migrate => {
            let db = store::connect(&config).await?;
            let applied = store::migrate(&db).await?;
            if applied.is_empty() {
                println!("database is up to date");
            } else {
                for name in applied {
                    println!("applied {name}");
                }
            }
            db.close().await?;
        }
        Command::Tenant { command } => {
            let db = connect_migrated(&config).await?;
            match command {
                TenantCommand::Add { name, kind } => {
                    let t = tenants::create_tenant(&db, &name, kind).await?;
                    println!("created tenant {} ({}), id {}", t.name, t.kind, t.id);
                }
                TenantCommand::Connect {
                    tenant,
                    site,
                    email,
                } => {
                    let token = std::env::var("VERDICT_JIRA_TOKEN")
                        .ok()
                        .filter(|t| !t.trim().is_empty())
                        .context(
                            "set VERDICT_JIRA_TOKEN to the API token or personal access token",
                        )?;
                    let secrets = crate::tenants::secrets::load(&config)?;
                    let t = tenants::find_tenant(&db, &tenant).await?;
                    let client = crate::jira::JiraClient::for_config(&config);
                    let t = crate::tenants::credentials::connect(
                        &db,
                        &secrets,
                        &client,
                        &t,
                        &site,
                        email.as_deref(),
                        token.trim(),
                    )
                    .await?;
                    println!(
                        "connected tenant {} to {} ({})",
                        t.name,
                        t.site_url.unwrap_or_default(),
                        t.kind
                    );
                }
                TenantCommand::WebhookSecret { tenant } => {
                    let secrets = crate::tenants::secrets::load(&config)?;
                    let t = tenants::find_tenant(&db, &tenant).await?;
                    let secret =
                        crate::tenants::credentials::rotate_webhook_secret(&db, &secrets, &t)
                            .await?;
                    eprintln!(
                        "configure a Jira webhook to {} with this secret (shown once):",
                        config.public_url(&format!("/hooks/jira/{}", t.id))
                    );
                    println!("{secret}");
                }
                TenantCommand::Export { tenant, output } => {
                    let t = tenants::find_tenant(&db, &tenant).await?;
                    let doc = crate::tenants::data::export(&db, &t.id).await?;
                    let text = serde_json::to_string_pretty(&doc)?;
                    match output {
                        Some(path) => {
                            std::fs::write(&path, text + "\n")
                                .with_context(|| format!("cannot write {}", path.display()))?;
                            eprintln!(
                                "exported tenant {} ({}) to {}",
                                t.name,
                                t.id,
                                path.display()
                            );
                        }
                        None => println!("{text}"),
                    }
                }
                TenantCommand::Purge { tenant, yes } => {
                    let t = tenants::find_tenant(&db, &tenant).await?;
                    if !yes {
                        anyhow::bail!(
                            "purging deletes tenant {} ({}) and everything Verdict keeps for it; run again with --yes",
                            t.name,
                            t.id
                        );
                    }
                    let deleted = crate::tenants::data::purge(&db, &t.id).await?;
                    let rows: u64 = deleted.values().sum();
                    println!("purged tenant {} ({}): {rows} rows", t.name, t.id);
                    for (table, n) in deleted.iter().filter(|(_, n)| **n > 0) {
                        println!("  {table}: {n}");
                    }
                }
                TenantCommand::List { json } => {
                    let list = tenants::list_tenants(&db).await?;
                    if json {
                        println!("{}", serde_json::to_string_pretty(&list)?);
                    } else {
                        println!("{:<36}  {:<16}  {:<8}  NAME", "ID", "KIND", "ENABLED");
                        for t in list {
                            println!("{:<36}  {:<16}  {:<8}  {}", t.id, t.kind, t.enabled, t.name);
                        }
                    }
                }
            }
            db.close().await?;
        }
        Command::ApiKey { command } => {
            let db = connect_migrated(&config).await?;
            match command {
                ApiKeyCommand::Create {
                    tenant,
                    name,
                    scope,
                } => {
                    let tenant = tenants::find_tenant(&db, &tenant).await?;
                    let key = tenants::create_api_key(&db, &tenant, &name, scope).await?;
                    eprintln!(
                        "created {} API key {} ({}) for tenant {}; store it now, it is not shown again:",
                        scope.as_str(),
                        key.id,
                        key.name,
                        tenant.name
                    );
                    println!("{}", key.secret);
                }
                ApiKeyCommand::Scope { tenant, key, scope } => {
                    let tenant = tenants::find_tenant(&db, &tenant).await?;
                    let (before, after) =
                        tenants::set_api_key_scope(&db, &tenant, &key, scope).await?;
                    println!(
                        "API key {} ({}): {} -> {}",
                        after.id,
                        after.prefix,
                        before.scope.as_str(),
                        after.scope.as_str()
                    );
                }
                ApiKeyCommand::Revoke { tenant, key } => {
                    let tenant = tenants::find_tenant(&db, &tenant).await?;
                    let k = tenants::revoke_api_key(&db, &tenant, &key).await?;
                    println!("revoked API key {} ({})", k.id, k.prefix);
                }
                ApiKeyCommand::List { tenant } => {
                    let tenant = tenants::find_tenant(&db, &tenant).await?;
                    println!(
                        "{:<36}  {:<12}  {:<8}  {:<9}  NAME",
                        "ID", "PREFIX", "SCOPE", "STATE"
                    );
                    for k in tenants::list_api_keys(&db, &tenant).await? {
                        let state = if k.revoked_at.is_some() {
                            "revoked"
                        } else {
                            "active"
                        };
                        println!(
                            "{:<36}  {:<12}  {:<8}  {:<9}  {}",
                            k.id,
                            k.prefix,
                            k.scope.as_str(),
                            state,
                            k.name
                        );
                    }
                }
            }
            db.close().await?;
        }
        Command::Quality { tenant } => {
            let db = connect_migrated(&config).await?;
            let tenant = tenants::find_tenant(&db, &tenant).await?;
            let records = crate::triage::quality::resolved_records(&db, &tenant.id).await?;
            print!("{}", crate::triage::quality::render(&records));
        }
        Command::Reconcile {
            mode,
            tenant,
            project,
            since,
            dry_run,
            format,
        } => {
            use crate::sync::reconcile;
            let app = App::start(config).await?;
            let tenant = match tenant {
                Some(t) => Some(tenants::find_tenant(app.state().store().db(), &t).await?.id),
                None => None,
            };
            let opts = reconcile::Options {
                mode,
                tenant,
                project,
                since: since.map(|d| d.and_hms_opt(0, 0, 0).expect("midnight").and_utc()),
                only_open: false,
                dry_run,
            };
            let report = crate::jira::budget::with_priority(
                crate::jira::budget::Priority::Bulk,
                reconcile::run(app.state(), &opts),
            )
            .await?;
            print!("{}", reconcile::render(&report, format));
            if report.summary.failed > 0 {
                anyhow::bail!(
                    "{} of {} findings failed",
                    report.summary.failed,
                    report.summary.checked
                );
            }
        }
        Command::Version | Command::Openapi | Command::Rules { .. } | Command::Demo { .. } => {
            unreachable!("handled before start-up")
        }
    }
    Ok(())
}

/// Admin commands may run before the first `serve`, so they migrate too.
async fn connect_migrated(config: &Config) -> anyhow::Result<sea_orm::DatabaseConnection> {
    let db = store::connect(config).await?;
    store::migrate(&db).await?;
    Ok(db)
}

fn parse_limits(overrides: &[String]) -> Result<crate::rules::Limits, String> {
    let mut limits = crate::rules::Limits::default();
    for o in overrides {
        let (k, v) = o
            .split_once('=')
            .ok_or_else(|| format!("--limit `{o}` is not KEY=VALUE"))?;
        limits.set(k.trim(), v)?;
    }
    Ok(limits)
}

/// `verdict rules new`.
fn new_rule(
    name: &str,
    lang: crate::rules::scaffold::ProjectLanguage,
    dir: Option<&std::path::Path>,
    sdk: Option<&std::path::Path>,
) -> ExitCode {
    use crate::rules::scaffold;
    let dir = dir
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(name));
    // The checkout this binary was built from: server/.. holds the three SDKs.
    let built_from = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let sdk = sdk.map(PathBuf::from).unwrap_or(built_from);
    let sdk = std::fs::canonicalize(&sdk).unwrap_or(sdk);
    match scaffold::create(name, lang, &dir, &sdk) {
        Ok(files) => {
            println!("created {} ({} files)", dir.display(), files.len());
            println!("{}", scaffold::next_steps(lang, &dir, &sdk));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("verdict: {e}");
            ExitCode::from(2)
        }
    }
}

/// `verdict rules …`: local, no configuration or database.
fn rules_command(command: RulesCommand) -> ExitCode {
    use crate::rules::{RuleEngine, RuleError};
    /// What to do with the module once it is accepted.
    enum Action {
        Check,
        Run(PathBuf),
        Test(PathBuf),
    }
    let (module, limits, action) = match command {
        RulesCommand::Check { module, limits } => (module, limits, Action::Check),
        RulesCommand::Run {
            module,
            input,
            limits,
        } => (module, limits, Action::Run(input)),
        RulesCommand::Test {
            module,
            dir,
            limits,
        } => (module, limits, Action::Test(dir)),
        RulesCommand::New {
            name,
            lang,
            dir,
            sdk,
        } => return new_rule(&name, lang, dir.as_deref(), sdk.as_deref()),
    };
    let module = &module;
    let limits = match parse_limits(&limits) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("verdict: {e}");
            return ExitCode::from(2);
        }
    };
    let bytes = match std::fs::read(module) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("verdict: cannot read {}: {e}", module.display());
            return ExitCode::from(2);
        }
    };
    let engine = match RuleEngine::with_compile_cache(
        4,
        crate::rules::PoolCeilings::default(),
        author_compile_cache(),
    ) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("verdict: {e}");
            return ExitCode::FAILURE;
        }
    };
    let prepared = match engine.prepare(&bytes, &limits) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{}: rejected: {} ({})", module.display(), e, e.code());
            return ExitCode::FAILURE;
        }
    };
    let rule = &prepared.rule;
    let decisions: Vec<&str> = rule.decisions.iter().map(|d| d.as_str()).collect();
    match action {
        Action::Check => {
            let c = engine.ceilings();
            let f = rule.footprint;
            println!(
                "{}: ok — contract verdict:rules@{}, decisions: {}, {} bytes",
                module.display(),
                rule.contract_version,
                decisions.join(", "),
                bytes.len()
            );
            println!("  built by   {}", rule.toolchain.describe());
            println!(
                "  needs      {} core instances, {} memories, {} tables per evaluation (server defaults allow {}, {}, {}: rules_max_core_instances, rules_max_memories, rules_max_tables)",
                f.core_instances, f.memories, f.tables, c.core_instances, c.memories, c.tables
            );
            ExitCode::SUCCESS
        }
        Action::Run(input) => {
            let text = match std::fs::read_to_string(&input) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("verdict: cannot read {}: {e}", input.display());
                    return ExitCode::from(2);
                }
            };
            let parsed = match serde_json::from_str::<rules_sdk::RuleInput>(&text) {
                Ok(i) => i.with_page_references(),
                Err(e) => {
                    eprintln!(
                        "verdict: {} is not a rule input ({{\"closure\": …}}, {{\"transition\": …}} or {{\"ticketing\": …}}): {e}",
                        input.display()
                    );
                    return ExitCode::from(2);
                }
            };
            let eval = engine.evaluate(rule, &parsed, &limits);
            let ok = eval.result.is_ok();
            match &eval.result {
                Ok(out) => println!(
                    "decision: {}",
                    serde_json::to_string_pretty(out).unwrap_or_default()
                ),
                Err(e) => println!("error: {} ({})", e, e.code()),
            }
            for l in &eval.logs {
                println!("log [{}]: {}", l.level, l.message);
            }
            let u = &eval.usage;
            let pct = |a: f64, b: f64| if b > 0.0 { 100.0 * a / b } else { 0.0 };
            println!("usage:");
            println!(
                "  instructions {:>12} / {:<12} ({:.1}%)",
                u.fuel_used,
                u.fuel_limit,
                pct(u.fuel_used as f64, u.fuel_limit as f64)
            );
            println!(
                "  memory       {:>12} / {:<12} bytes ({:.1}%)",
                u.memory_peak_bytes,
                u.memory_limit_bytes,
                pct(u.memory_peak_bytes as f64, u.memory_limit_bytes as f64)
            );
            println!(
                "  time         {:>12} / {:<12} µs ({:.1}%)",
                u.elapsed_us,
                u.deadline_ms * 1000,
                pct(u.elapsed_us as f64, (u.deadline_ms * 1000) as f64)
            );
            println!(
                "  input        {:>12} / {:<12} bytes",
                u.input_bytes, u.input_limit_bytes
            );
            println!(
                "  output       {:>12} / {:<12} bytes",
                u.output_bytes, u.output_limit_bytes
            );
            println!(
                "  logs         {:>12} / {:<12} bytes{}",
                u.log_bytes,
                u.log_limit_bytes,
                if u.logs_truncated { " (truncated)" } else { "" }
            );
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Action::Test(dir) => {
            let results = rules_sdk::testing::run_with(&dir, |input| {
                engine
                    .evaluate(rule, input, &limits)
                    .result
                    .map_err(|e: RuleError| format!("{} ({})", e, e.code()))
            });
            if results.is_empty() {
                eprintln!("verdict: no *.input.json fixtures in {}", dir.display());
                return ExitCode::FAILURE;
            }
            let failed = results.iter().filter(|r| r.failure.is_some()).count();
            for r in &results {
                match &r.failure {
                    None => println!("pass  {}", r.name),
                    Some(f) => {
                        println!("FAIL  {}", r.name);
                        for line in f.lines() {
                            println!("      {line}");
                        }
                    }
                }
            }
            println!(
                "{} fixtures: {} passed, {failed} failed",
                results.len(),
                results.len() - failed
            );
            if failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// A rule author runs `rules test` again and again on the same toolchain: compiled functions
/// are kept in `$VERDICT_RULES_COMPILE_CACHE_DIR`, else `$XDG_CACHE_HOME/verdict/compile-cache`
/// (`~/.cache/...`), so only the first run of a Python or JavaScript rule compiles CPython or
/// QuickJS. A directory that cannot be used falls back to memory, with a warning.
fn author_compile_cache() -> Option<std::sync::Arc<crate::rules::FunctionCache>> {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let dir = var("VERDICT_RULES_COMPILE_CACHE_DIR").or_else(|| {
        var("XDG_CACHE_HOME")
            .or_else(|| var("HOME").map(|h| h.join(".cache")))
            .map(|c| c.join("verdict").join("compile-cache"))
    });
    let open = |dir| {
        crate::rules::FunctionCache::open(&crate::rules::CompileCacheConfig {
            dir,
            max_bytes: crate::rules::compile_cache::DEFAULT_MAX_BYTES,
        })
    };
    let cache = match open(dir) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("verdict: {e}; compiled functions are kept in memory only");
            open(None).ok()?
        }
    };
    Some(std::sync::Arc::new(cache))
}

//! A stateful Jira Cloud (and Confluence) double for Verdict's tests and `verdict demo`.
//!
//! One HTTP server hosts several sites (`{base}/s/{site}`, and the api.atlassian.com-style
//! gateway `{base}/api/ex/jira/{cloudId}`), an OAuth 2.0 authorization server (`{base}/auth`),
//! install keys (`{base}/install-keys`) and a Forge JWKS (`{base}/forge/.well-known/jwks.json`).
//! Tests drive it as people would (create, comment, transition) and read its state back.

#![forbid(unsafe_code)]

pub mod adf;
mod api;
pub mod clock;
pub mod cql;
pub mod forge;
pub mod host;
pub mod install;
pub mod jql;
pub mod jwt;
pub mod model;
pub mod oauth;
pub mod ops;
pub mod qsh;
pub mod ratelimit;
pub mod render;
pub mod screens;
mod server;
pub mod webhooks;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Map, Value, json};

pub use clock::Clock;
pub use install::InstallError;
pub use model::{AuthKind, Category, RequestRecord, SiteSpec, TransitionRecord, Workflow};
pub use ratelimit::{Faults, Limits};
pub use webhooks::{Delivery, DeliveryKnobs, DeliveryState, Signing};

use model::{AdminWebhook, Page, Site, Space};
use render::Version;

pub(crate) struct World {
    pub sites: Vec<Site>,
    pub oauth: oauth::AuthServer,
    pub limits: HashMap<String, Limits>,
    pub faults: HashMap<String, Faults>,
    /// Sites that behave as Jira Data Center: REST v2 only (`/rest/api/3` answers 404).
    pub data_center: std::collections::HashSet<String>,
    pub limiter: ratelimit::Limiter,
    /// Forge app system tokens: token → (app id, site, expiry).
    pub forge_tokens: HashMap<String, (String, String, chrono::DateTime<chrono::Utc>)>,
    /// Forge apps whose admin page the double hosts (browser tests).
    pub forge_apps: Vec<host::ForgeApp>,
    /// Personal data reports OAuth 2.0 apps sent (`/app/report-accounts/`): each one's ids.
    pub app_account_reports: Vec<Vec<String>>,
}

pub(crate) struct Shared {
    pub world: Mutex<World>,
    pub deliveries: Mutex<webhooks::Deliveries>,
    pub in_flight: webhooks::InFlight,
    pub clock: Clock,
    pub base: String,
    pub http: reqwest::Client,
}

/// A site as tests see it.
#[derive(Debug, Clone)]
pub struct SiteInfo {
    pub name: String,
    pub cloud_id: String,
    /// What the Connect install payload calls `baseUrl`.
    pub base_url: String,
    /// `{api}/ex/jira/{cloudId}`: where OAuth and Forge calls go.
    pub gateway_url: String,
    /// Account ids of the site's people, in the order of the spec (first = site admin).
    pub users: Vec<String>,
}

/// The result of installing a Connect app.
#[derive(Debug, Clone)]
pub struct Installed {
    pub app_key: String,
    pub client_key: String,
    pub shared_secret: String,
    pub installation_id: String,
    pub app_account_id: String,
}

pub struct JiraDouble {
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl JiraDouble {
    /// Starts the double on an ephemeral loopback port.
    pub async fn start() -> JiraDouble {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let shared = Arc::new(Shared {
            world: Mutex::new(World {
                sites: Vec::new(),
                oauth: Default::default(),
                limits: HashMap::new(),
                faults: HashMap::new(),
                data_center: Default::default(),
                limiter: Default::default(),
                forge_tokens: HashMap::new(),
                forge_apps: Vec::new(),
                app_account_reports: Vec::new(),
            }),
            deliveries: Mutex::new(Default::default()),
            in_flight: Default::default(),
            clock: Clock::default(),
            base,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
        });
        let app = server::router(shared.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
        });
        JiraDouble {
            shared,
            shutdown: Some(tx),
        }
    }

    pub fn base_url(&self) -> &str {
        &self.shared.base
    }
    /// For `VERDICT_ATLASSIAN_AUTH_URL`.
    pub fn auth_url(&self) -> String {
        format!("{}/auth", self.shared.base)
    }
    /// For `VERDICT_ATLASSIAN_API_URL`.
    pub fn api_url(&self) -> String {
        format!("{}/api", self.shared.base)
    }
    /// For `VERDICT_INSTALL_KEYS_URL`.
    pub fn install_keys_url(&self) -> String {
        format!("{}/install-keys", self.shared.base)
    }
    /// For `VERDICT_FORGE_JWKS_URL`.
    pub fn forge_jwks_url(&self) -> String {
        format!("{}/forge/.well-known/jwks.json", self.shared.base)
    }
    /// For `VERDICT_CONNECT_ALL_JS_URL`: a stand-in for Connect's `all.js` that talks to the
    /// double's Jira page around the frame.
    pub fn connect_all_js_url(&self) -> String {
        format!("{}/ui/connect/all.js", self.shared.base)
    }

    /// The Jira page (as `account`) framing an installed Connect app's admin or configure
    /// page module. Query knobs: `color=dark`, `page_ttl=…`, `token_ttl=…` (seconds).
    pub fn connect_page_url(
        &self,
        site: &str,
        app_key: &str,
        module_key: &str,
        account: &str,
    ) -> String {
        format!(
            "{}/ui/{site}/plugins/servlet/ac/{app_key}/{module_key}?as={account}",
            self.shared.base
        )
    }

    /// Registers the Forge app whose `jira:adminPage` the double hosts.
    pub fn register_forge_app(&self, app: host::ForgeApp) {
        let mut world = self.shared.world.lock().unwrap();
        world.forge_apps.retain(|a| a.app_id != app.app_id);
        world.forge_apps.push(app);
    }

    /// The Jira page (as `account`) framing the Forge app's admin page.
    pub fn forge_admin_page_url(&self, site: &str, account: &str) -> String {
        format!(
            "{}/ui/{site}/jira/settings/apps/configure?as={account}",
            self.shared.base
        )
    }

    /// Jira's issue view of `key` (as `account`), with the Forge app's issue panel.
    pub fn issue_view_url(&self, site: &str, key: &str, account: &str) -> String {
        format!("{}/ui/{site}/browse/{key}?as={account}", self.shared.base)
    }

    pub fn clock(&self) -> &Clock {
        &self.shared.clock
    }

    pub fn add_site(&self, spec: SiteSpec) -> SiteInfo {
        let site = model::build_site(&spec, self.shared.clock.now());
        let info = self.info_of(&site);
        self.shared.world.lock().unwrap().sites.push(site);
        info
    }

    fn info_of(&self, s: &Site) -> SiteInfo {
        SiteInfo {
            name: s.name.clone(),
            cloud_id: s.cloud_id.clone(),
            base_url: format!("{}/s/{}", self.shared.base, s.name),
            gateway_url: format!("{}/api/ex/jira/{}", self.shared.base, s.cloud_id),
            users: s.users.iter().map(|u| u.account_id.clone()).collect(),
        }
    }

    pub fn site(&self, name: &str) -> SiteInfo {
        let world = self.shared.world.lock().unwrap();
        self.info_of(
            world
                .sites
                .iter()
                .find(|s| s.name == name)
                .expect("site exists"),
        )
    }

    fn with_site<T>(&self, name: &str, f: impl FnOnce(&mut Site) -> T) -> T {
        let mut world = self.shared.world.lock().unwrap();
        f(world
            .sites
            .iter_mut()
            .find(|s| s.name == name)
            .expect("site exists"))
    }

    // ---- configuration -------------------------------------------------------------------

    /// Makes `account` a Jira administrator of the site (global ADMINISTER), or not.
    pub fn set_site_admin(&self, site: &str, account: &str, admin: bool) {
        self.with_site(site, |s| {
            if admin {
                s.admins.insert(account.to_owned());
            } else {
                s.admins.remove(account);
            }
        });
    }

    /// Closes an Atlassian account: the personal data reporting API says `closed` for it.
    pub fn close_account(&self, site: &str, account: &str) {
        self.with_site(site, |s| {
            s.closed_accounts.insert(account.to_owned());
        });
    }

    /// Records a profile change: reports of data older than `at` get `updated`.
    pub fn change_profile(&self, site: &str, account: &str, at: chrono::DateTime<chrono::Utc>) {
        self.with_site(site, |s| {
            s.profile_changes.insert(account.to_owned(), at);
        });
    }

    /// The personal data reports OAuth 2.0 apps sent (per app, not per site): each one's ids.
    pub fn app_account_reports(&self) -> Vec<Vec<String>> {
        self.shared
            .world
            .lock()
            .unwrap()
            .app_account_reports
            .clone()
    }

    /// The personal data reports the site received: each one's account ids.
    pub fn account_reports(&self, site: &str) -> Vec<Vec<String>> {
        self.with_site(site, |s| s.account_reports.clone())
    }

    /// Makes a project refuse `parent` for an issue type (by name), as some projects do.
    pub fn reject_parent_for(&self, site: &str, project: &str, issue_type: &str) {
        self.with_site(site, |s| {
            let id = s
                .issue_types
                .iter()
                .find(|t| t.name.eq_ignore_ascii_case(issue_type))
                .expect("issue type")
                .id
                .clone();
            s.projects
                .get_mut(project)
                .expect("project")
                .parent_rejected_for
                .insert(id);
        })
    }

    /// Takes `duedate` off (or puts it back on) a project's create screen.
    pub fn set_duedate_on_screen(&self, site: &str, project: &str, on: bool) {
        self.with_site(site, |s| {
            s.projects
                .get_mut(project)
                .expect("project")
                .duedate_on_screen = on
        })
    }

    /// An API token for basic auth as the user with this email.
    pub fn add_api_token(&self, site: &str, email: &str) -> String {
        let token = oauth::random_token("ATATT");
        self.with_site(site, |s| {
            s.api_tokens.push((email.to_owned(), token.clone()))
        });
        token
    }

    /// A Data Center personal access token acting as `account_id`.
    pub fn add_pat(&self, site: &str, account_id: &str) -> String {
        let token = oauth::random_token("pat-");
        self.with_site(site, |s| {
            s.pats.insert(token.clone(), account_id.to_owned())
        });
        token
    }

    pub fn register_oauth_client(&self, client_id: &str, secret: &str, redirect_uri: &str) {
        self.shared
            .world
            .lock()
            .unwrap()
            .oauth
            .register(oauth::Client {
                id: client_id.into(),
                secret: secret.into(),
                redirect_uris: vec![redirect_uri.into()],
            });
    }

    pub fn set_deny_consent(&self, deny: bool) {
        self.shared.world.lock().unwrap().oauth.deny_consent = deny;
    }

    /// The `grant_type` of every token-endpoint request so far, in order.
    pub fn oauth_token_requests(&self) -> Vec<String> {
        self.shared
            .world
            .lock()
            .unwrap()
            .oauth
            .token_requests
            .clone()
    }

    /// Whether the refresh-token family of this token was revoked.
    pub fn oauth_family_revoked(&self, refresh_token: &str) -> Option<bool> {
        self.shared
            .world
            .lock()
            .unwrap()
            .oauth
            .family_revoked(refresh_token)
    }

    pub fn add_admin_webhook(&self, site: &str, url: &str, events: &[&str], secret: Option<&str>) {
        self.with_site(site, |s| {
            s.admin_webhooks.push(AdminWebhook {
                url: url.into(),
                events: events.iter().map(|e| (*e).to_owned()).collect(),
                secret: secret.map(str::to_owned),
            })
        })
    }

    /// A dynamic webhook the app `owner` registered on the site some other way (another user of
    /// the app, an earlier install): Jira lists it to that app beside its own. Returns its id.
    pub fn add_dynamic_webhook(&self, site: &str, owner: &str, url: &str, events: &[&str]) -> u64 {
        let expires = self.clock().now() + chrono::Duration::days(30);
        self.with_site(site, |s| {
            let id = s.next_webhook_id;
            s.next_webhook_id += 1;
            s.dynamic_webhooks.push(model::DynamicWebhook {
                id,
                owner: owner.into(),
                url: url.into(),
                events: events.iter().map(|e| (*e).to_owned()).collect(),
                jql_filter: "project = SEC".into(),
                field_ids_filter: Vec::new(),
                expires_at: expires,
            });
            id
        })
    }

    pub fn set_limits(&self, site: &str, limits: Limits) {
        self.shared
            .world
            .lock()
            .unwrap()
            .limits
            .insert(site.to_owned(), limits);
    }

    /// Makes `site` behave as Jira Data Center: it has no REST v3, so every `/rest/api/3/…`
    /// request answers 404 as a Data Center server does.
    /// A Data Center site's epics go by the Epic Link field (on every project's create
    /// screen), an epic needs an Epic Name, and `parent` is only for sub-tasks; its create
    /// metadata pages as `values`.
    pub fn make_data_center(&self, site: &str) {
        self.shared
            .world
            .lock()
            .unwrap()
            .data_center
            .insert(site.to_owned());
        let epic_link = self.add_custom_field(site, "Epic Link", model::CustomKind::EpicLink);
        let epic_name = self.add_custom_field(site, "Epic Name", model::CustomKind::EpicName);
        self.with_site(site, |s| {
            s.data_center = true;
            let epic_type = s
                .issue_types
                .iter()
                .find(|t| t.hierarchy_level == 1)
                .map(|t| t.id.clone())
                .expect("an epic type");
            for p in s.projects.values_mut() {
                p.screen_fields.push(epic_link.clone());
                // Epics, and only epics, need an Epic Name.
                p.type_fields
                    .entry(epic_type.clone())
                    .or_default()
                    .push(epic_name.clone());
                p.required.insert(epic_name.clone());
            }
        });
    }

    /// Adds a custom field to the site (on no screen yet). Returns its `customfield_…` id.
    pub fn add_custom_field(&self, site: &str, name: &str, kind: model::CustomKind) -> String {
        self.with_site(site, |s| {
            let id = format!("customfield_{}", 10100 + s.custom_fields.len());
            s.custom_fields.push(model::CustomField {
                id: id.clone(),
                name: name.into(),
                kind,
            });
            id
        })
    }

    /// Puts a field (a custom field id, `components` or `security`) on a project's create
    /// screen, required or optional.
    pub fn put_on_screen(&self, site: &str, project: &str, field: &str, required: bool) {
        self.with_site(site, |s| {
            let p = s.projects.get_mut(project).expect("project");
            if field.starts_with("customfield_") && !p.screen_fields.iter().any(|f| f == field) {
                p.screen_fields.push(field.to_owned());
            }
            if required {
                p.required.insert(field.to_owned());
            } else {
                p.required.remove(field);
            }
        })
    }

    /// Sets a project's components.
    pub fn set_components(&self, site: &str, project: &str, components: &[&str]) {
        self.with_site(site, |s| {
            s.projects.get_mut(project).expect("project").components =
                components.iter().map(|c| (*c).to_owned()).collect();
        })
    }

    /// Gives a project an issue security scheme with these levels.
    pub fn set_security_levels(&self, site: &str, project: &str, levels: &[&str]) {
        self.with_site(site, |s| {
            s.projects
                .get_mut(project)
                .expect("project")
                .security_levels = levels.iter().map(|c| (*c).to_owned()).collect();
        })
    }

    /// Makes a project team-managed: no components, and no priority field unless turned on.
    pub fn make_team_managed(&self, site: &str, project: &str) {
        self.with_site(site, |s| {
            let p = s.projects.get_mut(project).expect("project");
            p.team_managed = true;
            p.priority_on_screen = false;
        })
    }

    pub fn set_faults(&self, site: &str, faults: Faults) {
        self.shared
            .world
            .lock()
            .unwrap()
            .faults
            .insert(site.to_owned(), faults);
    }

    pub fn set_delivery(&self, knobs: DeliveryKnobs) {
        self.shared.deliveries.lock().unwrap().knobs = knobs;
    }

    /// Sends the held deliveries, newest first when `reverse` (to reorder them).
    pub fn release_held(&self, reverse: bool) {
        let mut held = {
            let mut d = self.shared.deliveries.lock().unwrap();
            d.knobs.hold = false;
            std::mem::take(&mut d.held)
        };
        if reverse {
            held.reverse();
        }
        for idx in held {
            self.shared.deliveries.lock().unwrap().records[idx].state = DeliveryState::Pending;
            webhooks::spawn_send(self.shared.clone(), idx, true);
        }
    }

    pub fn add_space(&self, site: &str, key: &str, name: &str) {
        self.with_site(site, |s| {
            let id = (s.spaces.len() + 1000).to_string();
            s.spaces.push(Space {
                id,
                key: key.into(),
                name: name.into(),
            });
        })
    }

    /// Adds a Confluence page; returns its id.
    pub fn add_page(
        &self,
        site: &str,
        space: &str,
        title: &str,
        labels: &[&str],
        body: &str,
    ) -> String {
        let now = self.shared.clock.now();
        self.with_site(site, |s| {
            let id = s.next_page_id.to_string();
            s.next_page_id += 1;
            s.pages.push(Page {
                id: id.clone(),
                space_key: space.into(),
                title: title.into(),
                labels: labels.iter().map(|l| (*l).to_owned()).collect(),
                body: body.into(),
                last_modified: now,
                version: 1,
            });
            id
        })
    }

    /// The browser URL of a Confluence page, as people paste it into comments.
    pub fn page_url(&self, site: &str, page_id: &str) -> String {
        self.with_site(site, |s| {
            let p = s.pages.iter().find(|p| p.id == page_id).expect("page");
            format!(
                "{}/s/{}/wiki/spaces/{}/pages/{}",
                self.shared.base, s.name, p.space_key, p.id
            )
        })
    }

    // ---- acting as people in Jira --------------------------------------------------------

    fn dispatch(&self, site: &str, events: Vec<ops::Emitted>) {
        webhooks::dispatch(&self.shared, site, events);
    }

    fn base_of(&self, site: &str) -> String {
        format!("{}/s/{}", self.shared.base, site)
    }

    /// Creates an issue as `actor` (v3 fields: description as ADF or plain text).
    pub fn create_issue(
        &self,
        site: &str,
        actor: &str,
        fields: Value,
    ) -> Result<String, ops::OpError> {
        let base = self.base_of(site);
        let now = self.shared.clock.now();
        let mut fields = fields.as_object().cloned().unwrap_or_default();
        if let Some(Value::String(text)) = fields.get("description").cloned() {
            fields.insert("description".into(), adf::from_text(&text));
        }
        let created = self.with_site(site, |s| {
            ops::create_issue(s, &base, &fields, Version::V3, actor, now)
        })?;
        self.dispatch(site, created.events);
        Ok(created.key)
    }

    /// Takes a transition by id or name, as a person would in the UI.
    pub fn transition(
        &self,
        site: &str,
        key: &str,
        transition: &str,
        resolution: Option<&str>,
        actor: &str,
    ) -> Result<(), ops::OpError> {
        let base = self.base_of(site);
        let now = self.shared.clock.now();
        let events = self.with_site(site, |s| {
            let issue = s.issue_by_ref(key).ok_or_else(ops::OpError::not_found)?;
            let wf = s.workflow_of(issue);
            let id = wf
                .transitions
                .iter()
                .find(|t| t.id == transition || t.name.eq_ignore_ascii_case(transition))
                .map(|t| t.id.clone())
                .ok_or_else(|| {
                    ops::OpError::message(400, format!("No transition `{transition}`"))
                })?;
            let fields: Option<Map<String, Value>> = resolution.map(|r| {
                let mut m = Map::new();
                m.insert("resolution".into(), json!({"name": r}));
                m
            });
            ops::transition(s, &base, key, &id, fields.as_ref(), actor, now)
        })?;
        self.dispatch(site, events);
        Ok(())
    }

    /// Adds a comment (plain text, stored as ADF); returns its id.
    pub fn comment(
        &self,
        site: &str,
        key: &str,
        actor: &str,
        text: &str,
    ) -> Result<String, ops::OpError> {
        let base = self.base_of(site);
        let now = self.shared.clock.now();
        let (c, events) = self.with_site(site, |s| {
            ops::add_comment(s, &base, key, adf::from_text(text), actor, now)
        })?;
        self.dispatch(site, events);
        Ok(c.id)
    }

    pub fn edit_comment(
        &self,
        site: &str,
        key: &str,
        comment_id: &str,
        actor: &str,
        text: &str,
    ) -> Result<(), ops::OpError> {
        let base = self.base_of(site);
        let now = self.shared.clock.now();
        let (_, events) = self.with_site(site, |s| {
            ops::update_comment(s, &base, key, comment_id, adf::from_text(text), actor, now)
        })?;
        self.dispatch(site, events);
        Ok(())
    }

    pub fn delete_comment(
        &self,
        site: &str,
        key: &str,
        comment_id: &str,
    ) -> Result<(), ops::OpError> {
        let base = self.base_of(site);
        let now = self.shared.clock.now();
        let events = self.with_site(site, |s| {
            ops::delete_comment(s, &base, key, comment_id, now)
        })?;
        self.dispatch(site, events);
        Ok(())
    }

    /// Edits fields (`{"fields": {...}}` and/or `{"update": {"labels": [...]}}`).
    pub fn edit(
        &self,
        site: &str,
        key: &str,
        actor: &str,
        body: Value,
    ) -> Result<(), ops::OpError> {
        let base = self.base_of(site);
        let now = self.shared.clock.now();
        let events = self.with_site(site, |s| {
            ops::edit_issue(s, &base, key, &body, Version::V2, actor, now)
        })?;
        self.dispatch(site, events);
        Ok(())
    }

    pub fn delete_issue(&self, site: &str, key: &str, actor: &str) -> Result<(), ops::OpError> {
        let base = self.base_of(site);
        let now = self.shared.clock.now();
        let events = self.with_site(site, |s| ops::delete_issue(s, &base, key, actor, now))?;
        self.dispatch(site, events);
        Ok(())
    }

    // ---- introspection -------------------------------------------------------------------

    /// The issue as `GET /rest/api/3/issue/{key}` returns it.
    pub fn issue(&self, site: &str, key: &str) -> Option<Value> {
        let base = self.base_of(site);
        self.with_site(site, |s| {
            s.issue_by_ref(key)
                .map(|i| render::issue(&base, s, i, Version::V3, None))
        })
    }

    /// (status name, status category key, resolution name) of an issue.
    pub fn status_of(&self, site: &str, key: &str) -> Option<(String, String, Option<String>)> {
        self.with_site(site, |s| {
            let i = s.issue_by_ref(key)?;
            let st = s.workflow_of(i).status(&i.status)?;
            let res = i
                .resolution
                .as_deref()
                .and_then(|r| s.resolution(r))
                .map(|r| r.name.clone());
            Some((st.name.clone(), st.category.key().to_owned(), res))
        })
    }

    pub fn issue_keys(&self, site: &str) -> Vec<String> {
        self.with_site(site, |s| s.issues.values().map(|i| i.key.clone()).collect())
    }

    /// (author account id, text) of each comment.
    pub fn comments(&self, site: &str, key: &str) -> Vec<(String, String)> {
        self.with_site(site, |s| {
            s.issue_by_ref(key)
                .map(|i| {
                    i.comments
                        .iter()
                        .map(|c| (c.author.clone(), adf::to_text(&c.body)))
                        .collect()
                })
                .unwrap_or_default()
        })
    }

    pub fn transitions_taken(&self, site: &str) -> Vec<TransitionRecord> {
        self.with_site(site, |s| s.transitions_taken.clone())
    }

    pub fn requests(&self, site: &str) -> Vec<RequestRecord> {
        self.with_site(site, |s| s.requests.clone())
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared.deliveries.lock().unwrap().records.clone()
    }

    pub fn dynamic_webhooks(&self, site: &str) -> Vec<model::DynamicWebhook> {
        self.with_site(site, |s| s.dynamic_webhooks.clone())
    }

    pub fn installation(&self, site: &str, app_key: &str) -> Option<Installed> {
        self.with_site(site, |s| {
            s.installations
                .iter()
                .find(|i| i.app_key == app_key && i.installed)
                .map(|i| Installed {
                    app_key: i.app_key.clone(),
                    client_key: i.client_key.clone(),
                    shared_secret: i.shared_secret.clone(),
                    installation_id: i.installation_id.clone(),
                    app_account_id: i.app_account_id.clone(),
                })
        })
    }

    /// Waits until no delivery is in flight (held ones do not count).
    pub async fn wait_for_deliveries(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self
                .shared
                .in_flight
                .count
                .load(std::sync::atomic::Ordering::SeqCst)
                == 0
            {
                return true;
            }
            let notified = self.shared.in_flight.notify.notified();
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self
                    .shared
                    .in_flight
                    .count
                    .load(std::sync::atomic::Ordering::SeqCst)
                    == 0;
            }
        }
    }

    // ---- Connect install -----------------------------------------------------------------

    /// Installs a Connect app from its descriptor URL like a site admin would. Reinstalling
    /// keeps the client key and sends a new shared secret.
    pub async fn install_app(
        &self,
        site: &str,
        descriptor_url: &str,
    ) -> Result<Installed, InstallError> {
        let prepared = install::prepare(&self.shared, site, descriptor_url).await?;
        let now = self.shared.clock.now_secs();
        let inst = prepared.installation.clone();
        let claims = install::lifecycle_claims(
            &inst.client_key,
            &inst.app_base_url,
            &url::Url::parse(&prepared.installed_url)
                .map(|u| u.path().to_owned())
                .unwrap_or_default(),
            now,
        );
        let token = install::rs256_lifecycle_token(&claims);
        let (status, body) = install::post_lifecycle(
            &self.shared.http,
            &prepared.installed_url,
            Some(format!("JWT {token}")),
            &prepared.body,
        )
        .await?;
        if !(status == 200 || status == 204) {
            return Err(InstallError::Refused {
                hook: "installed".into(),
                status,
                body,
            });
        }
        self.with_site(site, |s| {
            s.installations.retain(|i| i.app_key != inst.app_key);
            s.installations.push(inst.clone());
        });
        Ok(Installed {
            app_key: inst.app_key,
            client_key: inst.client_key,
            shared_secret: inst.shared_secret,
            installation_id: inst.installation_id,
            app_account_id: inst.app_account_id,
        })
    }

    fn lifecycle_body(&self, site: &str, inst: &model::Installation, event: &str) -> Value {
        let site_url = self.base_of(site);
        json!({"key": inst.app_key, "clientKey": inst.client_key, "baseUrl": site_url, "displayUrl": site_url,
               "productType": "jira", "description": format!("Atlassian Jira at {site_url}"), "eventType": event,
               "installationId": inst.installation_id})
    }

    fn installed_app(
        &self,
        site: &str,
        app_key: &str,
    ) -> Result<model::Installation, InstallError> {
        self.with_site(site, |s| {
            s.installations
                .iter()
                .find(|i| i.app_key == app_key)
                .cloned()
        })
        .ok_or(InstallError::NotInstalled)
    }

    fn hook_url(inst: &model::Installation, hook: &str) -> Option<String> {
        inst.descriptor
            .pointer(&format!("/lifecycle/{hook}"))
            .and_then(Value::as_str)
            .map(|p| format!("{}{}", inst.app_base_url.trim_end_matches('/'), p))
    }

    /// Uninstalls (RS256-signed `uninstalled`); returns the app's status code.
    pub async fn uninstall_app(&self, site: &str, app_key: &str) -> Result<u16, InstallError> {
        let inst = self.installed_app(site, app_key)?;
        self.with_site(site, |s| {
            if let Some(i) = s.installations.iter_mut().find(|i| i.app_key == app_key) {
                i.installed = false;
            }
        });
        let Some(url) = Self::hook_url(&inst, "uninstalled") else {
            return Ok(0);
        };
        let path = url::Url::parse(&url)
            .map(|u| u.path().to_owned())
            .unwrap_or_default();
        let claims = install::lifecycle_claims(
            &inst.client_key,
            &inst.app_base_url,
            &path,
            self.shared.clock.now_secs(),
        );
        let token = install::rs256_lifecycle_token(&claims);
        let body = self.lifecycle_body(site, &inst, "uninstalled");
        Ok(
            install::post_lifecycle(&self.shared.http, &url, Some(format!("JWT {token}")), &body)
                .await?
                .0,
        )
    }

    /// Sends `enabled` or `disabled` (HS256 with the shared secret, or no token at all, as a
    /// late `disabled` after uninstall sometimes arrives); returns the app's status code.
    pub async fn send_enabled(
        &self,
        site: &str,
        app_key: &str,
        enabled: bool,
        with_token: bool,
    ) -> Result<u16, InstallError> {
        let inst = self.installed_app(site, app_key)?;
        let hook = if enabled { "enabled" } else { "disabled" };
        let Some(url) = Self::hook_url(&inst, hook) else {
            return Ok(0);
        };
        let auth = with_token.then(|| {
            format!(
                "JWT {}",
                webhooks::connect_jwt_for_app(
                    &inst.client_key,
                    &inst.shared_secret,
                    &inst.app_base_url,
                    "POST",
                    &url,
                    self.shared.clock.now_secs()
                )
            )
        });
        let body = self.lifecycle_body(site, &inst, hook);
        Ok(
            install::post_lifecycle(&self.shared.http, &url, auth, &body)
                .await?
                .0,
        )
    }

    /// A Connect JWT exactly as Jira would sign a request to the app (for tests that call
    /// the app's routes themselves, e.g. to tamper with it).
    pub fn connect_jwt_to_app(
        &self,
        site: &str,
        app_key: &str,
        method: &str,
        url: &str,
    ) -> Option<String> {
        let inst = self.installed_app(site, app_key).ok()?;
        Some(webhooks::connect_jwt_for_app(
            &inst.client_key,
            &inst.shared_secret,
            &inst.app_base_url,
            method,
            url,
            self.shared.clock.now_secs(),
        ))
    }

    /// The page JWT Jira puts on the iframe URL of an app's page opened by `account`: the real
    /// `qsh` of `url`, `ttl` seconds (negative: already expired).
    pub fn page_jwt(
        &self,
        site: &str,
        app_key: &str,
        account: &str,
        url: &str,
        ttl: i64,
    ) -> Option<String> {
        let inst = self.installed_app(site, app_key).ok()?;
        Some(webhooks::connect_jwt_as(
            &inst.client_key,
            &inst.shared_secret,
            &inst.app_base_url,
            "GET",
            url,
            Some(account),
            self.shared.clock.now_secs(),
            ttl,
        ))
    }

    /// A context token for `account`, as `AP.context.getToken()` hands it to an app's page.
    pub fn context_token(
        &self,
        site: &str,
        app_key: &str,
        account: &str,
        ttl: i64,
    ) -> Option<String> {
        let inst = self.installed_app(site, app_key).ok()?;
        Some(webhooks::context_token(
            &inst.client_key,
            &inst.shared_secret,
            account,
            self.shared.clock.now_secs(),
            ttl,
        ))
    }

    // ---- Forge ---------------------------------------------------------------------------

    /// Installs a native Forge app on `site` as Forge does: a new installation id, then the
    /// manifest's `avi:forge:installed:app` trigger delivered to the remote (FIT, system token,
    /// Forge's retries). `manifest` is the app's `manifest.yml` text; `remote_base_url` stands
    /// for its remote's `baseUrl`. Returns the installation id once the event was answered (or
    /// given up on).
    pub async fn install_forge_app(
        &self,
        site: &str,
        app_id: &str,
        manifest: &str,
        remote_base_url: &str,
    ) -> Result<String, InstallError> {
        let manifest = forge::Manifest::parse(manifest).map_err(InstallError::InvalidDescriptor)?;
        let installation_id = format!("ari:cloud:ecosystem::installation/{}", uuid::Uuid::new_v4());
        let installer = self.site(site).users[0].clone();
        self.with_site(site, |s| {
            for old in s.forge_installs.iter_mut().filter(|a| a.app_id == app_id) {
                old.installed = false;
            }
            s.forge_installs.push(model::ForgeInstall {
                app_id: app_id.to_owned(),
                installation_id: installation_id.clone(),
                remote_base_url: remote_base_url.to_owned(),
                manifest,
                version: "1.0.0".into(),
                installed: true,
            });
        });
        self.forge_lifecycle(
            site,
            app_id,
            "avi:forge:installed:app",
            "installerAccountId",
            &installer,
        )
        .await;
        Ok(installation_id)
    }

    /// A new version of the app: `avi:forge:upgraded:app`.
    pub async fn upgrade_forge_app(&self, site: &str, app_id: &str, version: &str) {
        let admin = self.site(site).users[0].clone();
        self.with_site(site, |s| {
            if let Some(a) = s
                .forge_installs
                .iter_mut()
                .find(|a| a.app_id == app_id && a.installed)
            {
                a.version = version.to_owned();
            }
        });
        self.forge_lifecycle(
            site,
            app_id,
            "avi:forge:upgraded:app",
            "upgraderAccountId",
            &admin,
        )
        .await;
    }

    /// Uninstalls the app: its events stop, its system tokens stop working, and the remote
    /// gets `avi:forge:uninstalled:app`.
    pub async fn uninstall_forge_app(&self, site: &str, app_id: &str) {
        let admin = self.site(site).users[0].clone();
        self.forge_lifecycle(
            site,
            app_id,
            "avi:forge:uninstalled:app",
            "uninstallerAccountId",
            &admin,
        )
        .await;
        self.with_site(site, |s| {
            for a in s.forge_installs.iter_mut().filter(|a| a.app_id == app_id) {
                a.installed = false;
            }
        });
        let site = site.to_owned();
        self.shared
            .world
            .lock()
            .unwrap()
            .forge_tokens
            .retain(|_, (app, tok_site, _)| !(app == app_id && *tok_site == site));
    }

    /// The app's current installation on the site, if any.
    pub fn forge_installation(&self, site: &str, app_id: &str) -> Option<model::ForgeInstall> {
        self.with_site(site, |s| {
            s.forge_installs
                .iter()
                .rev()
                .find(|a| a.app_id == app_id && a.installed)
                .cloned()
        })
    }

    /// Runs every `scheduledTrigger` of the app once (as Forge does on its interval) and waits
    /// for the remote's answers.
    pub async fn run_scheduled_triggers(&self, site: &str, app_id: &str) {
        let Some(app) = self.forge_installation(site, app_id) else {
            return;
        };
        let cloud_id = self.site(site).cloud_id;
        let new = app
            .manifest
            .scheduled
            .iter()
            .filter_map(|(key, endpoint, _)| {
                let body = json!({"context": {"cloudId": cloud_id, "moduleKey": key}});
                let event = format!("scheduled:{key}");
                forge::invocation(&app, site, &cloud_id, endpoint, &event, body)
            })
            .collect();
        webhooks::queue(&self.shared, new);
        self.wait_for_deliveries(Duration::from_secs(60)).await;
    }

    /// Delivers a lifecycle event to the manifest's trigger for it and waits for the answer.
    async fn forge_lifecycle(
        &self,
        site: &str,
        app_id: &str,
        event: &str,
        account_field: &str,
        account: &str,
    ) {
        let cloud_id = self.site(site).cloud_id;
        let Some(app) = self.with_site(site, |s| {
            s.forge_installs
                .iter()
                .rev()
                .find(|a| a.app_id == app_id)
                .cloned()
        }) else {
            return;
        };
        let mut payload = json!({
            "eventType": event,
            "id": app.installation_id,
            "context": {"cloudId": cloud_id},
            "app": {"id": app.app_id, "version": app.version},
        });
        payload[account_field] = json!(account);
        let new = app
            .manifest
            .triggers
            .iter()
            .filter(|(_, events, _)| events.iter().any(|e| e == event))
            .filter_map(|(_, _, endpoint)| {
                let body = json!({"payload": payload});
                forge::invocation(&app, site, &cloud_id, endpoint, event, body)
            })
            .collect();
        webhooks::queue(&self.shared, new);
        self.wait_for_deliveries(Duration::from_secs(60)).await;
    }

    /// Invokes a Forge Remote endpoint as Forge would: a FIT in `Authorization`, trace
    /// headers, and an app system token in `x-forge-oauth-system` that works on the gateway.
    pub async fn invoke_forge_remote(
        &self,
        site: &str,
        app_id: &str,
        url: &str,
        payload: &Value,
    ) -> Result<(u16, String), InstallError> {
        let (cloud_id, installation_id) = self.with_site(site, |s| {
            let native = s
                .forge_installs
                .iter()
                .rev()
                .find(|a| a.app_id == app_id && a.installed)
                .map(|a| a.installation_id.clone());
            let inst = native
                .or_else(|| {
                    s.installations
                        .iter()
                        .find(|i| i.installed)
                        .map(|i| i.installation_id.clone())
                })
                .unwrap_or_else(|| {
                    format!("ari:cloud:ecosystem::installation/{}", uuid::Uuid::new_v4())
                });
            (s.cloud_id.clone(), inst)
        });
        let api_base = format!("{}/api/ex/jira/{}", self.shared.base, cloud_id);
        let claims = forge::fit_claims(
            app_id,
            &installation_id,
            &cloud_id,
            &api_base,
            "verdict-remote",
            forge::signing_time(),
        );
        let fit = forge::sign_fit(&claims);
        let system_token = forge::mint_system_token(&self.shared, app_id, site);
        let resp = self
            .shared
            .http
            .post(url)
            .timeout(Duration::from_secs(5))
            .header("Authorization", format!("Bearer {fit}"))
            .header("x-b3-traceid", hex::encode(uuid::Uuid::new_v4().as_bytes()))
            .header(
                "x-b3-spanid",
                &hex::encode(uuid::Uuid::new_v4().as_bytes())[..16],
            )
            .header("x-forge-oauth-system", system_token)
            .json(payload)
            .send()
            .await
            .map_err(|e| InstallError::Transport(e.to_string()))?;
        let status = resp.status().as_u16();
        Ok((status, resp.text().await.unwrap_or_default()))
    }
}

impl Drop for JiraDouble {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

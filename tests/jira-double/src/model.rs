//! The double's state: sites (tenants) with users, projects, workflows, issues, comments and
//! changelogs, installed apps, webhook registrations, Confluence content, and what happened
//! (requests, deliveries, transitions) for tests to inspect.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    New,
    Indeterminate,
    Done,
}

impl Category {
    pub fn key(self) -> &'static str {
        match self {
            Category::New => "new",
            Category::Indeterminate => "indeterminate",
            Category::Done => "done",
        }
    }
    pub fn id(self) -> u32 {
        match self {
            Category::New => 2,
            Category::Indeterminate => 4,
            Category::Done => 3,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Category::New => "To Do",
            Category::Indeterminate => "In Progress",
            Category::Done => "Done",
        }
    }
    pub fn color(self) -> &'static str {
        match self {
            Category::New => "blue-gray",
            Category::Indeterminate => "yellow",
            Category::Done => "green",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Status {
    pub id: String,
    pub name: String,
    pub category: Category,
}

#[derive(Debug, Clone)]
pub struct Transition {
    pub id: String,
    pub name: String,
    /// Statuses it is available from; empty means everywhere except its own target.
    pub from: Vec<String>,
    pub to: String,
    /// The transition screen demands a `resolution` field in the POST.
    pub requires_resolution: bool,
    /// Resolution set automatically (no screen), like "Done" in a simple workflow.
    pub sets_resolution: Option<String>,
    /// Leaving a done status clears the resolution (a reopen).
    pub clears_resolution: bool,
    /// Real Jira sometimes omits `to` from the transitions list.
    pub hide_to: bool,
}

#[derive(Debug, Clone)]
pub struct Workflow {
    pub name: String,
    pub statuses: Vec<Status>,
    pub transitions: Vec<Transition>,
    pub initial: String,
}

fn status(id: &str, name: &str, category: Category) -> Status {
    Status {
        id: id.into(),
        name: name.into(),
        category,
    }
}

/// A plain transition; callers set the screen and resolution behaviour they need.
fn transition(id: &str, name: &str, from: &[&str], to: &str) -> Transition {
    Transition {
        id: id.into(),
        name: name.into(),
        from: from.iter().map(|s| (*s).to_owned()).collect(),
        to: to.into(),
        requires_resolution: false,
        sets_resolution: None,
        clears_resolution: false,
        hide_to: false,
    }
}

impl Workflow {
    pub fn status(&self, id: &str) -> Option<&Status> {
        self.statuses.iter().find(|s| s.id == id)
    }

    pub fn available_from(&self, status: &str) -> Vec<&Transition> {
        self.transitions
            .iter()
            .filter(|t| {
                if t.from.is_empty() {
                    t.to != status
                } else {
                    t.from.iter().any(|f| f == status)
                }
            })
            .collect()
    }

    /// To Do → In Progress → Done / Won't Do, with a reopen.
    pub fn simple() -> Workflow {
        let mut done = transition("31", "Done", &["10000", "3"], "10001");
        done.sets_resolution = Some("10000".into());
        let mut wont = transition("41", "Won't Do", &["10000", "3"], "10002");
        wont.sets_resolution = Some("10001".into());
        let mut reopen = transition("51", "Reopen", &["10001", "10002"], "10000");
        reopen.clears_resolution = true;
        Workflow {
            name: "Simple".into(),
            statuses: vec![
                status("10000", "To Do", Category::New),
                status("3", "In Progress", Category::Indeterminate),
                status("10001", "Done", Category::Done),
                status("10002", "Won't Do", Category::Done),
            ],
            transitions: vec![
                transition("11", "To Do", &["3"], "10000"),
                transition("21", "In Progress", &["10000"], "3"),
                done,
                wont,
                reopen,
            ],
            initial: "10000".into(),
        }
    }

    /// A security team's workflow whose done statuses are named unlike "Done" (one in
    /// Spanish), whose close transitions need a resolution on their screen, and where one
    /// transition's target is not listed.
    pub fn security() -> Workflow {
        let mut close = transition("111", "Close", &["1", "10100"], "6");
        close.requires_resolution = true;
        let mut accept = transition("121", "Accept risk", &["1", "10100"], "10101");
        accept.requires_resolution = true;
        let mut cerrar = transition("131", "Cerrar", &["1", "10100"], "10102");
        cerrar.requires_resolution = true;
        cerrar.hide_to = true;
        let mut reopen = transition("141", "Reopen", &["6", "10101", "10102"], "1");
        reopen.clears_resolution = true;
        Workflow {
            name: "Security".into(),
            statuses: vec![
                status("1", "Open", Category::New),
                status("10100", "Triage", Category::Indeterminate),
                status("6", "Closed", Category::Done),
                status("10101", "Risk Accepted", Category::Done),
                status("10102", "Cerrada", Category::Done),
            ],
            transitions: vec![
                transition("101", "Start triage", &["1"], "10100"),
                close,
                accept,
                cerrar,
                reopen,
            ],
            initial: "1".into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct IssueType {
    pub id: String,
    pub name: String,
    pub subtask: bool,
    pub hierarchy_level: i32,
}

#[derive(Debug, Clone)]
pub struct Named {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct User {
    pub account_id: String,
    pub display_name: String,
    pub email: String,
}

#[derive(Debug, Clone)]
pub struct Project {
    pub id: String,
    pub key: String,
    pub name: String,
    pub workflow: Workflow,
    /// Issue-type ids that Jira refuses a `parent` for in this project.
    pub parent_rejected_for: HashSet<String>,
    /// Whether `duedate` is on the create screen.
    pub duedate_on_screen: bool,
    /// Whether `priority` is on the create screen (team-managed projects have none by default).
    pub priority_on_screen: bool,
    /// A team-managed (next-gen) project: no components, epics by `parent` only.
    pub team_managed: bool,
    /// The project's components (company-managed projects).
    pub components: Vec<String>,
    /// Issue security levels of the project's security scheme (none: no `security` field).
    pub security_levels: Vec<String>,
    /// Custom field ids on the project's create screen (every issue type).
    pub screen_fields: Vec<String>,
    /// Custom field ids on one issue type's create screen only (issue type id → fields).
    pub type_fields: HashMap<String, Vec<String>>,
    /// Field ids the project's field configuration makes required.
    pub required: HashSet<String>,
    pub next_number: u64,
}

/// What a custom field holds, which decides the shape Jira accepts on create.
#[derive(Debug, Clone, PartialEq)]
pub enum CustomKind {
    /// Single-line text: a string.
    Text,
    /// Paragraph: ADF on REST v3, a string on v2.
    Textarea,
    Number,
    /// Single select: `{"value": …}` or `{"id": …}` naming one option.
    Select(Vec<String>),
    /// Atlassian Team: the team's id as a string.
    Team,
    /// Data Center's Epic Link (`com.pyxis.greenhopper.jira:gh-epic-link`): an epic's key.
    EpicLink,
    /// Data Center's Epic Name (`com.pyxis.greenhopper.jira:gh-epic-label`), on epics.
    EpicName,
}

#[derive(Debug, Clone)]
pub struct CustomField {
    /// `customfield_NNNNN`.
    pub id: String,
    pub name: String,
    pub kind: CustomKind,
}

#[derive(Debug, Clone)]
pub struct Comment {
    pub id: String,
    pub author: String,
    pub update_author: String,
    /// Stored as ADF; v2 and webhooks see it flattened to text.
    pub body: Value,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChangeItem {
    pub field: String,
    pub field_id: String,
    pub from: Option<String>,
    pub from_string: Option<String>,
    pub to: Option<String>,
    pub to_string: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ChangelogEntry {
    pub id: String,
    pub author: String,
    pub created: DateTime<Utc>,
    pub items: Vec<ChangeItem>,
}

#[derive(Debug, Clone)]
pub struct Issue {
    pub id: String,
    pub key: String,
    pub project_key: String,
    pub issue_type: String,
    pub summary: String,
    pub description: Option<Value>,
    pub status: String,
    pub resolution: Option<String>,
    pub priority: String,
    pub labels: Vec<String>,
    pub assignee: Option<String>,
    pub reporter: String,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    pub resolution_date: Option<DateTime<Utc>>,
    pub status_category_changed: DateTime<Utc>,
    pub duedate: Option<String>,
    pub parent: Option<String>,
    pub comments: Vec<Comment>,
    pub changelog: Vec<ChangelogEntry>,
    pub properties: BTreeMap<String, Value>,
    pub remote_links: Vec<Value>,
    /// Custom field values as Jira stores them (`customfield_NNNNN` → value).
    pub custom: BTreeMap<String, Value>,
    pub components: Vec<String>,
    pub security: Option<String>,
}

/// A Connect app installed on a site (from its descriptor).
#[derive(Debug, Clone)]
pub struct Installation {
    pub app_key: String,
    pub client_key: String,
    pub shared_secret: String,
    pub app_base_url: String,
    pub installation_id: String,
    /// The app's own user: what Jira shows as the author of the app's changes.
    pub app_account_id: String,
    pub descriptor: Value,
    pub enabled: bool,
    pub installed: bool,
}

/// A webhook registered through `POST /rest/api/3/webhook` (OAuth 2.0 or Connect apps).
#[derive(Debug, Clone)]
pub struct DynamicWebhook {
    pub id: u64,
    /// The OAuth client id (or Connect app key) that registered it.
    pub owner: String,
    pub url: String,
    pub events: Vec<String>,
    pub jql_filter: String,
    pub field_ids_filter: Vec<String>,
    pub expires_at: DateTime<Utc>,
}

/// A native Forge app installed on a site (see [`crate::forge::Manifest`]).
#[derive(Debug, Clone)]
pub struct ForgeInstall {
    pub app_id: String,
    /// New on every install (a reinstall gets a new one), as Forge does.
    pub installation_id: String,
    /// Where the manifest's remote points (Verdict's base URL in tests).
    pub remote_base_url: String,
    pub manifest: crate::forge::Manifest,
    pub version: String,
    pub installed: bool,
}

impl ForgeInstall {
    /// The app's own account: what its system token acts as.
    pub fn account_id(&self) -> String {
        format!("app:{}", self.app_id)
    }
}

/// A site-admin webhook (Data Center style, or Cloud admin), optionally HMAC-signed.
#[derive(Debug, Clone)]
pub struct AdminWebhook {
    pub url: String,
    pub events: Vec<String>,
    pub secret: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Space {
    pub id: String,
    pub key: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct Page {
    pub id: String,
    pub space_key: String,
    pub title: String,
    pub labels: Vec<String>,
    /// Storage-format (XHTML) body.
    pub body: String,
    pub last_modified: DateTime<Utc>,
    pub version: u32,
}

/// How a request to the double authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthKind {
    ConnectJwt { app_key: String },
    OAuthBearer { client_id: String },
    ForgeSystemToken { app_id: String },
    ApiToken { email: String },
    Pat { account_id: String },
    None,
}

#[derive(Debug, Clone)]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    pub query: String,
    pub auth: AuthKind,
    pub status: u16,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct TransitionRecord {
    pub issue_key: String,
    pub transition_id: String,
    pub from_status: String,
    pub to_status: String,
    pub by: String,
}

pub struct Site {
    pub name: String,
    pub cloud_id: String,
    pub users: Vec<User>,
    /// Accounts holding the global ADMINISTER permission (Jira administrators).
    pub admins: HashSet<String>,
    pub projects: BTreeMap<String, Project>,
    /// Custom fields of the site (ids from `customfield_10100`).
    pub custom_fields: Vec<CustomField>,
    /// Behaves as Data Center: epics by Epic Link, create metadata as `values`.
    pub data_center: bool,
    pub issue_types: Vec<IssueType>,
    pub priorities: Vec<Named>,
    pub resolutions: Vec<Named>,
    pub issues: BTreeMap<u64, Issue>,
    pub next_issue_id: u64,
    pub next_comment_id: u64,
    pub next_changelog_id: u64,
    pub installations: Vec<Installation>,
    /// Native Forge apps, current and uninstalled.
    pub forge_installs: Vec<ForgeInstall>,
    pub dynamic_webhooks: Vec<DynamicWebhook>,
    pub next_webhook_id: u64,
    pub admin_webhooks: Vec<AdminWebhook>,
    /// (email, token) pairs accepted with basic auth.
    pub api_tokens: Vec<(String, String)>,
    /// Data Center personal access tokens → account id.
    pub pats: HashMap<String, String>,
    pub spaces: Vec<Space>,
    pub pages: Vec<Page>,
    pub next_page_id: u64,
    pub requests: Vec<RequestRecord>,
    pub transitions_taken: Vec<TransitionRecord>,
    /// Accounts whose owners closed them (the personal data reporting API says `closed`).
    pub closed_accounts: HashSet<String>,
    /// Accounts whose profile changed, and when (`updated` for reports of older data).
    pub profile_changes: HashMap<String, DateTime<Utc>>,
    /// Each personal data report received: the account ids it listed, in order.
    pub account_reports: Vec<Vec<String>>,
}

impl Site {
    pub fn issue_by_ref(&self, id_or_key: &str) -> Option<&Issue> {
        self.issues
            .values()
            .find(|i| i.id == id_or_key || i.key.eq_ignore_ascii_case(id_or_key))
    }

    pub fn issue_by_ref_mut(&mut self, id_or_key: &str) -> Option<&mut Issue> {
        self.issues
            .values_mut()
            .find(|i| i.id == id_or_key || i.key.eq_ignore_ascii_case(id_or_key))
    }

    pub fn workflow_of(&self, issue: &Issue) -> &Workflow {
        &self.projects[&issue.project_key].workflow
    }

    pub fn user(&self, account_id: &str) -> Option<&User> {
        self.users.iter().find(|u| u.account_id == account_id)
    }

    pub fn resolution(&self, id: &str) -> Option<&Named> {
        self.resolutions.iter().find(|r| r.id == id)
    }

    pub fn resolution_by_name_or_id(&self, v: &Value) -> Option<&Named> {
        let id = v.get("id").and_then(|x| {
            x.as_str()
                .map(str::to_owned)
                .or_else(|| x.as_u64().map(|n| n.to_string()))
        });
        let name = v.get("name").and_then(Value::as_str);
        self.resolutions.iter().find(|r| {
            id.as_deref() == Some(r.id.as_str())
                || name.is_some_and(|n| n.eq_ignore_ascii_case(&r.name))
        })
    }

    pub fn priority(&self, id: &str) -> Option<&Named> {
        self.priorities.iter().find(|p| p.id == id)
    }

    pub fn custom_field(&self, id: &str) -> Option<&CustomField> {
        self.custom_fields.iter().find(|f| f.id == id)
    }

    pub fn issue_type(&self, id: &str) -> Option<&IssueType> {
        self.issue_types.iter().find(|t| t.id == id)
    }

    pub fn installation(&self, app_key: &str) -> Option<&Installation> {
        self.installations
            .iter()
            .find(|i| i.app_key == app_key && i.installed)
    }
}

/// What a test asks for when it adds a site.
#[derive(Debug, Clone)]
pub struct SiteSpec {
    pub name: String,
    /// (key, name, workflow) per project.
    pub projects: Vec<(String, String, Workflow)>,
    pub users: Vec<(String, String)>,
}

impl SiteSpec {
    /// A site with `SEC` (security workflow) and `APP` (simple workflow) projects and three users.
    pub fn standard(name: &str) -> SiteSpec {
        SiteSpec {
            name: name.into(),
            projects: vec![
                ("SEC".into(), "Security".into(), Workflow::security()),
                ("APP".into(), "Application".into(), Workflow::simple()),
            ],
            users: vec![
                ("Site Admin".into(), "admin@example.com".into()),
                ("Tri Ager".into(), "triager@example.com".into()),
                ("Dev Eloper".into(), "dev@example.com".into()),
            ],
        }
    }
}

pub fn build_site(spec: &SiteSpec, now: DateTime<Utc>) -> Site {
    let users: Vec<User> = spec
        .users
        .iter()
        .map(|(name, email)| User {
            account_id: format!("712020:{}", uuid::Uuid::new_v4()),
            display_name: name.clone(),
            email: email.clone(),
        })
        .collect();
    let _ = now;
    let projects = spec
        .projects
        .iter()
        .enumerate()
        .map(|(i, (key, name, workflow))| {
            (
                key.clone(),
                Project {
                    id: (10000 + i).to_string(),
                    key: key.clone(),
                    name: name.clone(),
                    workflow: workflow.clone(),
                    parent_rejected_for: HashSet::new(),
                    duedate_on_screen: true,
                    priority_on_screen: true,
                    team_managed: false,
                    components: Vec::new(),
                    security_levels: Vec::new(),
                    screen_fields: Vec::new(),
                    type_fields: HashMap::new(),
                    required: HashSet::new(),
                    next_number: 1,
                },
            )
        })
        .collect();
    let named = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(id, name)| Named {
                id: (*id).into(),
                name: (*name).into(),
            })
            .collect::<Vec<_>>()
    };
    Site {
        name: spec.name.clone(),
        cloud_id: uuid::Uuid::new_v4().to_string(),
        // The first person of the spec is the site admin.
        admins: users.iter().take(1).map(|u| u.account_id.clone()).collect(),
        users,
        projects,
        custom_fields: Vec::new(),
        data_center: false,
        issue_types: vec![
            IssueType {
                id: "10000".into(),
                name: "Epic".into(),
                subtask: false,
                hierarchy_level: 1,
            },
            IssueType {
                id: "10002".into(),
                name: "Task".into(),
                subtask: false,
                hierarchy_level: 0,
            },
            IssueType {
                id: "10003".into(),
                name: "Sub-task".into(),
                subtask: true,
                hierarchy_level: -1,
            },
            IssueType {
                id: "10004".into(),
                name: "Bug".into(),
                subtask: false,
                hierarchy_level: 0,
            },
            IssueType {
                id: "10005".into(),
                name: "Security".into(),
                subtask: false,
                hierarchy_level: 0,
            },
        ],
        priorities: named(&[
            ("1", "Highest"),
            ("2", "High"),
            ("3", "Medium"),
            ("4", "Low"),
            ("5", "Lowest"),
        ]),
        resolutions: named(&[
            ("10000", "Done"),
            ("10001", "Won't Do"),
            ("10002", "Duplicate"),
            ("10003", "Cannot Reproduce"),
            ("10004", "Known Risk"),
            ("10005", "Won't Fix"),
        ]),
        issues: BTreeMap::new(),
        next_issue_id: 10001,
        next_comment_id: 10001,
        next_changelog_id: 10001,
        installations: Vec::new(),
        forge_installs: Vec::new(),
        dynamic_webhooks: Vec::new(),
        next_webhook_id: 1,
        admin_webhooks: Vec::new(),
        api_tokens: Vec::new(),
        pats: HashMap::new(),
        spaces: Vec::new(),
        pages: Vec::new(),
        next_page_id: 98001,
        closed_accounts: HashSet::new(),
        profile_changes: HashMap::new(),
        account_reports: Vec::new(),
        requests: Vec::new(),
        transitions_taken: Vec::new(),
    }
}

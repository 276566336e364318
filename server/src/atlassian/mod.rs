//! Everything Atlassian-specific about proving who is calling: the Connect descriptor,
//! signed-install (RS256 by `kid`) and Connect HS256 JWT verification with exact qsh.

pub mod descriptor;
pub mod dynamic_webhooks;
pub mod forge;
pub mod install_keys;
pub mod jwt;
pub mod oauth;
pub mod outbound;
pub use verdict_wire::qsh;

pub use install_keys::{InstallKeys, KeyError};
pub use jwt::{AuthError, ConnectClaims};
pub use outbound::{ApiFlavor, JiraAuth};

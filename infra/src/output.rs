//! `infra output`: the identifiers and endpoints a user needs, read from live AWS.

use std::io::{self, Write};

use serde::Serialize;

use crate::live::Live;
use crate::resources::cognito_pool::discovery_url;
use crate::resources::runtime::mcp_url;

/// Each value is `None` when its resource does not exist (yet).
#[derive(Debug, Serialize)]
pub struct Outputs {
    pub user_pool_id: Option<String>,
    pub client_id: Option<String>,
    pub discovery_url: Option<String>,
    pub role_arn: Option<String>,
    pub repository_uri: Option<String>,
    pub runtime_arn: Option<String>,
    pub runtime_id: Option<String>,
    pub runtime_version: Option<String>,
    pub mcp_url: Option<String>,
}

impl Outputs {
    pub fn from_live(live: &Live) -> Outputs {
        let pool = live.user_pool.found();
        let runtime = live.runtime.found();
        Outputs {
            user_pool_id: pool.map(|p| p.id.clone()),
            client_id: live.client.found().map(|c| c.id.clone()),
            discovery_url: pool.map(|p| discovery_url(&live.region, &p.id)),
            role_arn: live.role.found().map(|r| r.arn.clone()),
            repository_uri: live.repository.found().map(|r| r.uri.clone()),
            runtime_arn: runtime.map(|r| r.arn.clone()),
            runtime_id: runtime.map(|r| r.id.clone()),
            runtime_version: runtime.map(|r| r.version.clone()),
            mcp_url: runtime.map(|r| mcp_url(&live.region, &r.arn)),
        }
    }

    fn entries(&self) -> [(&'static str, &Option<String>); 9] {
        [
            ("user_pool_id", &self.user_pool_id),
            ("client_id", &self.client_id),
            ("discovery_url", &self.discovery_url),
            ("role_arn", &self.role_arn),
            ("repository_uri", &self.repository_uri),
            ("runtime_arn", &self.runtime_arn),
            ("runtime_id", &self.runtime_id),
            ("runtime_version", &self.runtime_version),
            ("mcp_url", &self.mcp_url),
        ]
    }

    /// `name = value` lines, like `terraform output`.
    pub fn write_text(&self, w: &mut dyn Write) -> io::Result<()> {
        for (name, value) in self.entries() {
            writeln!(
                w,
                "{name} = {}",
                value.as_deref().unwrap_or("(not created)")
            )?;
        }
        Ok(())
    }
}

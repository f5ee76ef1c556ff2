//! `foodmesh token`: a bearer token signed with the gateway's secret, for
//! curl and the docs page.

use std::time::Duration;

use crate::cli::{RoleArg, TokenArgs};

/// The secret the gateway verifies with: `JWT_SECRET`, else the gateway's
/// development default.
pub fn secret() -> String {
    std::env::var("JWT_SECRET")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| gateway::auth::DEV_SECRET.to_owned())
}

/// Signs a token for the flags given.
///
/// # Errors
/// A staff token without `--restaurant`, or signing fails.
pub fn issue(args: &TokenArgs) -> anyhow::Result<String> {
    use gateway::auth::Role;
    let role = match args.role {
        RoleArg::Customer => Role::Customer,
        RoleArg::Staff => Role::Staff,
        RoleArg::Driver => Role::Driver,
        RoleArg::Admin => Role::Admin,
    };
    if role == Role::Staff && args.restaurant.is_none() {
        anyhow::bail!("a staff token needs --restaurant ID");
    }
    let ttl = Duration::from_secs(args.ttl_hours.saturating_mul(3600));
    Ok(gateway::auth::issue(
        secret().as_bytes(),
        role,
        &args.subject,
        args.restaurant,
        ttl,
    )?)
}

//! `ttauth token`: print a currently valid bearer token, and nothing else, on stdout.
//!
//! The session comes from the state file when it holds a usable one (no request at all), is
//! refreshed first when its token is due for a refresh (so the token handed out is the
//! newest, with the most life left), and is logged in otherwise. Every new token is saved
//! before it is printed.

use auth_core::Scheme;

use crate::cli::GlobalArgs;
use crate::connection::Connection;
use crate::exit::{Failure, Result};
use crate::{Context, write_out};

/// Runs `ttauth token`.
pub(crate) fn run(global: &GlobalArgs, ctx: &mut Context<'_>) -> Result<()> {
    let connection = Connection::resolve(global, ctx)?;
    if connection.scheme != Scheme::Bearer {
        return Err(Failure::usage(format!(
            "`token` needs --scheme bearer: {} authentication has no token",
            connection.scheme
        )));
    }
    let client = connection.client(true, ctx).map_err(|f| connection.explain(f))?;
    let token = client.bearer_token().map_err(|e| connection.explain(e.into()))?;
    connection.observer.token_in_use(client.session().snapshot().as_ref());
    if let Some(error) = client.session().last_store_error() {
        ctx.status(&format!("ttauth: warning: the session could not be saved: {error}"));
    }
    // Written straight from the secret: no copy of the token is left behind.
    write_out(ctx, token.expose_secret().as_bytes())?;
    write_out(ctx, b"\n")
}

//! What a RealTime connection needs from the bearer session (SPEC.md §6): the token its first
//! message authenticates with, always a currently valid one (a reconnect too), and what a
//! refusal of that token means (like a 401 on the API, SPEC.md §5a). The handshake itself is
//! [`crate::realtime`]'s.

use super::BearerSession;
use crate::clock::Now;
use crate::error::AuthError;
use crate::realtime::RealtimeAuthRequest;
use crate::request::TokenGeneration;
use crate::secret::BearerToken;

impl BearerSession {
    /// The first message for a RealTime connection, built from a currently valid token
    /// (SPEC.md §6: a reconnect always authenticates with a valid token). `Ok(None)` means an
    /// auth exchange must complete first, exactly as
    /// [`Authorization::Pending`](crate::Authorization::Pending).
    pub fn realtime_auth(&mut self, now: impl Into<Now>) -> Result<Option<RealtimeAuthRequest>, AuthError> {
        let Some(credential) = self.credential(now.into())? else {
            return Ok(None);
        };
        // Not an API request: nothing will be reported back for it.
        let generation = credential.generation();
        self.release(credential.receipt);
        let token = self.tokens.of_generation(generation);
        Ok(token.map(|t| RealtimeAuthRequest::new(t.value.expose_secret(), t.generation)))
    }

    /// Reports that the RealTime server refused the token of `generation` (an `authresponse`
    /// with `"success": false`). Like a 401 on the API (SPEC.md §5a), the token is dropped if it
    /// is still the current one, so the reconnect authenticates with a new one (SPEC.md §6).
    pub fn handle_realtime_rejection(&mut self, generation: TokenGeneration, now: impl Into<Now>) {
        self.observe(now.into());
        self.tokens.invalidate(generation);
    }

    /// A currently valid bearer token, for callers that attach it themselves (a RealTime
    /// client, `ttauth token`). `Ok(None)` means an auth exchange must complete first.
    pub fn current_token(&mut self, now: impl Into<Now>) -> Result<Option<BearerToken>, AuthError> {
        let Some(credential) = self.credential(now.into())? else {
            return Ok(None);
        };
        let generation = credential.generation();
        self.release(credential.receipt);
        Ok(self.tokens.of_generation(generation).map(|t| t.value.clone()))
    }
}

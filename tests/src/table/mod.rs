//! The scenario table: one function per scenario, named after the behaviour it checks, and
//! one list of those names ([`for_each_scenario!`](crate::for_each_scenario)) that builds both
//! [`table`] and the integration test's `#[test]`s (one per scenario and adapter).
//!
//! The files follow SPEC.md: `login` (§2), `refresh` (§3), `switch` (§4), `schemes` (§1, Basic
//! and Integrator), `realtime` (§6), `faults` (the fault matrix on login, refresh and
//! masquerade, §3–§5), `expiry` (§5a: 401 vs 403; faults on the API itself; the clock rule of
//! §3), `origin` (credentials stay on the API's origin), `store` (restarts), `concurrency`
//! (single flight), `wallclock` (SPEC §3a: a stepped wall clock, a slow store) and `sharing`
//! (SPEC §3, §3a: two clients on one store, a store of another server).

mod concurrency;
mod expiry;
mod faults;
mod login;
mod origin;
mod realtime;
mod refresh;
mod schemes;
mod sharing;
mod store;
mod switch;
mod wallclock;

pub use concurrency::*;
pub use expiry::*;
pub use faults::*;
pub use login::*;
pub use origin::*;
pub use realtime::*;
pub use refresh::*;
pub use schemes::*;
pub use sharing::*;
pub use store::*;
pub use switch::*;
pub use wallclock::*;

use crate::scenario::Scenario;

/// Calls `$callback! { name, name, ... }` with the name of every scenario function in
/// [`table`](crate::table()). The one list of scenarios: add a name here and a function in the
/// file of its category.
#[macro_export]
macro_rules! for_each_scenario {
    ($callback:ident) => {
        $callback! {
            // Login (SPEC §2)
            login_without_account_binds_the_home_account,
            login_with_account_binds_that_account,
            fresh_token_serves_requests_without_auth_traffic,
            rejected_password_is_final,
            login_to_an_account_of_another_user_is_rejected,
            integrator_cannot_open_a_bearer_session,
            auth_only_verifies_without_opening_a_session,
            auth_only_reports_a_wrong_password,
            bearer_token_logs_in_first,
            // Refresh (SPEC §3)
            stale_token_is_attached_while_one_refresh_rotates_both_tokens,
            expired_token_is_refreshed_before_the_request,
            bearer_token_refreshes_a_stale_token_first,
            refresh_keeps_the_bound_account,
            expired_refresh_token_means_relogin_without_a_refresh,
            revoked_session_means_relogin,
            session_without_password_expires_with_a_typed_error,
            zero_token_lifetime_ends_in_an_error_not_a_loop,
            short_lived_token_is_refreshed_at_half_life,
            bearer_token_with_a_failing_refresh_hands_out_the_valid_token,
            // Account switch (SPEC §4)
            switch_by_relogin_binds_the_new_account,
            switch_by_masquerade_keeps_the_token,
            switch_by_masquerade_adopts_issued_tokens,
            refused_switch_by_relogin_keeps_the_old_account,
            refused_switch_by_masquerade_keeps_the_old_account,
            switch_to_the_current_account_sends_nothing,
            switch_before_the_first_login_logs_in_there,
            masquerade_switch_survives_a_refresh,
            relogin_switch_survives_a_revocation,
            a_handle_for_one_account_never_runs_on_another,
            // Basic (SPEC §1)
            basic_single_account_user_is_served_on_her_account,
            basic_multi_account_user_without_pin_gets_the_silent_pick,
            basic_pinned_account_goes_on_every_request,
            basic_request_may_name_its_account,
            basic_request_naming_another_account_than_the_pinned_one_is_refused,
            basic_401_is_final,
            basic_is_rest_only,
            header_injection_in_the_password_is_refused_at_construction,
            colon_in_a_basic_user_id_is_refused_at_construction,
            // Integrator (SPEC §1)
            integrator_pinned_account_goes_on_every_request,
            integrator_may_name_the_account_per_request,
            integrator_without_an_account_is_refused_before_any_io,
            integrator_configuration_without_an_account_is_refused,
            integrator_account_outside_the_allow_list_gets_a_final_403,
            integrator_is_rest_only,
            // RealTime (SPEC §6)
            realtime_handshake_authenticates_with_a_fresh_token,
            realtime_handshake_with_a_revoked_token_is_refused,
            realtime_reconnect_after_expiry_refreshes_first,
            realtime_with_a_stale_token_refreshes_first,
            realtime_after_a_masquerade_uses_the_current_token,
            realtime_with_a_stale_token_and_a_failing_refresh_uses_the_valid_token,
            // Fault matrix: login
            login_500_is_transient_and_recovers_after_the_backoff,
            login_502_twice_backs_off_and_recovers,
            login_429_honours_retry_after,
            login_503_with_retry_after_is_honoured,
            login_garbage_body_is_transient,
            login_truncated_body_is_transient,
            login_oversized_body_is_transient,
            login_success_false_is_final,
            login_dropped_connection_is_transient,
            login_refused_on_a_pending_switch_retry_is_reported,
            // Fault matrix: refresh
            refresh_500_keeps_the_valid_token_serving,
            refresh_429_honours_retry_after_while_the_token_serves,
            refresh_garbage_body_after_rotation_recovers_by_relogin,
            refresh_truncated_body_after_rotation_recovers_by_relogin,
            refresh_oversized_body_after_rotation_recovers_by_relogin,
            refresh_success_false_means_relogin,
            refresh_dropped_connection_after_rotation_recovers_by_relogin,
            refresh_of_a_revoked_session_means_relogin,
            refresh_500_with_an_expired_token_surfaces_a_transient_error,
            refresh_503_keeps_the_refresh_token_of_a_session_without_password,
            refresh_429_keeps_the_refresh_token_of_a_session_without_password,
            // Fault matrix: masquerade
            masquerade_500_leaves_the_switch_pending,
            masquerade_429_honours_retry_after,
            masquerade_garbage_body_is_transient,
            masquerade_truncated_body_is_transient,
            masquerade_oversized_body_is_transient,
            masquerade_success_false_keeps_the_old_account,
            masquerade_dropped_connection_is_transient,
            masquerade_with_a_revoked_token_logs_in_to_the_account,
            masquerade_issuing_tokens_whose_answer_is_lost,
            pending_switch_refused_on_its_retry_is_reported,
            // 401 vs 403 (SPEC §2, §5a)
            server_expired_token_401_is_refreshed_and_retried_once,
            server_expired_token_403_is_refreshed_and_retried_once,
            revoked_token_403_means_relogin,
            post_is_replayed_with_its_body_after_a_403,
            second_rejection_is_returned_as_it_is,
            stale_token_expired_server_side_is_refreshed_and_retried,
            // Faults on the API itself
            api_500_is_a_response_not_an_auth_event,
            api_429_is_a_response_not_an_auth_event,
            api_dropped_connection_is_a_transport_error,
            api_dropped_connection_on_a_stale_token_still_refreshes_once,
            // Server clock offsets (SPEC §3)
            server_clock_a_day_ahead_changes_nothing,
            server_clock_a_day_behind_changes_nothing,
            server_clock_a_day_ahead_does_not_extend_the_refresh_token,
            server_clock_a_day_behind_survives_a_restart,
            // Origins
            redirect_to_a_foreign_origin_drops_the_bearer_token,
            bearer_request_to_a_foreign_origin_is_refused_before_any_io,
            redirect_to_a_foreign_origin_drops_basic_credentials,
            basic_request_to_a_foreign_origin_is_refused_before_any_io,
            redirect_to_a_foreign_origin_drops_integrator_credentials,
            // Persistence
            restart_continues_the_stored_session,
            restart_after_a_refresh_continues_the_rotated_pair,
            restart_after_a_lost_refresh_never_resends_the_spent_token,
            restart_after_a_masquerade_keeps_the_account,
            // Concurrency
            concurrent_first_requests_share_one_login,
            concurrent_requests_on_an_expired_token_share_one_refresh,
            concurrent_requests_on_a_stale_token_refresh_once,
            // The client's wall clock and slow stores (SPEC §3a)
            wall_clock_a_year_ahead_and_back_never_wedges_the_session,
            wall_clock_a_year_ahead_neither_expires_nor_refreshes_the_token,
            wall_clock_a_year_behind_never_sends_an_expired_token,
            a_slow_save_never_discards_a_good_refresh_answer,
            // Sharing a store (SPEC §3, §3a)
            a_second_client_never_presents_a_refresh_token_the_first_spent,
            a_stored_session_never_reaches_another_server,
        }
    };
}

macro_rules! collect_table {
    ($($name:ident,)*) => {
        vec![$($name().named(stringify!($name))),*]
    };
}

/// Every scenario, named, in table order.
pub fn table() -> Vec<Scenario> {
    crate::for_each_scenario!(collect_table)
}

/// The scenario called `name`.
pub fn scenario(name: &str) -> Option<Scenario> {
    table().into_iter().find(|s| s.name == name)
}

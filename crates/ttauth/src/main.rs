//! `ttauth`: the command line of the TeleTracker auth libraries. Everything happens in the
//! library ([`ttauth::run`]); see its docs for the commands, configuration and exit statuses.
#![forbid(unsafe_code)]

use std::process::ExitCode;

fn main() -> ExitCode {
    ttauth::run(std::env::args_os(), ttauth::Context::process()).into()
}

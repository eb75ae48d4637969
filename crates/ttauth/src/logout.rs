//! `ttauth logout [--all]`: delete stored sessions.
//!
//! Deletes the session file of the configured server, user and account (or `--state-file`)
//! with its lock file, and says what it removed; run twice, it says there was nothing left.
//! `--all` removes every session file ttauth keeps in its state directory (and their lock
//! files and any temporary file a crashed save left), and nothing else there. With a Redis
//! store (`--store redis://…` or `TELETRACKER_STORE`) logout deletes this session's key, so
//! every host sharing it logs in again; `--all` is refused there (ttauth does not walk a
//! shared Redis for every session in it). Nothing is sent:
//! TeleTracker documents no logout endpoint (SPEC §7), so the tokens stay valid on the server
//! until they expire; what logout guarantees is that no ttauth command uses them again.

use std::io;
use std::path::{Path, PathBuf};

use crate::cli::{GlobalArgs, LogoutArgs};
use crate::connection::Connection;
use crate::exit::{Failure, Result};
use crate::state::{is_session_file, lock_file_of, state_dir};
use crate::store::STORE_VAR;
use crate::{Context, write_out};

/// Runs `ttauth logout`.
pub(crate) fn run(args: &LogoutArgs, global: &GlobalArgs, ctx: &mut Context<'_>) -> Result<()> {
    let targets = if args.all {
        if global.state.state_file.is_some() {
            return Err(Failure::usage("--all removes every session in the state directory: drop --state-file"));
        }
        if ctx.get_var(STORE_VAR).is_some_and(|v| !v.is_empty()) {
            return Err(Failure::usage(format!(
                "--all removes every session file in the state directory, not a store named by {STORE_VAR}: \
                 drop --all to clear the session of {STORE_VAR}, or unset it"
            )));
        }
        let dir = state_dir(ctx).ok_or_else(|| Failure::usage("no state directory: set XDG_STATE_HOME or HOME"))?;
        let mut files = session_files(&dir)?;
        files.sort();
        if files.is_empty() {
            return write_out(ctx, format!("nothing to remove: no session in {}\n", dir.display()).as_bytes());
        }
        files
    } else {
        let file = match &global.state.state_file {
            Some(file) => file.clone(),
            None => {
                let connection = Connection::resolve(global, ctx)?;
                let opened = connection
                    .open_store(ctx)?
                    .ok_or_else(|| Failure::usage("--no-state: no session file to remove"))?;
                match opened.path() {
                    Some(path) => path.to_path_buf(),
                    // A Redis store: its session key, which every host sharing it loses.
                    None => {
                        let line = match opened.remove()?.as_slice() {
                            [] => format!("nothing to remove: no session stored at {}\n", opened.location),
                            _ => format!("removed the session at {}\n", opened.location),
                        };
                        return write_out(ctx, line.as_bytes());
                    }
                }
            }
        };
        let lock = lock_file_of(&file);
        let present: Vec<PathBuf> = [file.clone(), lock].into_iter().filter(|f| f.symlink_metadata().is_ok()).collect();
        if present.is_empty() {
            return write_out(ctx, format!("nothing to remove: no session stored at {}\n", file.display()).as_bytes());
        }
        present
    };
    for file in targets {
        remove(&file)?;
        write_out(ctx, format!("removed {}\n", file.display()).as_bytes())?;
    }
    Ok(())
}

/// ttauth's files directly in `dir` (none if it does not exist).
fn session_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Failure::other(format!("cannot list {}: {e}", dir.display()))),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Failure::other(format!("cannot list {}: {e}", dir.display())))?;
        if entry.file_name().to_str().is_some_and(is_session_file) {
            files.push(entry.path());
        }
    }
    Ok(files)
}

/// Removes `file` (a symlink itself, never what it points to); gone already is fine.
fn remove(file: &Path) -> Result<()> {
    match std::fs::remove_file(file) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Failure::other(format!("cannot remove {}: {e}", file.display()))),
    }
}

//! What the file store trusts on disk (SPEC.md §3a), checked the way ssh checks its keys: a
//! session file is a regular file owned by the user, open to nobody else, in a directory no
//! other user can write to; anything else is refused with what to fix ([`StoreError::Insecure`]).
//!
//! Files are opened without following a symbolic link and without blocking (a FIFO put in the
//! file's place cannot hang a caller), and checked on the open descriptor, so nothing can be
//! swapped in between the check and the use. A session file is read up to a limit only.
//!
//! On other platforms only the file type and the size are checked.

use std::fs::{self, File, Metadata};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::{Insecurity, StoreError};

/// The largest session file read; a snapshot is a few hundred bytes.
pub(super) const MAX_SNAPSHOT_BYTES: u64 = 1 << 20;

/// The directory a session file at `path` lives in.
pub(super) fn directory_of(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Checks the directory holding the session file; `Ok(false)` when it does not exist (yet).
pub(super) fn check_directory(dir: &Path) -> Result<bool, StoreError> {
    let metadata = match fs::metadata(dir) {
        Ok(metadata) => metadata,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(source) => return Err(StoreError::Io { operation: "inspect the directory", path: dir.into(), source }),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        check_owner(dir, &metadata)?;
        if metadata.mode() & 0o022 != 0 {
            return Err(insecure(dir, Insecurity::DirectoryWritableByOthers));
        }
    }
    #[cfg(not(unix))]
    let _ = metadata;
    Ok(true)
}

/// Opens (creating it if need be) the lock file, owner-only, and checks it: a regular file of
/// ours that nobody else can open, since whoever can open it can hold the lock.
pub(super) fn open_lock_file(path: &Path) -> Result<File, StoreError> {
    let file = open_lock_file_no_follow(path).map_err(|err| open_error(path, "open the lock file", err))?;
    let metadata = file.metadata().map_err(io_error(path, "inspect the lock file"))?;
    check_file(path, &metadata, 0o077)?;
    Ok(file)
}

/// Opens the session file for reading and checks it: a regular file of ours that nobody else
/// can write to. `Ok(None)` when there is none.
pub(super) fn open_snapshot(path: &Path) -> Result<Option<(File, Metadata)>, StoreError> {
    let file = match open_snapshot_no_follow(path) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(open_error(path, "read", err)),
    };
    let metadata = file.metadata().map_err(io_error(path, "inspect"))?;
    // SPEC.md §3a: mode 0600. A file others can read may already have given the tokens away:
    // say so, rather than carry on quietly.
    check_file(path, &metadata, 0o077)?;
    Ok(Some((file, metadata)))
}

/// Reads a session file opened by [`open_snapshot`], never more than [`MAX_SNAPSHOT_BYTES`].
pub(super) fn read_snapshot(path: &Path, file: File, metadata: &Metadata) -> Result<Vec<u8>, StoreError> {
    let too_large = || StoreError::TooLarge { path: path.into(), limit: MAX_SNAPSHOT_BYTES };
    if metadata.len() > MAX_SNAPSHOT_BYTES {
        return Err(too_large());
    }
    let expected = usize::try_from(metadata.len()).unwrap_or(0);
    let mut bytes = Vec::with_capacity(expected);
    // One byte past the limit tells a file that grew since it was inspected.
    file.take(MAX_SNAPSHOT_BYTES + 1).read_to_end(&mut bytes).map_err(io_error(path, "read"))?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > MAX_SNAPSHOT_BYTES {
        return Err(too_large());
    }
    Ok(bytes)
}

/// A regular file owned by us, without any of `others_mask`'s permission bits.
fn check_file(path: &Path, metadata: &Metadata, others_mask: u32) -> Result<(), StoreError> {
    if !metadata.file_type().is_file() {
        return Err(insecure(path, Insecurity::NotARegularFile));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        check_owner(path, metadata)?;
        if metadata.mode() & others_mask != 0 {
            return Err(insecure(path, Insecurity::AccessibleToOthers));
        }
    }
    #[cfg(not(unix))]
    let _ = others_mask;
    Ok(())
}

#[cfg(unix)]
fn check_owner(path: &Path, metadata: &Metadata) -> Result<(), StoreError> {
    use std::os::unix::fs::MetadataExt;
    // The effective uid: the one that owns the files this process creates.
    if metadata.uid() != rustix::process::geteuid().as_raw() {
        return Err(insecure(path, Insecurity::OwnedByAnotherUser));
    }
    Ok(())
}

/// An open that failed: a symbolic link in the file's place is named as such.
fn open_error(path: &Path, operation: &'static str, err: io::Error) -> StoreError {
    match fs::symlink_metadata(path) {
        Ok(metadata) if metadata.file_type().is_symlink() => insecure(path, Insecurity::SymbolicLink),
        _ => StoreError::Io { operation, path: path.into(), source: err },
    }
}

fn insecure(path: &Path, problem: Insecurity) -> StoreError {
    StoreError::Insecure { path: path.into(), problem }
}

fn io_error(path: &Path, operation: &'static str) -> impl FnOnce(io::Error) -> StoreError {
    let path = PathBuf::from(path);
    move |source| StoreError::Io { operation, path, source }
}

#[cfg(unix)]
fn open_lock_file_no_follow(path: &Path) -> io::Result<File> {
    use rustix::fs::{Mode, OFlags};
    let flags = OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    Ok(File::from(rustix::fs::open(path, flags, Mode::RUSR | Mode::WUSR)?))
}

#[cfg(unix)]
fn open_snapshot_no_follow(path: &Path) -> io::Result<File> {
    use rustix::fs::{Mode, OFlags};
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    Ok(File::from(rustix::fs::open(path, flags, Mode::empty())?))
}

/// Elsewhere a link is refused before opening (a narrow race remains); the caller names it.
#[cfg(not(unix))]
fn refuse_link(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(metadata) if metadata.file_type().is_symlink() => Err(io::Error::other("a symbolic link")),
        _ => Ok(()),
    }
}

#[cfg(not(unix))]
fn open_lock_file_no_follow(path: &Path) -> io::Result<File> {
    refuse_link(path)?;
    fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)
}

#[cfg(not(unix))]
fn open_snapshot_no_follow(path: &Path) -> io::Result<File> {
    refuse_link(path)?;
    File::open(path)
}

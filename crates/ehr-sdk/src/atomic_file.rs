//! Small files written so that a crash leaves either the old file or the new one, never a
//! torn one: a temporary file, fsync, rename, then an fsync of the directory (without which
//! the rename itself may not survive a power loss).

use std::fs;
use std::io::{self, Write};
use std::path::Path;

/// Writes `bytes` to `dir/name` atomically and durably, creating `dir` if needed.
pub(crate) fn write(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{name}.tmp"));
    let written = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, dir.join(name))?;
        fs::File::open(dir)?.sync_all()
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

/// Removes `dir/name` durably; an absent file is not an error.
pub(crate) fn remove(dir: &Path, name: &str) -> io::Result<()> {
    match fs::remove_file(dir.join(name)) {
        Ok(()) => fs::File::open(dir).and_then(|dir| dir.sync_all()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

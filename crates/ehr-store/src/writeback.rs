//! Early writeback of a blob being written.
//!
//! A blob is durable only after the final `fsync`. Left alone, Linux starts writing dirty
//! pages to disk only past `dirty_background_ratio` (10 % of memory: gigabytes) or after 30 s,
//! so a 1 GiB blob sits in the page cache until that `fsync`, which then waits for the whole
//! gigabyte: the disk idles while we encrypt and hash, and we idle while it writes. Asking the
//! kernel to start writing each completed window (`sync_file_range(SYNC_FILE_RANGE_WRITE)`,
//! which does not wait) overlaps the two, so a large `put` takes about as long as the slower
//! of them instead of their sum. Durability is unchanged: it still rests on the `fsync`.
//!
//! Large blobs normally switch to `O_DIRECT` before the first window completes (see
//! [`crate::blob_file`]); this is what keeps a file system without direct I/O from writing
//! everything at the end.

use std::fs::File;

/// Bytes per writeback window.
const WINDOW: u64 = 8 << 20;

/// Tracks how much of a file has been written and handed to the kernel for writeback.
#[derive(Debug, Default)]
pub(crate) struct Writeback {
    written: u64,
    started: u64,
}

/// A byte range of the file whose writeback should start now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Range {
    pub(crate) offset: u64,
    pub(crate) len: u64,
}

impl Writeback {
    /// Records `len` more bytes appended; returns the range to start writing back once at
    /// least a window has accumulated since the last one.
    pub(crate) fn wrote(&mut self, len: u64) -> Option<Range> {
        self.written += len;
        let pending = self.written - self.started;
        (pending >= WINDOW).then(|| {
            let range = Range { offset: self.started, len: pending };
            self.started = self.written;
            range
        })
    }
}

/// Starts writing `range` of `file` back to disk without waiting for it. Advisory: on other
/// systems, or if the kernel refuses, nothing happens and the final `fsync` does all the work.
pub(crate) fn start(file: &File, range: Range) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let (Ok(offset), Ok(len)) = (i64::try_from(range.offset), i64::try_from(range.len)) else {
            return;
        };
        // SAFETY: the descriptor is open for the whole call (we hold `file`), and
        // sync_file_range only reads its integer arguments.
        let _advisory = unsafe {
            libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE)
        };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, range);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_per_completed_window_covering_every_byte_once() {
        let mut wb = Writeback::default();
        let mut ranges = Vec::new();
        for _ in 0..100 {
            if let Some(range) = wb.wrote(256 * 1024 + 7) {
                ranges.push(range);
            }
        }
        assert!(ranges.len() >= 2);
        let mut next = 0;
        for range in &ranges {
            assert_eq!(range.offset, next, "ranges are contiguous");
            assert!(range.len >= WINDOW, "no range smaller than a window");
            next += range.len;
        }
        assert!(100 * (256 * 1024 + 7) - next < WINDOW, "at most a window is left to the fsync");
    }

    #[test]
    fn starting_writeback_of_a_real_file_keeps_its_bytes() {
        use std::io::{Read, Seek, Write};
        let mut file = tempfile::tempfile().unwrap();
        let bytes: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
        file.write_all(&bytes).unwrap();
        start(&file, Range { offset: 0, len: bytes.len() as u64 });
        start(&file, Range { offset: u64::MAX / 2, len: 1 }); // out of range: ignored
        file.sync_all().unwrap();
        let mut back = Vec::new();
        file.rewind().unwrap();
        file.read_to_end(&mut back).unwrap();
        assert_eq!(back, bytes);
    }
}

//! The data directory lock: one process per directory.

use super::StoreError;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// An exclusive lock on a data directory, held until dropped or the process dies (the
/// kernel releases it on SIGKILL too, so a crash never leaves a stale lock behind).
#[derive(Debug)]
pub struct DataDirLock {
    dir: PathBuf,
    /// Kept open: closing the file would release the lock.
    _file: File,
}

impl DataDirLock {
    /// Creates `dir` if needed and locks it.
    ///
    /// # Errors
    /// [`StoreError::Locked`] naming the holder if another process has it, or
    /// [`StoreError::Io`].
    pub fn acquire(dir: &Path) -> Result<Self, StoreError> {
        let io = |source| StoreError::Io {
            dir: dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let path = dir.join("LOCK");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        // A holder that has died can leave the lock held for a moment: a child it was
        // forking when it was killed shares the lock until that child execs or exits. Wait
        // for it, briefly; a holder that is alive is another process using the directory.
        let started = std::time::Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {
                    let mut holder = String::new();
                    let _ = file.seek(SeekFrom::Start(0));
                    let _ = file.read_to_string(&mut holder);
                    if !holder_alive(&holder)
                        && started.elapsed() < std::time::Duration::from_secs(5)
                    {
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        continue;
                    }
                    let holder = holder.trim().replace('\n', ", ");
                    return Err(StoreError::Locked {
                        dir: dir.to_path_buf(),
                        holder: if holder.is_empty() {
                            "holder unknown".to_string()
                        } else {
                            holder
                        },
                    });
                }
                Err(TryLockError::Error(e)) => return Err(io(e)),
            }
        }
        let cmd = std::env::args().collect::<Vec<_>>().join(" ");
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        writeln!(file, "pid {}\ncommand {cmd}", std::process::id()).map_err(io)?;
        file.sync_all().map_err(io)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            _file: file,
        })
    }

    /// Returns the locked directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Whether the process the lock file names (`pid N` on its first line) is still running.
/// Unknown holders count as alive.
fn holder_alive(holder: &str) -> bool {
    let pid = holder
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("pid "))
        .and_then(|p| p.trim().parse::<u32>().ok());
    match pid {
        Some(pid) => Path::new(&format!("/proc/{pid}")).exists(),
        None => true,
    }
}

//! caseledger change (PATCHES.md §8): what sled creates is private to its owner. A database
//! holds personal data; a file created 0644 under a directory created 0755 (the usual umask)
//! could be read by any user of the machine.

use std::fs::{DirBuilder, OpenOptions};
use std::io;
use std::path::Path;

/// Mode of every directory sled creates.
pub(crate) const DIR_MODE: u32 = 0o700;
/// Mode of every file sled creates.
pub(crate) const FILE_MODE: u32 = 0o600;

/// `std::fs::create_dir_all`, creating each missing directory with [`DIR_MODE`].
pub(crate) fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let mut builder = DirBuilder::new();
    let _ = builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        let _ = builder.mode(DIR_MODE);
    }
    builder.create(path)
}

/// Options that create a missing file with [`FILE_MODE`].
pub(crate) fn file_options() -> OpenOptions {
    #[allow(unused_mut)]
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let _ = options.mode(FILE_MODE);
    }
    options
}

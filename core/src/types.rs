//! Plain data returned by store operations, in a Rust form (for plugin and
//! host code) and a `#[repr(C)]` form (for the boundary).

use crate::ffi::{FfiBuf, FfiPair, FfiVec};

/// What a plugin can do. Capabilities are data: callers read them, they
/// never probe by calling and catching `Unsupported`.
///
/// They cross the boundary as bits ([`Capabilities::to_bits`]), so a new
/// capability is a new field here and the next free bit, and a host ignores
/// bits it does not know. Write a plugin's capabilities from a constant
/// (`Capabilities { multipart: true, ..Capabilities::FILESYSTEM }`), so a
/// field added later does not break its source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// `stat` works.
    pub stat: bool,
    /// `list` works.
    pub list: bool,
    /// `read` works.
    pub read: bool,
    /// `read` honours byte ranges without reading the skipped bytes.
    pub read_range: bool,
    /// `write` works.
    pub write: bool,
    /// `delete` works.
    pub delete: bool,
    /// `multipart_*` works (presigned part uploads).
    pub multipart: bool,
    /// Directories exist on their own (an empty directory can be listed).
    pub empty_dirs: bool,
    /// `presign_read` works (a client can read a file from the backend
    /// without passing through the host).
    pub presigned_read: bool,
    /// `local_path` works: files are on this machine's file system, and the
    /// host may read them there directly (ABI 3.1).
    pub local_files: bool,
    /// `rename` works: a file moves onto another name within the store,
    /// atomically, without its bytes being copied (ABI 3.2).
    pub rename: bool,
}

/// The bit of each capability, in the order they were added. Never reuse or
/// renumber one.
pub mod cap_bits {
    /// [`super::Capabilities::stat`].
    pub const STAT: u64 = 1 << 0;
    /// [`super::Capabilities::list`].
    pub const LIST: u64 = 1 << 1;
    /// [`super::Capabilities::read`].
    pub const READ: u64 = 1 << 2;
    /// [`super::Capabilities::read_range`].
    pub const READ_RANGE: u64 = 1 << 3;
    /// [`super::Capabilities::write`].
    pub const WRITE: u64 = 1 << 4;
    /// [`super::Capabilities::delete`].
    pub const DELETE: u64 = 1 << 5;
    /// [`super::Capabilities::multipart`].
    pub const MULTIPART: u64 = 1 << 6;
    /// [`super::Capabilities::empty_dirs`].
    pub const EMPTY_DIRS: u64 = 1 << 7;
    /// [`super::Capabilities::presigned_read`].
    pub const PRESIGNED_READ: u64 = 1 << 8;
    /// [`super::Capabilities::local_files`] (ABI 3.1).
    pub const LOCAL_FILES: u64 = 1 << 9;
    /// [`super::Capabilities::rename`] (ABI 3.2).
    pub const RENAME: u64 = 1 << 10;
    /// Every bit this `arca-core` knows.
    pub const KNOWN: u64 = (1 << 11) - 1;
}

impl Capabilities {
    /// Nothing at all: the base for a plugin that can do little.
    pub const NONE: Self = Self {
        stat: false,
        list: false,
        read: false,
        read_range: false,
        write: false,
        delete: false,
        multipart: false,
        empty_dirs: false,
        presigned_read: false,
        local_files: false,
        rename: false,
    };

    /// Everything but multipart, presigned reads, local files and rename: a full
    /// filesystem-like store. Others are written from it:
    /// `Capabilities { empty_dirs: false, ..Capabilities::FILESYSTEM }`.
    pub const FILESYSTEM: Self = Self {
        stat: true,
        list: true,
        read: true,
        read_range: true,
        write: true,
        delete: true,
        multipart: false,
        empty_dirs: true,
        presigned_read: false,
        local_files: false,
        rename: false,
    };

    /// The bits that cross the boundary.
    pub const fn to_bits(self) -> u64 {
        use cap_bits::*;
        let flags = [
            (self.stat, STAT),
            (self.list, LIST),
            (self.read, READ),
            (self.read_range, READ_RANGE),
            (self.write, WRITE),
            (self.delete, DELETE),
            (self.multipart, MULTIPART),
            (self.empty_dirs, EMPTY_DIRS),
            (self.presigned_read, PRESIGNED_READ),
            (self.local_files, LOCAL_FILES),
            (self.rename, RENAME),
        ];
        let mut bits = 0;
        let mut i = 0;
        while i < flags.len() {
            if flags[i].0 {
                bits |= flags[i].1;
            }
            i += 1;
        }
        bits
    }

    /// Reads bits; unknown ones are ignored.
    pub const fn from_bits(bits: u64) -> Self {
        use cap_bits::*;
        Self {
            stat: bits & STAT != 0,
            list: bits & LIST != 0,
            read: bits & READ != 0,
            read_range: bits & READ_RANGE != 0,
            write: bits & WRITE != 0,
            delete: bits & DELETE != 0,
            multipart: bits & MULTIPART != 0,
            empty_dirs: bits & EMPTY_DIRS != 0,
            presigned_read: bits & PRESIGNED_READ != 0,
            local_files: bits & LOCAL_FILES != 0,
            rename: bits & RENAME != 0,
        }
    }
}

/// A file or directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileInfo {
    /// In a listing: the entry's name (one segment). From `stat`: the path
    /// relative to the store root (empty for the root itself).
    pub path: String,
    /// Whether this is a directory (or a prefix).
    pub is_dir: bool,
    /// Size in bytes; 0 for directories.
    pub size: u64,
    /// Last modification, milliseconds since the Unix epoch, if known.
    pub modified_ms: Option<i64>,
}

impl FileInfo {
    /// Converts into the FFI form.
    pub fn into_ffi(self) -> FfiFileInfo {
        FfiFileInfo {
            path: FfiBuf::from_string(self.path),
            is_dir: self.is_dir,
            size: self.size,
            has_modified: self.modified_ms.is_some(),
            modified_ms: self.modified_ms.unwrap_or(0),
        }
    }
}

/// The FFI form of [`FileInfo`].
#[repr(C)]
#[derive(Debug)]
pub struct FfiFileInfo {
    /// See [`FileInfo::path`].
    pub path: FfiBuf,
    /// See [`FileInfo::is_dir`].
    pub is_dir: bool,
    /// See [`FileInfo::size`].
    pub size: u64,
    /// Whether `modified_ms` is meaningful.
    pub has_modified: bool,
    /// See [`FileInfo::modified_ms`].
    pub modified_ms: i64,
}

impl FfiFileInfo {
    /// Converts back.
    pub fn into_info(self) -> FileInfo {
        FileInfo {
            path: self.path.to_string_lossy(),
            is_dir: self.is_dir,
            size: self.size,
            modified_ms: self.has_modified.then_some(self.modified_ms),
        }
    }
}

/// One page of a directory listing: the immediate children of a directory,
/// sorted by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListPage {
    /// The entries of this page.
    pub entries: Vec<FileInfo>,
    /// Pass this back to get the next page; `None` when this is the last.
    pub next_token: Option<String>,
}

impl ListPage {
    /// One page of a listing from all of a directory's entries, sorted by
    /// name: the entries strictly after `token`, at most `page_size` of them,
    /// and the token of the next page if more remain.
    pub fn from_sorted(entries: impl IntoIterator<Item = FileInfo>, token: Option<&str>, page_size: usize) -> Self {
        let page_size = page_size.max(1);
        let mut entries: Vec<FileInfo> = entries
            .into_iter()
            .filter(|e| token.is_none_or(|t| e.path.as_str() > t))
            .take(page_size.saturating_add(1))
            .collect();
        let more = entries.len() > page_size;
        entries.truncate(page_size);
        let next_token = if more {
            entries.last().map(|e| e.path.clone())
        } else {
            None
        };
        Self { entries, next_token }
    }

    /// Converts into the FFI form.
    pub fn into_ffi(self) -> FfiListPage {
        FfiListPage {
            entries: self
                .entries
                .into_iter()
                .map(FileInfo::into_ffi)
                .collect::<Vec<_>>()
                .into(),
            has_next: self.next_token.is_some(),
            next_token: FfiBuf::from_string(self.next_token.unwrap_or_default()),
        }
    }
}

/// The FFI form of [`ListPage`].
#[repr(C)]
#[derive(Debug)]
pub struct FfiListPage {
    /// The entries.
    pub entries: FfiVec<FfiFileInfo>,
    /// Whether there is a next page.
    pub has_next: bool,
    /// The token for the next page.
    pub next_token: FfiBuf,
}

impl FfiListPage {
    /// Converts back.
    pub fn into_page(self) -> ListPage {
        ListPage {
            entries: self
                .entries
                .into_vec()
                .into_iter()
                .map(FfiFileInfo::into_info)
                .collect(),
            next_token: self.has_next.then(|| self.next_token.to_string_lossy()),
        }
    }
}

/// A byte range of a read: `start` inclusive, `end` exclusive (`None`: to the
/// end of the file).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRange {
    /// First byte.
    pub start: u64,
    /// One past the last byte, if bounded.
    pub end: Option<u64>,
}

/// The FFI form of an optional [`ByteRange`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct FfiRange {
    /// Whether a range was requested at all.
    pub present: bool,
    /// First byte.
    pub start: u64,
    /// Whether `end` is meaningful.
    pub has_end: bool,
    /// One past the last byte.
    pub end: u64,
}

impl FfiRange {
    /// Converts from Rust.
    pub fn from_range(r: Option<ByteRange>) -> Self {
        match r {
            None => Self::default(),
            Some(r) => Self {
                present: true,
                start: r.start,
                has_end: r.end.is_some(),
                end: r.end.unwrap_or(0),
            },
        }
    }

    /// Converts to Rust.
    pub fn to_range(self) -> Option<ByteRange> {
        self.present.then_some(ByteRange {
            start: self.start,
            end: self.has_end.then_some(self.end),
        })
    }
}

/// A presigned URL for one part of a multipart upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PresignedPart {
    /// 1-based part number.
    pub part_number: u32,
    /// Where the client PUTs the part.
    pub url: String,
    /// Headers the client must send with it.
    pub headers: Vec<(String, String)>,
}

/// A started multipart upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MultipartUpload {
    /// The backend's upload id (may be empty where the backend has none).
    pub upload_id: String,
    /// One URL per part.
    pub parts: Vec<PresignedPart>,
}

/// A URL that reads one file straight from the backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PresignedUrl {
    /// Where the client sends its `GET` (a `Range` header is allowed).
    pub url: String,
    /// Headers the client must send with it.
    pub headers: Vec<(String, String)>,
}

/// The FFI form of [`PresignedUrl`].
#[repr(C)]
#[derive(Debug)]
pub struct FfiPresignedUrl {
    /// See [`PresignedUrl::url`].
    pub url: FfiBuf,
    /// See [`PresignedUrl::headers`].
    pub headers: FfiVec<FfiPair>,
}

impl PresignedUrl {
    /// Converts into the FFI form.
    pub fn into_ffi(self) -> FfiPresignedUrl {
        FfiPresignedUrl {
            url: FfiBuf::from_string(self.url),
            headers: self
                .headers
                .into_iter()
                .map(|(k, v)| FfiPair::new(k, v))
                .collect::<Vec<_>>()
                .into(),
        }
    }
}

impl FfiPresignedUrl {
    /// Converts back.
    pub fn into_url(self) -> PresignedUrl {
        PresignedUrl {
            url: self.url.to_string_lossy(),
            headers: self.headers.as_slice().iter().map(FfiPair::to_strings).collect(),
        }
    }
}

/// A part the client uploaded, as reported to `multipart_complete`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompletedPart {
    /// 1-based part number.
    pub part_number: u32,
    /// The ETag the backend returned for the part.
    pub etag: String,
    /// The URL the part was uploaded to (some backends need it).
    pub url: String,
}

/// The FFI form of [`PresignedPart`].
#[repr(C)]
#[derive(Debug)]
pub struct FfiPresignedPart {
    /// See [`PresignedPart::part_number`].
    pub part_number: u32,
    /// See [`PresignedPart::url`].
    pub url: FfiBuf,
    /// See [`PresignedPart::headers`].
    pub headers: FfiVec<FfiPair>,
}

/// The FFI form of [`MultipartUpload`].
#[repr(C)]
#[derive(Debug)]
pub struct FfiMultipartUpload {
    /// See [`MultipartUpload::upload_id`].
    pub upload_id: FfiBuf,
    /// See [`MultipartUpload::parts`].
    pub parts: FfiVec<FfiPresignedPart>,
}

impl MultipartUpload {
    /// Converts into the FFI form.
    pub fn into_ffi(self) -> FfiMultipartUpload {
        FfiMultipartUpload {
            upload_id: FfiBuf::from_string(self.upload_id),
            parts: self
                .parts
                .into_iter()
                .map(|p| FfiPresignedPart {
                    part_number: p.part_number,
                    url: FfiBuf::from_string(p.url),
                    headers: p
                        .headers
                        .into_iter()
                        .map(|(k, v)| FfiPair::new(k, v))
                        .collect::<Vec<_>>()
                        .into(),
                })
                .collect::<Vec<_>>()
                .into(),
        }
    }
}

impl FfiMultipartUpload {
    /// Converts back.
    pub fn into_upload(self) -> MultipartUpload {
        MultipartUpload {
            upload_id: self.upload_id.to_string_lossy(),
            parts: self
                .parts
                .as_slice()
                .iter()
                .map(|p| PresignedPart {
                    part_number: p.part_number,
                    url: p.url.to_string_lossy(),
                    headers: p.headers.as_slice().iter().map(FfiPair::to_strings).collect(),
                })
                .collect(),
        }
    }
}

/// The FFI form of [`CompletedPart`] (borrowed for one call).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FfiCompletedPart<'a> {
    /// See [`CompletedPart::part_number`].
    pub part_number: u32,
    /// See [`CompletedPart::etag`].
    pub etag: crate::ffi::FfiStr<'a>,
    /// See [`CompletedPart::url`].
    pub url: crate::ffi::FfiStr<'a>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_bits_round_trip_and_unknown_bits_are_ignored() {
        let c = Capabilities {
            multipart: true,
            empty_dirs: false,
            ..Capabilities::FILESYSTEM
        };
        assert_eq!(Capabilities::from_bits(c.to_bits()), c);
        assert_eq!(Capabilities::from_bits(c.to_bits() | 1 << 63), c);
        assert_eq!(Capabilities::NONE.to_bits(), 0);
        assert_eq!(
            Capabilities::from_bits(cap_bits::KNOWN).to_bits(),
            cap_bits::KNOWN,
            "every known bit is a field"
        );
    }
}

//! Plain `#[repr(C)]` containers that cross the plugin boundary.
//!
//! Every owned container carries the function that frees it, so memory is
//! always released by the side (and the allocator) that allocated it.

use std::ffi::c_void;
use std::marker::PhantomData;
use std::ptr::NonNull;

/// A borrowed UTF-8 string, valid for the duration of one call.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FfiStr<'a> {
    ptr: *const u8,
    len: usize,
    _life: PhantomData<&'a str>,
}

// SAFETY: an `FfiStr` is a `&str` in disguise.
unsafe impl Send for FfiStr<'_> {}
// SAFETY: as above.
unsafe impl Sync for FfiStr<'_> {}

impl<'a> FfiStr<'a> {
    /// Borrows a Rust string.
    pub const fn new(s: &'a str) -> Self {
        Self {
            ptr: s.as_ptr(),
            len: s.len(),
            _life: PhantomData,
        }
    }

    /// Returns the string, or `None` if the bytes are not UTF-8 (a foreign
    /// plugin may hand over anything).
    pub fn to_str(&self) -> Option<&'a str> {
        if self.len == 0 {
            return Some("");
        }
        // SAFETY: the constructor took the pointer and length from a `&'a str`
        // or `&'a [u8]`; we re-validate UTF-8 because the producer is foreign.
        let bytes = unsafe { std::slice::from_raw_parts(self.ptr, self.len) };
        std::str::from_utf8(bytes).ok()
    }

    /// Lossy conversion for messages.
    pub fn to_string_lossy(&self) -> String {
        match self.to_str() {
            Some(s) => s.to_owned(),
            None => "<invalid utf-8>".to_owned(),
        }
    }
}

impl<'a> From<&'a str> for FfiStr<'a> {
    fn from(s: &'a str) -> Self {
        Self::new(s)
    }
}

/// A borrowed slice, valid for the duration of one call (or `'static` for
/// plugin metadata).
#[repr(C)]
#[derive(Debug)]
pub struct FfiSlice<'a, T> {
    ptr: *const T,
    len: usize,
    _life: PhantomData<&'a [T]>,
}

impl<T> Clone for FfiSlice<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for FfiSlice<'_, T> {}

// SAFETY: an `FfiSlice` is a `&[T]` in disguise.
unsafe impl<T: Sync> Send for FfiSlice<'_, T> {}
// SAFETY: as above.
unsafe impl<T: Sync> Sync for FfiSlice<'_, T> {}

impl<'a, T> FfiSlice<'a, T> {
    /// Borrows a Rust slice.
    pub const fn new(s: &'a [T]) -> Self {
        Self {
            ptr: s.as_ptr(),
            len: s.len(),
            _life: PhantomData,
        }
    }

    /// Returns the slice.
    pub fn as_slice(&self) -> &'a [T] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: built from a `&'a [T]` by `new`.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

/// An owned byte buffer with its own destructor: a chunk of file data, a
/// string, or any owner of bytes (a `Vec<u8>`, a `bytes::Bytes`, …).
///
/// The consumer may keep it as long as it likes, move it to another thread
/// and drop it there; dropping calls the producer's destructor.
#[repr(C)]
pub struct FfiBuf {
    ptr: *const u8,
    len: usize,
    owner: *mut c_void,
    drop_owner: Option<unsafe extern "C" fn(*mut c_void)>,
}

// SAFETY: owners are required to be `Send + Sync` by every constructor.
unsafe impl Send for FfiBuf {}
// SAFETY: the buffer is immutable.
unsafe impl Sync for FfiBuf {}

unsafe extern "C" fn drop_boxed<T>(owner: *mut c_void) {
    // Dropping user data must never unwind into the caller.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: `owner` came from `Box::into_raw(Box<T>)` in `from_owner`.
        drop(unsafe { Box::from_raw(owner.cast::<T>()) });
    }));
}

impl FfiBuf {
    /// An empty buffer.
    pub const fn empty() -> Self {
        Self {
            ptr: NonNull::<u8>::dangling().as_ptr(),
            len: 0,
            owner: std::ptr::null_mut(),
            drop_owner: None,
        }
    }

    /// A buffer over static bytes.
    pub const fn from_static(bytes: &'static [u8]) -> Self {
        Self {
            ptr: bytes.as_ptr(),
            len: bytes.len(),
            owner: std::ptr::null_mut(),
            drop_owner: None,
        }
    }

    /// Wraps any owner of bytes without copying them.
    pub fn from_owner<T: AsRef<[u8]> + Send + Sync + 'static>(owner: T) -> Self {
        let boxed = Box::new(owner);
        let slice: &[u8] = (*boxed).as_ref();
        let (ptr, len) = (slice.as_ptr(), slice.len());
        Self {
            ptr,
            len,
            owner: Box::into_raw(boxed).cast(),
            drop_owner: Some(drop_boxed::<T>),
        }
    }

    /// Takes a vector without copying it.
    pub fn from_vec(v: Vec<u8>) -> Self {
        if v.is_empty() {
            return Self::empty();
        }
        Self::from_owner(v)
    }

    /// Copies a string into an owned buffer.
    pub fn from_string(s: String) -> Self {
        Self::from_vec(s.into_bytes())
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: the pointer and length describe bytes kept alive by `owner`
        // (or static), immutable while this buffer lives.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the buffer holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes as a string, lossily (invalid UTF-8 from a foreign plugin
    /// is replaced, never trusted).
    pub fn to_string_lossy(&self) -> String {
        String::from_utf8_lossy(self.as_bytes()).into_owned()
    }
}

impl AsRef<[u8]> for FfiBuf {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Drop for FfiBuf {
    fn drop(&mut self) {
        if let Some(f) = self.drop_owner.take() {
            // SAFETY: `f` is the destructor paired with `owner` at construction
            // and is called exactly once.
            unsafe { f(self.owner) }
        }
    }
}

impl std::fmt::Debug for FfiBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FfiBuf").field("len", &self.len).finish()
    }
}

impl Default for FfiBuf {
    fn default() -> Self {
        Self::empty()
    }
}

/// An owned vector of `T` with its own destructor.
#[repr(C)]
pub struct FfiVec<T> {
    ptr: *mut T,
    len: usize,
    cap: usize,
    drop_vec: Option<unsafe extern "C" fn(*mut T, usize, usize)>,
}

// SAFETY: an `FfiVec<T>` owns its elements like a `Vec<T>`.
unsafe impl<T: Send> Send for FfiVec<T> {}
// SAFETY: as above.
unsafe impl<T: Sync> Sync for FfiVec<T> {}

unsafe extern "C" fn drop_vec<T>(ptr: *mut T, len: usize, cap: usize) {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: the parts came from `Vec::into_raw_parts` equivalent in `From<Vec<T>>`.
        drop(unsafe { Vec::from_raw_parts(ptr, len, cap) });
    }));
}

impl<T> From<Vec<T>> for FfiVec<T> {
    fn from(v: Vec<T>) -> Self {
        let mut v = std::mem::ManuallyDrop::new(v);
        Self {
            ptr: v.as_mut_ptr(),
            len: v.len(),
            cap: v.capacity(),
            drop_vec: Some(drop_vec::<T>),
        }
    }
}

impl<T> FfiVec<T> {
    /// The elements.
    pub fn as_slice(&self) -> &[T] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: `ptr` and `len` describe initialised elements owned by `self`.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// Moves the elements out, in order, by reading them; the allocation is
    /// then freed by the producer's destructor with a length of zero.
    pub fn into_vec(mut self) -> Vec<T> {
        let mut out = Vec::with_capacity(self.len);
        for i in 0..self.len {
            // SAFETY: each element is read exactly once; `len` is then set to
            // zero so the producer's destructor does not drop them again.
            out.push(unsafe { std::ptr::read(self.ptr.add(i)) });
        }
        self.len = 0;
        out
    }
}

impl<T> Drop for FfiVec<T> {
    fn drop(&mut self) {
        if let Some(f) = self.drop_vec.take() {
            // SAFETY: paired destructor, called once.
            unsafe { f(self.ptr, self.len, self.cap) }
        }
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for FfiVec<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

/// A result that crosses the boundary.
#[repr(C, u8)]
#[derive(Debug)]
pub enum FfiResult<T> {
    /// Success.
    Ok(T),
    /// Failure.
    Err(crate::error::FfiError),
}

/// `()` for FFI results (a zero-sized type is not FFI-safe).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FfiUnit {
    _byte: u8,
}

/// A borrowed key/value pair (configuration entries).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FfiKv<'a> {
    /// The key.
    pub key: FfiStr<'a>,
    /// The value.
    pub value: FfiStr<'a>,
}

/// An owned key/value pair (error context, HTTP headers).
#[repr(C)]
#[derive(Debug)]
pub struct FfiPair {
    /// The key.
    pub key: FfiBuf,
    /// The value.
    pub value: FfiBuf,
}

impl FfiPair {
    /// Builds a pair from owned strings.
    pub fn new(key: String, value: String) -> Self {
        Self {
            key: FfiBuf::from_string(key),
            value: FfiBuf::from_string(value),
        }
    }

    /// Converts back to strings.
    pub fn to_strings(&self) -> (String, String) {
        (self.key.to_string_lossy(), self.value.to_string_lossy())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buf_roundtrip_and_drop() {
        let b = FfiBuf::from_vec(b"hello".to_vec());
        assert_eq!(b.as_bytes(), b"hello");
        let e = FfiBuf::from_vec(Vec::new());
        assert!(e.is_empty());
        assert_eq!(e.as_bytes(), b"");
    }

    #[test]
    fn vec_into_vec_moves_elements() {
        let v: FfiVec<FfiBuf> = vec![FfiBuf::from_string("a".into()), FfiBuf::from_string("bc".into())].into();
        assert_eq!(v.as_slice().len(), 2);
        let back = v.into_vec();
        assert_eq!(back[1].as_bytes(), b"bc");
    }
}

//! MLflow's MIME rules for downloads (`mlflow/utils/mime_type_utils.py`) and
//! the `Content-Disposition` header.

/// Extensions MLflow serves as `text/plain` (so a browser shows them).
const TEXT: &[&str] = &[
    "txt",
    "log",
    "err",
    "cfg",
    "conf",
    "cnf",
    "cf",
    "ini",
    "properties",
    "prop",
    "hocon",
    "toml",
    "yaml",
    "yml",
    "xml",
    "json",
    "js",
    "py",
    "py3",
    "csv",
    "tsv",
    "md",
    "rst",
    "ipynb",
];

/// Python's `mimetypes` defaults for the types artifacts commonly have.
const KNOWN: &[(&str, &str)] = &[
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("gif", "image/gif"),
    ("bmp", "image/bmp"),
    ("svg", "image/svg+xml"),
    ("tif", "image/tiff"),
    ("tiff", "image/tiff"),
    ("ico", "image/vnd.microsoft.icon"),
    ("webp", "image/webp"),
    ("pdf", "application/pdf"),
    ("html", "text/html"),
    ("htm", "text/html"),
    ("css", "text/css"),
    ("zip", "application/zip"),
    ("tar", "application/x-tar"),
    ("mp4", "video/mp4"),
    ("mp3", "audio/mpeg"),
    ("wav", "audio/x-wav"),
];

/// The `Content-Type` MLflow would send for a file name.
pub fn mime_type(name: &str) -> &'static str {
    // MLflow's own rule, case-sensitive: `MLmodel` and `mlproject` (so
    // `MLproject` falls through to the extension rules, as in MLflow).
    if name == "MLmodel" || name == "mlproject" {
        return "text/plain";
    }
    let Some((_, ext)) = name.rsplit_once('.') else {
        return "application/octet-stream";
    };
    let ext = ext.to_ascii_lowercase();
    if TEXT.contains(&ext.as_str()) {
        return "text/plain";
    }
    KNOWN
        .iter()
        .find(|(e, _)| *e == ext)
        .map_or("application/octet-stream", |(_, t)| t)
}

/// `attachment; filename=…`, with the RFC 5987 form for names that are not
/// plain ASCII.
pub fn content_disposition(name: &str) -> String {
    let plain = name.bytes().all(|b| b.is_ascii_graphic() || b == b' ') && !name.contains(['"', '\\', ';']);
    if plain {
        return format!("attachment; filename=\"{name}\"");
    }
    let mut enc = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            enc.push(char::from(b));
        } else {
            enc.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename*=UTF-8''{enc}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mlflow_cases() {
        assert_eq!(mime_type("a.txt"), "text/plain");
        assert_eq!(mime_type("b.pkl"), "application/octet-stream");
        assert_eq!(mime_type("c.png"), "image/png");
        assert_eq!(mime_type("d.pdf"), "application/pdf");
        assert_eq!(mime_type("MLmodel"), "text/plain");
        assert_eq!(mime_type("mlproject"), "text/plain");
        assert_eq!(mime_type("MLproject"), "application/octet-stream");
        assert_eq!(mime_type("metrics.JSON"), "text/plain");
        assert_eq!(mime_type("noext"), "application/octet-stream");
    }

    #[test]
    fn dispositions() {
        assert_eq!(content_disposition("a b.txt"), "attachment; filename=\"a b.txt\"");
        assert_eq!(content_disposition("ü.txt"), "attachment; filename*=UTF-8''%C3%BC.txt");
        assert_eq!(content_disposition("a\"b"), "attachment; filename*=UTF-8''a%22b");
    }
}

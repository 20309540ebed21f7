//! HDFS failures as Arca errors. The NameNode answers with a Java exception
//! class and message; the class decides the kind and whether a retry can
//! help. The plugin never retries: the host does, for errors marked
//! temporary.

use arca_core::{Error, ErrorKind};
use hdfs_native::HdfsError;

/// The kind of a NameNode exception class, and whether it is temporary.
fn classify(class: &str) -> (ErrorKind, bool) {
    let short = class.rsplit('.').next().unwrap_or(class);
    match short {
        "FileNotFoundException" => (ErrorKind::NOT_FOUND, false),
        "FileAlreadyExistsException" => (ErrorKind::ALREADY_EXISTS, false),
        "AccessControlException" | "AuthorizationException" => (ErrorKind::PERMISSION_DENIED, false),
        "ParentNotDirectoryException" | "PathIsNotEmptyDirectoryException" | "InvalidPathException" => {
            (ErrorKind::INVALID_INPUT, false)
        }
        "PathIsNotDirectoryException" => (ErrorKind::INVALID_INPUT, false),
        // The NameNode is starting or in maintenance, a standby answered, or
        // it asks for a retry: each passes.
        "SafeModeException" | "StandbyException" | "RetriableException" | "ObserverRetryOnActiveException" => {
            (ErrorKind::UNAVAILABLE, true)
        }
        // Another client holds the lease on the file (a concurrent writer of
        // the same temporary name, or one that died): it expires.
        "AlreadyBeingCreatedException"
        | "LeaseExpiredException"
        | "RecoveryInProgressException"
        | "NotReplicatedYetException" => (ErrorKind::UNAVAILABLE, true),
        "DSQuotaExceededException" | "NSQuotaExceededException" | "QuotaExceededException" => {
            (ErrorKind::PERMISSION_DENIED, false)
        }
        "UnsupportedOperationException" => (ErrorKind::UNSUPPORTED, false),
        _ => (ErrorKind::UNEXPECTED, false),
    }
}

/// A hint for what an exception means to the person reading the error.
fn hint(class: &str) -> &'static str {
    match class.rsplit('.').next().unwrap_or(class) {
        "SafeModeException" => " (the NameNode is in safe mode: it is starting, or an operator put it there)",
        "StandbyException" => " (a standby NameNode answered: name the HA name service, not one NameNode)",
        "InvalidPathException" => " (HDFS allows no `:` in a name, and no `.` or `..` component)",
        "AccessControlException" => {
            " (HDFS permissions: act as another user with HADOOP_USER_NAME, or MLFLOW_KERBEROS_USER on a secured \
             cluster)"
        }
        _ => "",
    }
}

/// `e`, met while trying to `action` `path` on `server`, as an [`Error`].
pub(crate) fn hdfs_error(action: &str, server: &str, path: &str, e: HdfsError) -> Error {
    let (kind, temporary, text) = match &e {
        HdfsError::FileNotFound(_) => (ErrorKind::NOT_FOUND, false, "no such file or directory".to_owned()),
        HdfsError::AlreadyExists(_) => (ErrorKind::ALREADY_EXISTS, false, e.to_string()),
        HdfsError::IsADirectoryError(_) => (ErrorKind::IS_A_DIRECTORY, false, "it is a directory".to_owned()),
        HdfsError::InvalidPath(_) | HdfsError::InvalidArgument(_) | HdfsError::UrlParseError(_) => {
            (ErrorKind::INVALID_INPUT, false, e.to_string())
        }
        HdfsError::RPCError(class, message) | HdfsError::FatalRPCError(class, message) => {
            let (kind, temporary) = classify(class);
            // The first line of a Java message; the rest is a stack trace.
            let first = message.lines().next().unwrap_or_default();
            (kind, temporary, format!("{class}: {first}{}", hint(class)))
        }
        // The connection to the NameNode or a DataNode failed or broke.
        HdfsError::IOError(io) => (ErrorKind::UNAVAILABLE, true, format!("connection failed: {io}")),
        HdfsError::DataTransferError(_) | HdfsError::ChecksumError | HdfsError::BlocksNotFound(_) => {
            (ErrorKind::UNAVAILABLE, true, e.to_string())
        }
        HdfsError::SASLError(_) | HdfsError::GSSAPIError(..) | HdfsError::NoSASLMechanism => (
            ErrorKind::UNAUTHENTICATED,
            false,
            format!(
                "{e} (Kerberos: a ticket in MLFLOW_KERBEROS_TICKET_CACHE or KRB5CCNAME, from kinit or a keytab, and \
                 libgssapi_krb5.so.2 installed)"
            ),
        ),
        HdfsError::UnsupportedFeature(_)
        | HdfsError::UnsupportedErasureCodingPolicy(_)
        | HdfsError::TrashNotEnabled => (ErrorKind::UNSUPPORTED, false, e.to_string()),
        _ => (ErrorKind::UNEXPECTED, false, e.to_string()),
    };
    let err = Error::new(kind, format!("cannot {action} {server}{path}: {text}")).with("path", path);
    if temporary { err.temporary() } else { err }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rpc(class: &str, msg: &str) -> Error {
        hdfs_error(
            "write",
            "hdfs://nn:1",
            "/a",
            HdfsError::RPCError(class.to_owned(), msg.to_owned()),
        )
    }

    #[test]
    fn exceptions_become_kinds() {
        let e = rpc(
            "org.apache.hadoop.hdfs.server.namenode.SafeModeException",
            "Cannot create file/a. Name node is in safe mode.\n\tat org.apache...",
        );
        assert_eq!((e.kind, e.temporary), (ErrorKind::UNAVAILABLE, true));
        assert!(
            e.message.contains("safe mode") && !e.message.contains("\tat "),
            "{}",
            e.message
        );
        let e = rpc(
            "org.apache.hadoop.ipc.StandbyException",
            "Operation category READ is not supported",
        );
        assert_eq!((e.kind, e.temporary), (ErrorKind::UNAVAILABLE, true));
        let e = rpc(
            "org.apache.hadoop.security.AccessControlException",
            "Permission denied: user=bob, access=WRITE",
        );
        assert_eq!((e.kind, e.temporary), (ErrorKind::PERMISSION_DENIED, false));
        assert!(e.message.contains("HADOOP_USER_NAME"));
        let e = rpc(
            "org.apache.hadoop.hdfs.protocol.AlreadyBeingCreatedException",
            "lease held",
        );
        assert_eq!((e.kind, e.temporary), (ErrorKind::UNAVAILABLE, true));
        let e = rpc("java.io.FileNotFoundException", "File does not exist: /a");
        assert_eq!(e.kind, ErrorKind::NOT_FOUND);
        let e = rpc("org.example.Strange", "?");
        assert_eq!((e.kind, e.temporary), (ErrorKind::UNEXPECTED, false));
    }

    #[test]
    fn transport_and_kerberos_failures() {
        let e = hdfs_error(
            "read",
            "hdfs://nn:1",
            "/a",
            HdfsError::IOError(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
        );
        assert_eq!((e.kind, e.temporary), (ErrorKind::UNAVAILABLE, true));
        let e = hdfs_error("read", "hdfs://nn:1", "/a", HdfsError::NoSASLMechanism);
        assert_eq!(e.kind, ErrorKind::UNAUTHENTICATED);
        assert!(e.message.contains("MLFLOW_KERBEROS_TICKET_CACHE"));
    }
}

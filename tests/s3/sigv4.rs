//! Just enough of SigV4 to ask radosgw directly what the plugin cannot be
//! asked: which multipart uploads are still open (ListMultipartUploads).
//! A signed `GET` with an empty body over a plain TCP connection.

use crate::support::S3;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut m) => {
            m.update(data.as_bytes());
            m.finalize().into_bytes().to_vec()
        }
        Err(e) => panic!("hmac: {e}"),
    }
}

/// RFC 3986 unreserved characters stay; everything else is `%XX`.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `(YYYYMMDD'T'HHMMSS'Z', YYYYMMDD)` for now, in UTC.
fn timestamps() -> (String, String) {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let date = format!("{year:04}{month:02}{day:02}");
    let time = format!("{}T{:02}{:02}{:02}Z", date, rem / 3600, rem % 3600 / 60, rem % 60);
    (time, date)
}

/// A signed `GET /{bucket}?{query}` straight to radosgw's plain endpoint;
/// returns the status and the (de-chunked) body.
pub fn get(s3: &S3, query: &[(&str, &str)]) -> (u16, String) {
    let host = s3.endpoint.trim_start_matches("http://").trim_end_matches('/');
    let (amz_date, date) = timestamps();
    let empty_sha = hex(&Sha256::digest(b""));
    let mut params: Vec<(String, String)> = query.iter().map(|(k, v)| (encode(k), encode(v))).collect();
    params.sort();
    let canonical_query = params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let path = format!("/{}", encode(&s3.bucket));
    let canonical = format!(
        "GET\n{path}\n{canonical_query}\nhost:{host}\nx-amz-content-sha256:{empty_sha}\nx-amz-date:{amz_date}\n\n\
         host;x-amz-content-sha256;x-amz-date\n{empty_sha}"
    );
    let scope = format!("{date}/{}/s3/aws4_request", s3.region);
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let mut key = hmac(format!("AWS4{}", s3.secret_key).as_bytes(), &date);
    for part in [s3.region.as_str(), "s3", "aws4_request"] {
        key = hmac(&key, part);
    }
    let signature = hex(&hmac(&key, &to_sign));
    let request = format!(
        "GET {path}?{canonical_query} HTTP/1.1\r\nHost: {host}\r\nx-amz-date: {amz_date}\r\n\
         x-amz-content-sha256: {empty_sha}\r\nAuthorization: AWS4-HMAC-SHA256 Credential={}/{scope}, \
         SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={signature}\r\nConnection: close\r\n\r\n",
        s3.access_key
    );
    let mut stream = match TcpStream::connect(host) {
        Ok(s) => s,
        Err(e) => panic!("cannot connect to radosgw at {host}: {e}"),
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(20)));
    let mut raw = Vec::new();
    if let Err(e) = stream
        .write_all(request.as_bytes())
        .and_then(|()| stream.read_to_end(&mut raw))
    {
        panic!("request to radosgw failed: {e}");
    }
    let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        panic!("radosgw sent no response head: {}", String::from_utf8_lossy(&raw));
    };
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let rest = &raw[split + 4..];
    let body = if head.contains("transfer-encoding: chunked") {
        arca_tests::dechunk(rest)
    } else {
        rest.to_vec()
    };
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// The keys of the multipart uploads still open under `prefix`
/// (ListMultipartUploads), one entry per upload.
pub fn open_uploads(s3: &S3, prefix: &str) -> Vec<String> {
    let (status, body) = get(s3, &[("uploads", ""), ("prefix", prefix)]);
    assert_eq!(status, 200, "ListMultipartUploads failed: {body}");
    assert!(body.contains("<ListMultipartUploadsResult"), "{body}");
    assert!(
        !body.contains("<IsTruncated>true</IsTruncated>"),
        "more than a page of open uploads under {prefix}: {body}"
    );
    body.split("<Upload>")
        .skip(1)
        .filter_map(|u| {
            let start = u.find("<Key>")? + "<Key>".len();
            let end = u[start..].find("</Key>")? + start;
            Some(u[start..end].to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_and_dates() {
        assert_eq!(encode("a b/c~d"), "a%20b%2Fc~d");
        let (time, date) = timestamps();
        assert_eq!((time.len(), date.len()), (16, 8), "{time} {date}");
        assert!(time.starts_with(&date) && time.ends_with('Z'));
        assert!(date.as_str() > "20240101", "{date}");
    }
}

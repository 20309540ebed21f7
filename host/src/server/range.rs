//! HTTP `Range` requests (RFC 9110 §14): one byte range per request.

/// What a `Range` header asks of a file of `size` bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum RangeAsk {
    /// No usable range: send the whole file (also for multi-range and
    /// malformed headers, which RFC 9110 lets a server ignore).
    Whole,
    /// Bytes `start..=end`.
    Part { start: u64, end: u64 },
    /// Nothing of the file is in the range: 416.
    Unsatisfiable,
}

pub fn parse(header: Option<&str>, size: u64) -> RangeAsk {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeAsk::Whole;
    };
    if spec.contains(',') {
        return RangeAsk::Whole;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeAsk::Whole;
    };
    let (a, b) = (a.trim(), b.trim());
    let parsed = match (a.is_empty(), b.is_empty()) {
        // `bytes=-n`: the last n bytes.
        (true, false) => b.parse::<u64>().ok().map(|n| {
            if n == 0 || size == 0 {
                None
            } else {
                Some((size.saturating_sub(n), size - 1))
            }
        }),
        (false, true) => a.parse::<u64>().ok().map(|s| (s < size).then(|| (s, size - 1))),
        (false, false) => match (a.parse::<u64>(), b.parse::<u64>()) {
            (Ok(s), Ok(e)) if s <= e => Some((s < size).then(|| (s, e.min(size.saturating_sub(1))))),
            _ => None,
        },
        (true, true) => None,
    };
    match parsed {
        None => RangeAsk::Whole,
        Some(None) => RangeAsk::Unsatisfiable,
        Some(Some((start, end))) => RangeAsk::Part { start, end },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let part = |start, end| RangeAsk::Part { start, end };
        assert_eq!(parse(None, 10), RangeAsk::Whole);
        assert_eq!(parse(Some("bytes=1-3"), 10), part(1, 3));
        assert_eq!(parse(Some("bytes=5-"), 10), part(5, 9));
        assert_eq!(parse(Some("bytes=-4"), 10), part(6, 9));
        assert_eq!(parse(Some("bytes=-40"), 10), part(0, 9));
        assert_eq!(parse(Some("bytes=8-100"), 10), part(8, 9));
        assert_eq!(parse(Some("bytes=10-"), 10), RangeAsk::Unsatisfiable);
        assert_eq!(parse(Some("bytes=0-0"), 0), RangeAsk::Unsatisfiable);
        assert_eq!(parse(Some("bytes=3-1"), 10), RangeAsk::Whole);
        assert_eq!(parse(Some("bytes=0-1,4-5"), 10), RangeAsk::Whole);
        assert_eq!(parse(Some("items=0-1"), 10), RangeAsk::Whole);
    }
}

//! Checking that received bytes are UTF-8, with SIMD where the CPU has it (chosen at run
//! time). On non-ASCII text this is several times quicker than the standard library's
//! check (docs/performance.md).
// One conversion that skips the check std would repeat; its block says why that is sound.
#![allow(unsafe_code)]

use super::JsonError;

/// `bytes` as text, or where they stop being UTF-8 (as the scanner words it).
pub(super) fn check(bytes: &[u8]) -> Result<&str, JsonError> {
    // The SIMD check says only yes or no; the offset of a no is found the slow way.
    simdutf8::basic::from_utf8(bytes).map_err(|_| JsonError {
        what: "invalid UTF-8",
        offset: std::str::from_utf8(bytes).err().map_or(0, |e| e.valid_up_to()),
    })
}

/// `bytes` as a `String` without a copy, or the error and the bytes back.
pub(super) fn into_string(bytes: Vec<u8>) -> Result<String, (JsonError, Vec<u8>)> {
    match check(&bytes) {
        // SAFETY: `check` has just found these very bytes to be UTF-8.
        Ok(_) => Ok(unsafe { String::from_utf8_unchecked(bytes) }),
        Err(e) => Err((e, bytes)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_std_and_says_where() {
        let mut cases: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"plain".to_vec(),
            "héllo 日本語 😀".into(),
            b"\xff".to_vec(),
            b"ab\xc3\x28".to_vec(),
            b"\xed\xa0\x80".to_vec(),     // an encoded surrogate
            b"\xf4\x90\x80\x80".to_vec(), // past U+10FFFF
            b"\xc0\xaf".to_vec(),         // overlong
            b"\xe2\x82".to_vec(),         // cut short
        ];
        // The same at every offset of a block larger than a SIMD register.
        for at in [0, 15, 16, 31, 32, 63, 64, 65] {
            let mut long = vec![b'a'; 80];
            long[at] = 0xe2;
            cases.push(long.clone());
            long[at..at + 3].copy_from_slice("€".as_bytes());
            cases.push(long);
        }
        for case in cases {
            let std = std::str::from_utf8(&case);
            match (check(&case), std) {
                (Ok(ours), Ok(theirs)) => assert_eq!(ours, theirs),
                (Err(ours), Err(theirs)) => assert_eq!(ours.offset, theirs.valid_up_to(), "{case:?}"),
                (ours, theirs) => panic!("{case:?}: {ours:?} but std says {theirs:?}"),
            }
            assert_eq!(into_string(case.clone()).is_ok(), String::from_utf8(case).is_ok());
        }
    }
}

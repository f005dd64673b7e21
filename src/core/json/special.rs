//! Finding the end of a plain run inside a JSON string, many bytes at a time.
// libc calls with no safe wrapper here; every block says why it is sound (SAFETY).
#![allow(unsafe_code)]

/// The first byte at or after `i` that ends a plain run inside a string: `"`, `\` or a
/// control character. Sixteen bytes at a time with SSE2 (part of every x86-64), eight at a
/// time elsewhere; the rest byte by byte.
#[inline]
pub fn find_special(bytes: &[u8], i: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    let i = find_special_sse2(bytes, i);
    #[cfg(not(target_arch = "x86_64"))]
    let i = find_special_swar(bytes, i);
    bytewise(bytes, i)
}

fn bytewise(bytes: &[u8], i: usize) -> usize {
    bytes[i..].iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20).map_or(bytes.len(), |at| i + at)
}

/// [`find_special`] over whole 16-byte blocks; stops at the block with a hit or the tail.
#[cfg(target_arch = "x86_64")]
#[inline]
fn find_special_sse2(bytes: &[u8], mut i: usize) -> usize {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    // SAFETY: SSE2 is part of the x86-64 baseline, so these intrinsics are always
    // available; every load reads a `block` of 16 bytes, with no alignment requirement.
    unsafe {
        let quote = _mm_set1_epi8(b'"' as i8);
        let backslash = _mm_set1_epi8(b'\\' as i8);
        let control = _mm_set1_epi8(0x1f);
        while let Some(block) = bytes.get(i..i + 16) {
            let v = _mm_loadu_si128(block.as_ptr().cast());
            let hits = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                // b <= 0x1f, unsigned: min(b, 0x1f) == b.
                _mm_cmpeq_epi8(_mm_min_epu8(v, control), v),
            );
            let mask = _mm_movemask_epi8(hits);
            if mask != 0 {
                return i + mask.trailing_zeros() as usize;
            }
            i += 16;
        }
    }
    i
}

/// [`find_special`] eight bytes at a time (the zero-byte trick of Hacker's Delight 6-1;
/// the lowest flagged byte is always exact).
#[cfg(any(not(target_arch = "x86_64"), test))]
fn find_special_swar(bytes: &[u8], mut i: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let w = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let quote = w ^ (ONES * u64::from(b'"'));
        let slash = w ^ (ONES * u64::from(b'\\'));
        let hits = (quote.wrapping_sub(ONES) & !quote)
            | (slash.wrapping_sub(ONES) & !slash)
            | (w.wrapping_sub(ONES * 0x20) & !w);
        let hits = hits & HIGH;
        if hits != 0 {
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_special_matches_bytewise_scan() {
        let swar = |t: &[u8], i: usize| bytewise(t, find_special_swar(t, i));
        let text: Vec<u8> = (0..200u8).map(|i| b'a' + i % 26).collect();
        for pos in [0, 7, 8, 9, 15, 16, 17, 31, 63, 150, 199] {
            for byte in 0..=255u8 {
                let mut t = text.clone();
                t[pos] = byte;
                let special = byte == b'"' || byte == b'\\' || byte < 0x20;
                let want = if special { pos } else { t.len() };
                assert_eq!(find_special(&t, 0), want, "byte {byte:#x} at {pos}");
                assert_eq!(swar(&t, 0), want, "byte {byte:#x} at {pos}");
                assert_eq!(find_special(&t, pos), want);
                assert_eq!(swar(&t, pos), want);
            }
        }
        let mut text = text;
        text.extend_from_slice("é€😀\u{7f}".as_bytes());
        assert_eq!(find_special(&text, 0), text.len());
        assert_eq!(swar(&text, 0), text.len());
    }
}

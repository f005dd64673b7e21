//! Finding the end of a plain run inside a JSON string, many bytes at a time.
// libc calls with no safe wrapper here; every block says why it is sound (SAFETY).
#![allow(unsafe_code)]

/// The first byte at or after `i` that ends a plain run inside a string: `"`, `\` or a
/// control character. Sixteen bytes at a time with SSE2 (part of every x86-64), eight at a
/// time elsewhere; the rest byte by byte.
#[inline]
pub fn find_special(bytes: &[u8], i: usize) -> usize {
    find::<false>(bytes, i)
}

/// [`find_special`], stopping at a byte ≥ 0x80 too: the end of a run known to be ASCII, in
/// bytes not yet checked to be UTF-8.
#[inline]
pub(super) fn find_special_or_high(bytes: &[u8], i: usize) -> usize {
    find::<true>(bytes, i)
}

#[inline]
fn find<const HIGH: bool>(bytes: &[u8], i: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    let i = find_special_sse2::<HIGH>(bytes, i);
    #[cfg(not(target_arch = "x86_64"))]
    let i = find_special_swar::<HIGH>(bytes, i);
    bytewise::<HIGH>(bytes, i)
}

fn bytewise<const HIGH: bool>(bytes: &[u8], i: usize) -> usize {
    let special = |b: u8| b == b'"' || b == b'\\' || b < 0x20 || (HIGH && b >= 0x80);
    bytes[i..].iter().position(|&b| special(b)).map_or(bytes.len(), |at| i + at)
}

/// [`find_special`] over whole 16-byte blocks; stops at the block with a hit or the tail.
#[cfg(target_arch = "x86_64")]
#[inline]
fn find_special_sse2<const HIGH: bool>(bytes: &[u8], mut i: usize) -> usize {
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
            // The byte's own top bit flags a byte >= 0x80.
            let mask = _mm_movemask_epi8(hits) | if HIGH { _mm_movemask_epi8(v) } else { 0 };
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
fn find_special_swar<const HIGH: bool>(bytes: &[u8], mut i: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const TOP: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let w = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let quote = w ^ (ONES * u64::from(b'"'));
        let slash = w ^ (ONES * u64::from(b'\\'));
        let hits = (quote.wrapping_sub(ONES) & !quote)
            | (slash.wrapping_sub(ONES) & !slash)
            | (w.wrapping_sub(ONES * 0x20) & !w)
            | if HIGH { w } else { 0 };
        let hits = hits & TOP;
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
        check_mode::<false>(find_special);
        check_mode::<true>(find_special_or_high);
    }

    fn check_mode<const HIGH: bool>(find: fn(&[u8], usize) -> usize) {
        let swar = |t: &[u8], i: usize| bytewise::<HIGH>(t, find_special_swar::<HIGH>(t, i));
        let text: Vec<u8> = (0..200u8).map(|i| b'a' + i % 26).collect();
        for pos in [0, 7, 8, 9, 15, 16, 17, 31, 63, 150, 199] {
            for byte in 0..=255u8 {
                let mut t = text.clone();
                t[pos] = byte;
                let special = byte == b'"' || byte == b'\\' || byte < 0x20 || (HIGH && byte >= 0x80);
                let want = if special { pos } else { t.len() };
                assert_eq!(find(&t, 0), want, "byte {byte:#x} at {pos}");
                assert_eq!(swar(&t, 0), want, "byte {byte:#x} at {pos}");
                assert_eq!(find(&t, pos), want);
                assert_eq!(swar(&t, pos), want);
            }
        }
        let mut text = text;
        let plain = text.len();
        text.extend_from_slice("é€😀\u{7f}".as_bytes());
        let want = if HIGH { plain } else { text.len() };
        assert_eq!(find(&text, 0), want);
        assert_eq!(swar(&text, 0), want);
    }
}

//! Duplicate object keys, found without keeping the keys: the scanner keeps an eight-byte
//! hash of each decoded key of the objects open, and only when two hashes are equal reads
//! that object's keys again to tell a duplicate from a collision. A million keys cost
//! 8 MB, and colliding keys (even crafted ones) four bytes each.

use std::borrow::Cow;

use super::raw::{string_end, Raw};

/// A hash of a decoded key (FxHash-style: fast, and collisions are checked anyway).
pub(super) fn key_hash(key: &str) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h = key.len() as u64;
    let mut chunks = key.as_bytes().chunks_exact(8);
    for chunk in chunks.by_ref() {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(K);
    }
    for &b in chunks.remainder() {
        h = (h.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
    }
    h
}

/// A key that occurs twice in `object` (its text), given the hashes of its keys (which
/// this reorders).
pub(super) fn duplicate_key(hashes: &mut [u64], object: &str) -> Option<String> {
    let mut colliding = Vec::new();
    if hashes.len() <= 16 {
        for (i, a) in hashes.iter().enumerate() {
            if hashes[i + 1..].contains(a) {
                colliding.push(*a);
            }
        }
    } else {
        hashes.sort_unstable();
        colliding.extend(hashes.windows(2).filter(|w| w[0] == w[1]).map(|w| w[0]));
    }
    if colliding.is_empty() {
        return None;
    }
    colliding.sort_unstable();
    colliding.dedup();
    // Read the keys again; keep the positions of those whose hash collides.
    let mut offsets: Vec<u32> = Vec::new();
    let mut members = Raw::new(object).members();
    while let Some((key, _)) = members.next_raw() {
        let decoded = Raw::new(key).as_str().unwrap_or_default();
        if colliding.binary_search(&key_hash(&decoded)).is_ok() {
            let at = (key.as_ptr() as usize).wrapping_sub(object.as_ptr() as usize);
            offsets.push(u32::try_from(at).ok()?);
        }
    }
    let key_at = |at: &u32| -> Cow<'_, str> {
        let at = *at as usize;
        let end = string_end(object, at).unwrap_or(at);
        object.get(at..end).and_then(|k| Raw::new(k).as_str()).unwrap_or_default()
    };
    let at = find_duplicate(&mut offsets, key_at)?;
    Some(key_at(&offsets[at]).into_owned())
}

/// The index of an element of `items` whose `key` occurs twice, if any (reorders
/// `items`): the first in order when there are few, else the one with the smallest key.
pub(super) fn find_duplicate<T, K: Ord>(items: &mut [T], key: impl Fn(&T) -> K) -> Option<usize> {
    if items.len() <= 16 {
        return (0..items.len()).find(|&i| {
            let ka = key(&items[i]);
            items[i + 1..].iter().any(|b| key(b) == ka)
        });
    }
    items.sort_unstable_by_key(&key);
    items.windows(2).position(|w| key(&w[0]) == key(&w[1]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_told_from_collisions() {
        let object = r#"{"a":1,"b":2,"\u0061":3}"#;
        let mut hashes: Vec<u64> = ["a", "b", "a"].iter().map(|k| key_hash(k)).collect();
        assert_eq!(duplicate_key(&mut hashes, object).as_deref(), Some("a"));
        // Hashes that collide on different keys are not a duplicate.
        let mut forged = vec![7, 7, 9];
        assert_eq!(duplicate_key(&mut forged, r#"{"x":1,"y":2,"z":3}"#), None);
        let many: Vec<String> = (0..40).map(|i| format!("\"k{i}\":{i}")).collect();
        let object = format!("{{{},\"k7\":0}}", many.join(","));
        let mut hashes: Vec<u64> = (0..40).map(|i| key_hash(&format!("k{i}"))).chain([key_hash("k7")]).collect();
        assert_eq!(duplicate_key(&mut hashes, &object).as_deref(), Some("k7"));
    }
}

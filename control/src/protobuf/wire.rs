//! A wire-level check that prost kept every field of a body: prost skips
//! fields it does not know, so the bytes it re-encodes from what it decoded
//! are compared with the bytes received. Go encodes canonically (fields in
//! number order, every non-pointer field present, map keys sorted), and so
//! does prost, with one difference: in a map entry Go writes an empty key or
//! value (`labels: {a: ""}`) and prost leaves it out. Only that difference
//! is forgiven. Pure; reads bytes, never panics on them.

/// One field's payload as it appears on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Payload<'a> {
    Varint(u64),
    Fixed(&'a [u8]),
    Len(&'a [u8]),
}

/// One field: its number and payload.
#[derive(Clone, Copy, Debug)]
struct Field<'a> {
    number: u64,
    payload: Payload<'a>,
}

impl Field<'_> {
    /// Whether this is the default that prost leaves out of a map entry.
    fn is_default(&self) -> bool {
        matches!(self.payload, Payload::Varint(0) | Payload::Len([]))
    }
}

/// Whether `reencoded` (prost's encoding of what it decoded from `raw`)
/// holds every field `raw` holds.
pub(super) fn keeps_every_field(raw: &[u8], reencoded: &[u8]) -> bool {
    if raw == reencoded {
        return true;
    }
    let (Some(received), Some(kept)) = (fields(raw), fields(reencoded)) else {
        return false;
    };
    let map_entry = received
        .iter()
        .chain(&kept)
        .all(|f| matches!(f.number, 1 | 2));
    let mut kept = kept.into_iter().peekable();
    for field in received {
        match kept.peek() {
            Some(k) if k.number == field.number && same(field.payload, k.payload) => {
                kept.next();
            }
            _ if map_entry && field.is_default() => {}
            _ => return false,
        }
    }
    kept.next().is_none()
}

/// Whether two payloads hold the same data; differing length-delimited
/// payloads are nested messages, compared field by field.
fn same(received: Payload<'_>, kept: Payload<'_>) -> bool {
    match (received, kept) {
        (Payload::Len(received), Payload::Len(kept)) => keeps_every_field(received, kept),
        (received, kept) => received == kept,
    }
}

/// The fields of a message, or None if it is not a well-formed one.
fn fields(mut buf: &[u8]) -> Option<Vec<Field<'_>>> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let key = varint(&mut buf)?;
        let payload = match key & 7 {
            0 => Payload::Varint(varint(&mut buf)?),
            1 => Payload::Fixed(take(&mut buf, 8)?),
            2 => {
                let len = varint(&mut buf)?;
                Payload::Len(take(&mut buf, len)?)
            }
            5 => Payload::Fixed(take(&mut buf, 4)?),
            _ => return None,
        };
        out.push(Field {
            number: key >> 3,
            payload,
        });
    }
    Some(out)
}

fn varint(buf: &mut &[u8]) -> Option<u64> {
    let mut value = 0_u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = buf.split_first()?;
        *buf = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some(value);
        }
    }
    None
}

fn take<'a>(buf: &mut &'a [u8], len: u64) -> Option<&'a [u8]> {
    let (head, rest) = buf.split_at_checked(usize::try_from(len).ok()?)?;
    *buf = rest;
    Some(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_empty_map_entry_halves_may_be_missing() {
        // (received, re-encoded, kept everything?)
        let cases: [(&[u8], &[u8], bool); 10] = [
            (b"\x0a\x01a", b"\x0a\x01a", true),
            // labels {"a": ""}: Go writes the empty value, prost does not.
            (b"\x5a\x05\x0a\x01a\x12\x00", b"\x5a\x03\x0a\x01a", true),
            // {"": ""} in full, prost writes an empty entry.
            (b"\x5a\x04\x0a\x00\x12\x00", b"\x5a\x00", true),
            // Nested: metadata { labels {"a": ""} }.
            (
                b"\x0a\x07\x5a\x05\x0a\x01a\x12\x00",
                b"\x0a\x05\x5a\x03\x0a\x01a",
                true,
            ),
            // An unknown field 99 (varint 1) prost dropped.
            (b"\x0a\x01a\x98\x06\x01", b"\x0a\x01a", false),
            // The same, one level down.
            (b"\x0a\x05\x0a\x01a\x18\x01", b"\x0a\x03\x0a\x01a", false),
            // An empty unknown field in a message with more than fields 1-2.
            (b"\x0a\x01a\x1a\x00\x22\x00", b"\x0a\x01a\x22\x00", false),
            // A non-empty value missing from a map entry.
            (b"\x0a\x01a\x12\x01b", b"\x0a\x01a", false),
            // prost would never add a field; if it did, refuse.
            (b"\x0a\x01a", b"\x0a\x01a\x10\x01", false),
            // Malformed input.
            (b"\x0a\x05a", b"\x0a\x01a", false),
        ];
        for (i, (raw, kept, want)) in cases.into_iter().enumerate() {
            assert_eq!(keeps_every_field(raw, kept), want, "case {i}");
        }
    }

    #[test]
    fn the_wire_reader_refuses_what_it_cannot_read() {
        assert!(fields(b"\x08").is_none(), "varint cut short");
        assert!(fields(b"\x0b").is_none(), "group start");
        assert!(fields(b"\x09\x01\x02").is_none(), "fixed64 cut short");
        assert!(fields(&[0xff; 11]).is_none(), "varint too long");
        assert!(
            fields(b"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\x7f").is_none(),
            "huge length"
        );
        assert_eq!(fields(b"\x0d\x01\x02\x03\x04").map(|f| f.len()), Some(1));
    }
}

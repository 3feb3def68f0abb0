//! apimachinery's wire types (meta/v1 `ObjectMeta`, `LabelSelector`,
//! `Condition`, `Time`, `MicroTime`, `FieldsV1`; `Quantity`; `IntOrString`)
//! converted to the JSON kube-apiserver writes for them. Times are formatted
//! here, from the seconds on the wire, without a clock.

use k8s_pb::apimachinery::pkg::{
    api::resource::Quantity,
    apis::meta::v1::{
        Condition, FieldsV1, LabelSelector, LabelSelectorRequirement, ManagedFieldsEntry,
        MicroTime, ObjectMeta, OwnerReference, Time,
    },
    util::intstr::IntOrString,
};
use serde_json::Value;

use super::convert::{Conv, Fault, Obj, Object};

/// 0000-01-01T00:00:00Z, the first instant Go's JSON will write.
const MIN_SECONDS: i64 = -62_167_219_200;
/// 9999-12-31T23:59:59Z, the last instant Go's JSON will write.
const MAX_SECONDS: i64 = 253_402_300_799;
/// 0001-01-01T00:00:00Z, Go's zero `time.Time`, which its JSON writes as null.
const GO_ZERO_SECONDS: i64 = -62_135_596_800;

/// A `metav1.Time`: RFC 3339 to the second. Go's decoder drops the nanos
/// (its JSON has none), so this does too.
pub(super) fn time(t: Time) -> Conv {
    let Time { seconds, nanos } = t;
    timestamp(seconds, nanos, false)
}

/// A `metav1.MicroTime`: RFC 3339 with six fractional digits.
pub(super) fn micro_time(t: MicroTime) -> Conv {
    let MicroTime { seconds, nanos } = t;
    timestamp(seconds, nanos, true)
}

fn timestamp(seconds: Option<i64>, nanos: Option<i32>, micro: bool) -> Conv {
    // Go writes a zero time as an empty message; its JSON is null.
    if seconds.is_none() && nanos.is_none() {
        return Ok(Value::Null);
    }
    let (seconds, nanos) = (seconds.unwrap_or(0), nanos.unwrap_or(0));
    if !(0..1_000_000_000).contains(&nanos) {
        return Err(Fault::invalid(format!(
            "nanos {nanos} is outside 0..=999999999"
        )));
    }
    if !(MIN_SECONDS..=MAX_SECONDS).contains(&seconds) {
        return Err(Fault::invalid(format!(
            "seconds {seconds} is outside the years 0000-9999"
        )));
    }
    let micros = if micro { nanos / 1000 } else { 0 };
    if seconds == GO_ZERO_SECONDS && micros == 0 {
        return Ok(Value::Null);
    }
    Ok(Value::String(rfc3339(seconds, micro.then_some(micros))))
}

/// `2006-01-02T15:04:05Z`, or `2006-01-02T15:04:05.000000Z` with micros;
/// `seconds` must be within the years 0000-9999.
fn rfc3339(seconds: i64, micros: Option<i32>) -> String {
    let (days, of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    let (hour, minute, second) = (of_day / 3600, of_day % 3600 / 60, of_day % 60);
    let fraction = micros.map(|m| format!(".{m:06}")).unwrap_or_default();
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}{fraction}Z")
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A `resource.Quantity`: its string (Go reads a missing one as zero).
pub(super) fn quantity(q: Quantity) -> Conv {
    let Quantity { string } = q;
    Ok(Value::String(string.unwrap_or_else(|| "0".into())))
}

/// An `intstr.IntOrString`: a JSON number (type 0) or string (type 1).
pub(super) fn int_or_string(v: IntOrString) -> Conv {
    // Like Go, the half the type does not select is not part of the value.
    let IntOrString {
        r#type,
        int_val,
        str_val,
    } = v;
    match r#type.unwrap_or(0) {
        0 => Ok(int_val.unwrap_or(0).into()),
        1 => Ok(str_val.unwrap_or_default().into()),
        other => Err(Fault::invalid(format!(
            "IntOrString type {other} is neither 0 (int) nor 1 (string)"
        ))),
    }
}

/// A `metav1.FieldsV1`: its bytes are JSON, embedded as such.
fn fields_v1(f: FieldsV1) -> Conv {
    let FieldsV1 { raw } = f;
    match raw {
        None => Ok(Value::Null),
        Some(raw) => serde_json::from_slice(&raw)
            .map_err(|e| Fault::invalid(format!("FieldsV1 is not JSON: {e}"))),
    }
}

/// A `metav1.ObjectMeta`.
pub(super) fn object_meta(mut m: ObjectMeta) -> Conv<Object> {
    Obj::new()
        .nz("name", &mut m.name)
        .nz("generateName", &mut m.generate_name)
        .nz("namespace", &mut m.namespace)
        .nz("selfLink", &mut m.self_link)
        .nz("uid", &mut m.uid)
        .nz("resourceVersion", &mut m.resource_version)
        .nz("generation", &mut m.generation)
        .msg("creationTimestamp", &mut m.creation_timestamp, time)?
        .msg("deletionTimestamp", &mut m.deletion_timestamp, time)?
        .opt(
            "deletionGracePeriodSeconds",
            &mut m.deletion_grace_period_seconds,
        )
        .map("labels", &mut m.labels)
        .map("annotations", &mut m.annotations)
        .msgs("ownerReferences", &mut m.owner_references, owner_reference)?
        .list("finalizers", &mut m.finalizers)
        .msgs("managedFields", &mut m.managed_fields, managed_fields_entry)?
        .end(&m)
}

fn owner_reference(mut m: OwnerReference) -> Conv<Object> {
    Obj::new()
        .opt("apiVersion", &mut m.api_version)
        .opt("kind", &mut m.kind)
        .opt("name", &mut m.name)
        .opt("uid", &mut m.uid)
        .opt("controller", &mut m.controller)
        .opt("blockOwnerDeletion", &mut m.block_owner_deletion)
        .end(&m)
}

fn managed_fields_entry(mut m: ManagedFieldsEntry) -> Conv<Object> {
    Obj::new()
        .nz("manager", &mut m.manager)
        .nz("operation", &mut m.operation)
        .nz("apiVersion", &mut m.api_version)
        .msg("time", &mut m.time, time)?
        .nz("fieldsType", &mut m.fields_type)
        .msg("fieldsV1", &mut m.fields_v1, fields_v1)?
        .nz("subresource", &mut m.subresource)
        .end(&m)
}

/// A `metav1.LabelSelector`.
pub(super) fn label_selector(mut m: LabelSelector) -> Conv<Object> {
    Obj::new()
        .map("matchLabels", &mut m.match_labels)
        .msgs(
            "matchExpressions",
            &mut m.match_expressions,
            label_selector_requirement,
        )?
        .end(&m)
}

/// A `metav1.LabelSelectorRequirement`.
pub(super) fn label_selector_requirement(mut m: LabelSelectorRequirement) -> Conv<Object> {
    Obj::new()
        .opt("key", &mut m.key)
        .opt("operator", &mut m.operator)
        .list("values", &mut m.values)
        .end(&m)
}

/// A `metav1.Condition`.
pub(super) fn condition(mut m: Condition) -> Conv<Object> {
    Obj::new()
        .opt("type", &mut m.r#type)
        .opt("status", &mut m.status)
        .nz("observedGeneration", &mut m.observed_generation)
        .msg("lastTransitionTime", &mut m.last_transition_time, time)?
        .opt("reason", &mut m.reason)
        .opt("message", &mut m.message)
        .end(&m)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn times_become_rfc3339_or_are_refused() {
        let t = |seconds: Option<i64>, nanos: Option<i32>| time(Time { seconds, nanos });
        let m = |seconds: Option<i64>, nanos: Option<i32>| micro_time(MicroTime { seconds, nanos });
        let bad = |reason: &str| {
            Err(Fault::Invalid {
                field: String::new(),
                reason: reason.into(),
            })
        };
        let cases = [
            (t(None, None), Ok(Value::Null)),
            (t(Some(0), Some(0)), Ok(json!("1970-01-01T00:00:00Z"))),
            (t(Some(0), None), Ok(json!("1970-01-01T00:00:00Z"))),
            (
                t(Some(1_136_214_245), Some(0)),
                Ok(json!("2006-01-02T15:04:05Z")),
            ),
            (
                t(Some(1_199_149_261), Some(999)),
                Ok(json!("2008-01-01T01:01:01Z")),
            ),
            (
                t(Some(951_782_400), Some(0)),
                Ok(json!("2000-02-29T00:00:00Z")),
            ),
            (t(Some(-1), Some(0)), Ok(json!("1969-12-31T23:59:59Z"))),
            (
                t(Some(MAX_SECONDS), None),
                Ok(json!("9999-12-31T23:59:59Z")),
            ),
            (
                t(Some(MIN_SECONDS), None),
                Ok(json!("0000-01-01T00:00:00Z")),
            ),
            (t(Some(GO_ZERO_SECONDS), Some(0)), Ok(Value::Null)),
            (
                t(Some(MAX_SECONDS + 1), None),
                bad("seconds 253402300800 is outside the years 0000-9999"),
            ),
            (
                t(Some(i64::MIN), Some(0)),
                bad("seconds -9223372036854775808 is outside the years 0000-9999"),
            ),
            (
                t(Some(0), Some(-1)),
                bad("nanos -1 is outside 0..=999999999"),
            ),
            (
                t(Some(0), Some(1_000_000_000)),
                bad("nanos 1000000000 is outside 0..=999999999"),
            ),
            (m(None, None), Ok(Value::Null)),
            (
                m(Some(1_136_214_245), Some(123_456_789)),
                Ok(json!("2006-01-02T15:04:05.123456Z")),
            ),
            (
                m(Some(0), Some(0)),
                Ok(json!("1970-01-01T00:00:00.000000Z")),
            ),
            (
                m(Some(GO_ZERO_SECONDS), Some(1000)),
                Ok(json!("0001-01-01T00:00:00.000001Z")),
            ),
            (m(Some(GO_ZERO_SECONDS), Some(999)), Ok(Value::Null)),
            (
                m(Some(0), Some(i32::MIN)),
                bad("nanos -2147483648 is outside 0..=999999999"),
            ),
        ];
        for (i, (got, want)) in cases.into_iter().enumerate() {
            assert_eq!(got, want, "case {i}");
        }
    }

    #[test]
    fn dates_match_a_day_count_across_four_centuries() {
        // Walk 400 years day by day from 1600-01-01 (day -135140) and check
        // each date is the successor of the previous one.
        let (mut year, mut month, mut day) = (1600, 1, 1);
        for days in -135_140..(-135_140 + 146_097) {
            assert_eq!(civil_from_days(days), (year, month, day), "day {days}");
            let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
            let length = match month {
                2 if leap => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            day += 1;
            if day > length {
                (day, month) = (1, month + 1);
            }
            if month > 12 {
                (month, year) = (1, year + 1);
            }
        }
    }

    #[test]
    fn int_or_string_follows_its_type() {
        let v = |r#type, int_val, str_val: Option<&str>| {
            int_or_string(IntOrString {
                r#type,
                int_val,
                str_val: str_val.map(Into::into),
            })
        };
        assert_eq!(v(Some(0), Some(8080), Some("")), Ok(json!(8080)));
        assert_eq!(v(None, None, None), Ok(json!(0)));
        assert_eq!(v(Some(1), Some(0), Some("http")), Ok(json!("http")));
        assert_eq!(v(Some(1), None, None), Ok(json!("")));
        assert!(matches!(v(Some(2), None, None), Err(Fault::Invalid { .. })));
    }

    #[test]
    fn fields_v1_embeds_its_json() {
        let f = |raw: &[u8]| {
            fields_v1(FieldsV1 {
                raw: Some(raw.to_vec()),
            })
        };
        assert_eq!(f(br#"{"f:data":{}}"#), Ok(json!({"f:data": {}})));
        assert!(matches!(f(b"{"), Err(Fault::Invalid { .. })));
        assert_eq!(fields_v1(FieldsV1 { raw: None }), Ok(Value::Null));
    }
}

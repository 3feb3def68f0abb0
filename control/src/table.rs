//! Server-side printing: objects as a `meta.k8s.io/v1` Table, the form
//! `kubectl get` asks for, with the columns kubectl users expect per kind
//! (NAME and AGE for every kind, more for some). Pure: `now` is passed in.

use serde_json::{Value, json};

use crate::resources::ResourceInfo;

/// One column: its header and how to read its cell from an object.
struct Column {
    name: &'static str,
    /// Shown only with `-o wide`.
    wide: bool,
    cell: fn(&Value, &Ctx) -> Value,
}

struct Ctx {
    now: i64,
}

fn text(v: Option<&Value>) -> Value {
    match v {
        Some(Value::String(s)) if !s.is_empty() => Value::String(s.clone()),
        Some(Value::Number(n)) => Value::String(n.to_string()),
        _ => Value::String("<none>".into()),
    }
}

fn name(o: &Value, _: &Ctx) -> Value {
    text(o.pointer("/metadata/name"))
}

fn age(o: &Value, ctx: &Ctx) -> Value {
    let created = o
        .pointer("/metadata/creationTimestamp")
        .and_then(Value::as_str)
        .and_then(|t| t.parse::<jiff::Timestamp>().ok());
    match created {
        Some(t) => Value::String(human_duration(ctx.now - t.as_second())),
        None => Value::String("<unknown>".into()),
    }
}

/// kubectl's short age format (apimachinery duration.HumanDuration).
pub fn human_duration(seconds: i64) -> String {
    let s = seconds.max(0);
    let (m, h, d) = (s / 60, s / 3600, s / 86_400);
    if s < 120 {
        format!("{s}s")
    } else if m < 10 {
        match s % 60 {
            0 => format!("{m}m"),
            r => format!("{m}m{r}s"),
        }
    } else if m < 180 {
        format!("{m}m")
    } else if h < 8 {
        match m % 60 {
            0 => format!("{h}h"),
            r => format!("{h}h{r}m"),
        }
    } else if h < 48 {
        format!("{h}h")
    } else if h < 24 * 8 {
        match h % 24 {
            0 => format!("{d}d"),
            r => format!("{d}d{r}h"),
        }
    } else if h < 24 * 365 * 2 {
        format!("{d}d")
    } else {
        format!("{}y", d / 365)
    }
}

fn service_ports(o: &Value, _: &Ctx) -> Value {
    let ports = o.pointer("/spec/ports").and_then(Value::as_array);
    let shown: Vec<String> = ports
        .into_iter()
        .flatten()
        .map(|p| {
            let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
            let proto = p.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
            match p.get("nodePort").and_then(Value::as_i64) {
                Some(node_port) => format!("{port}:{node_port}/{proto}"),
                None => format!("{port}/{proto}"),
            }
        })
        .collect();
    Value::String(if shown.is_empty() {
        "<none>".into()
    } else {
        shown.join(",")
    })
}

fn external_ip(o: &Value, _: &Ctx) -> Value {
    let mut ips: Vec<String> = Vec::new();
    if let Some(list) = o
        .pointer("/status/loadBalancer/ingress")
        .and_then(Value::as_array)
    {
        ips.extend(list.iter().filter_map(|i| {
            i.get("ip")
                .or(i.get("hostname"))?
                .as_str()
                .map(str::to_owned)
        }));
    }
    if let Some(list) = o.pointer("/spec/externalIPs").and_then(Value::as_array) {
        ips.extend(list.iter().filter_map(|i| i.as_str().map(str::to_owned)));
    }
    if let Some(name) = o.pointer("/spec/externalName").and_then(Value::as_str) {
        ips.push(name.to_owned());
    }
    let pending = o.pointer("/spec/type").and_then(Value::as_str) == Some("LoadBalancer");
    Value::String(match (ips.is_empty(), pending) {
        (false, _) => ips.join(","),
        (true, true) => "<pending>".into(),
        (true, false) => "<none>".into(),
    })
}

fn pod_ready(o: &Value, _: &Ctx) -> Value {
    let total = o
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let ready = o
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .map_or(0, |s| {
            s.iter()
                .filter(|c| c.get("ready") == Some(&Value::Bool(true)))
                .count()
        });
    Value::String(format!("{ready}/{total}"))
}

fn pod_restarts(o: &Value, _: &Ctx) -> Value {
    let restarts: i64 = o
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .map_or(0, |s| {
            s.iter()
                .filter_map(|c| c.get("restartCount")?.as_i64())
                .sum()
        });
    json!(restarts)
}

fn replicas(o: &Value, _: &Ctx) -> Value {
    let want = o
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let ready = o
        .pointer("/status/readyReplicas")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    Value::String(format!("{ready}/{want}"))
}

fn columns(resource: &ResourceInfo) -> Vec<Column> {
    let col = |name, cell| Column {
        name,
        wide: false,
        cell,
    };
    let wide = |name, cell| Column {
        name,
        wide: true,
        cell,
    };
    let mut cols = vec![col("Name", name as fn(&Value, &Ctx) -> Value)];
    match (resource.group, resource.kind) {
        ("", "Service") => cols.extend([
            col("Type", |o, _| text(o.pointer("/spec/type"))),
            col("Cluster-IP", |o, _| text(o.pointer("/spec/clusterIP"))),
            col("External-IP", external_ip),
            col("Port(s)", service_ports),
            col("Age", age),
            wide("Selector", |o, _| {
                let sel = o.pointer("/spec/selector").and_then(Value::as_object);
                Value::String(sel.map_or("<none>".into(), |m| {
                    m.iter()
                        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                        .collect::<Vec<_>>()
                        .join(",")
                }))
            }),
        ]),
        ("", "Pod") => cols.extend([
            col("Ready", pod_ready),
            col("Status", |o, _| {
                let status = o
                    .pointer("/status/phase")
                    .and_then(Value::as_str)
                    .unwrap_or("Pending");
                let deleting = o
                    .pointer("/metadata/deletionTimestamp")
                    .is_some_and(|t| !t.is_null());
                Value::String(if deleting {
                    "Terminating".into()
                } else {
                    status.into()
                })
            }),
            col("Restarts", pod_restarts),
            col("Age", age),
            wide("IP", |o, _| text(o.pointer("/status/podIP"))),
            wide("Node", |o, _| text(o.pointer("/spec/nodeName"))),
        ]),
        ("", "Namespace") => cols.extend([
            col("Status", |o, _| text(o.pointer("/status/phase"))),
            col("Age", age),
        ]),
        ("", "Node") => cols.extend([
            col("Status", |o, _| {
                let ready = o
                    .pointer("/status/conditions")
                    .and_then(Value::as_array)
                    .and_then(|c| c.iter().find(|c| c.get("type") == Some(&json!("Ready"))))
                    .and_then(|c| c.get("status")?.as_str());
                Value::String(
                    if ready == Some("True") {
                        "Ready"
                    } else {
                        "NotReady"
                    }
                    .into(),
                )
            }),
            col("Age", age),
            wide("Internal-IP", |o, _| {
                let addrs = o.pointer("/status/addresses").and_then(Value::as_array);
                text(addrs.and_then(|a| {
                    a.iter()
                        .find(|x| x.get("type") == Some(&json!("InternalIP")))?
                        .get("address")
                }))
            }),
        ]),
        ("apps", "Deployment") | ("apps", "ReplicaSet") => {
            cols.extend([col("Ready", replicas), col("Age", age)])
        }
        _ => cols.push(col("Age", age)),
    }
    cols
}

/// The Table of `objects` (items of a list, or one object), as of `now`
/// (Unix seconds). `wide` includes the `-o wide` columns.
pub fn render(
    resource: &ResourceInfo,
    objects: &[Value],
    list_metadata: Value,
    now: i64,
    wide: bool,
) -> Value {
    let ctx = Ctx { now };
    let columns: Vec<Column> = columns(resource)
        .into_iter()
        .filter(|c| wide || !c.wide)
        .collect();
    let definitions: Vec<Value> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            json!({
                "name": c.name,
                "type": "string",
                "format": if i == 0 { "name" } else { "" },
                "description": "",
                "priority": i32::from(c.wide),
            })
        })
        .collect();
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let cells: Vec<Value> = columns.iter().map(|c| (c.cell)(o, &ctx)).collect();
            json!({ "cells": cells, "object": o })
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_metadata,
        "columnDefinitions": definitions,
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources;

    #[test]
    fn ages_read_like_kubectl() {
        for (secs, shown) in [
            (5, "5s"),
            (119, "119s"),
            (125, "2m5s"),
            (600, "10m"),
            (3 * 3600 + 60, "3h1m"),
            (9 * 3600, "9h"),
            (3 * 86_400 + 3600, "3d1h"),
            (30 * 86_400, "30d"),
            (800 * 86_400, "2y"),
        ] {
            assert_eq!(human_duration(secs), shown, "{secs}");
        }
    }

    #[test]
    fn services_show_type_ips_and_ports() {
        let svc = resources::find("", "v1", "services").expect("services");
        let obj = json!({"metadata": {"name": "web", "creationTimestamp": "2026-11-22T04:00:00Z"},
            "spec": {"type": "NodePort", "clusterIP": "10.96.0.20", "selector": {"app": "web"},
                     "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}]}});
        let now = "2026-11-22T04:01:00Z"
            .parse::<jiff::Timestamp>()
            .expect("time")
            .as_second();
        let table = render(svc, &[obj], json!({"resourceVersion": "7"}), now, false);
        let headers: Vec<&str> = table["columnDefinitions"]
            .as_array()
            .expect("defs")
            .iter()
            .map(|d| d["name"].as_str().expect("name"))
            .collect();
        assert_eq!(
            headers,
            [
                "Name",
                "Type",
                "Cluster-IP",
                "External-IP",
                "Port(s)",
                "Age"
            ]
        );
        assert_eq!(
            table["rows"][0]["cells"],
            json!([
                "web",
                "NodePort",
                "10.96.0.20",
                "<none>",
                "80:30080/TCP",
                "60s"
            ])
        );
        assert_eq!(table["metadata"]["resourceVersion"], "7");
        let wide = render(
            svc,
            &[json!({"metadata": {"name": "x"}})],
            json!({}),
            now,
            true,
        );
        assert_eq!(wide["columnDefinitions"].as_array().map(Vec::len), Some(7));
    }
}

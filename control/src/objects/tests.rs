//! The object verbs against a real SQLite store.

use serde_json::json;

use super::*;
use crate::{resources, store::SqliteStore};

fn svc() -> &'static ResourceInfo {
    resources::find("", "v1", "services").expect("services")
}

fn objects() -> (tempfile::TempDir, Objects<SqliteStore>) {
    let dir = tempfile::TempDir::new().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("db")).expect("store");
    (dir, Objects::new(store))
}

fn service(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
           "spec": {"ports": [{"port": 80}]}})
}

fn rv(object: &Value) -> i64 {
    meta::resource_version(object).expect("valid").expect("set")
}

#[tokio::test]
async fn create_get_update_delete_round_trip() {
    let (_dir, objects) = objects();
    let created = objects
        .create(svc(), Some("default"), service("web"), |_| Ok(()))
        .await
        .expect("create");
    assert_eq!(rv(&created), 1);
    assert_eq!(created["metadata"]["uid"].as_str().map(str::len), Some(36));

    let again = objects
        .create(svc(), Some("default"), service("web"), |_| Ok(()))
        .await;
    assert_eq!(again.expect_err("exists").reason, "AlreadyExists");

    let got = objects
        .get(svc(), Some("default"), "web")
        .await
        .expect("get");
    assert_eq!(got, created);
    assert_eq!(
        objects
            .get(svc(), Some("other"), "web")
            .await
            .expect_err("elsewhere")
            .code,
        404
    );

    let mut edited = got.clone();
    edited["spec"]["ports"][0]["port"] = json!(8080);
    let updated = objects
        .update(
            svc(),
            Some("default"),
            "web",
            edited.clone(),
            false,
            |_, _| Ok(()),
        )
        .await
        .expect("update");
    assert_eq!(
        (rv(&updated), updated["metadata"]["generation"].as_i64()),
        (2, Some(2))
    );

    // The same edit again carries the stale resourceVersion 1.
    let stale = objects
        .update(svc(), Some("default"), "web", edited, false, |_, _| Ok(()))
        .await;
    assert_eq!(stale.expect_err("stale").reason, "Conflict");

    // Without a resourceVersion the update is unconditional.
    let unconditional = objects
        .update(
            svc(),
            Some("default"),
            "web",
            service("web"),
            false,
            |_, _| Ok(()),
        )
        .await
        .expect("unconditional update");
    assert_eq!(rv(&unconditional), 3);

    let deleted = objects
        .delete(svc(), Some("default"), "web", None)
        .await
        .expect("delete");
    assert_eq!(rv(&deleted), 4);
    assert_eq!(
        objects
            .delete(svc(), Some("default"), "web", None)
            .await
            .expect_err("gone")
            .code,
        404
    );
}

#[tokio::test]
async fn finalizers_hold_deletion_until_removed() {
    let (_dir, objects) = objects();
    let mut obj = service("held");
    obj["metadata"]["finalizers"] = json!(["example.com/hold"]);
    objects
        .create(svc(), Some("default"), obj, |_| Ok(()))
        .await
        .expect("create");

    let marked = objects
        .delete(svc(), Some("default"), "held", None)
        .await
        .expect("delete");
    assert!(marked["metadata"]["deletionTimestamp"].is_string());
    let still = objects
        .get(svc(), Some("default"), "held")
        .await
        .expect("still there");
    assert!(still["metadata"]["deletionTimestamp"].is_string());

    let mut released = still.clone();
    released["metadata"]["finalizers"] = json!([]);
    objects
        .update(svc(), Some("default"), "held", released, false, |_, _| {
            Ok(())
        })
        .await
        .expect("remove finalizer");
    assert_eq!(
        objects
            .get(svc(), Some("default"), "held")
            .await
            .expect_err("gone")
            .code,
        404
    );
}

#[tokio::test]
async fn lists_page_through_one_snapshot_with_filters() {
    let (_dir, objects) = objects();
    for i in 0..7 {
        let mut obj = service(&format!("s{i}"));
        obj["metadata"]["labels"] = json!({"odd": (i % 2 == 1).to_string()});
        objects
            .create(svc(), Some("default"), obj, |_| Ok(()))
            .await
            .expect("create");
    }
    objects
        .create(svc(), Some("kube-system"), service("dns"), |_| Ok(()))
        .await
        .expect("create");

    let all = objects
        .list(svc(), None, &Query::default(), |_| true)
        .await
        .expect("list");
    assert_eq!(all["kind"], "ServiceList");
    assert_eq!(all["items"].as_array().map(Vec::len), Some(8));
    assert_eq!(all["metadata"]["resourceVersion"], "8");

    let odd = |o: &Value| o["metadata"]["labels"]["odd"] == "true";
    let mut query = Query {
        limit: Some(2),
        ..Query::default()
    };
    let mut names = Vec::new();
    let mut pages = 0;
    loop {
        let page = objects
            .list(svc(), Some("default"), &query, odd)
            .await
            .expect("page");
        pages += 1;
        for item in page["items"].as_array().expect("items") {
            names.push(item["metadata"]["name"].as_str().expect("name").to_owned());
        }
        if pages == 1 {
            // Written after the first page: invisible to the rest of this list.
            let mut late = service("s9");
            late["metadata"]["labels"] = json!({"odd": "true"});
            objects
                .create(svc(), Some("default"), late, |_| Ok(()))
                .await
                .expect("create");
        }
        match page["metadata"]["continue"].as_str() {
            Some(token) => query.continue_token = Some(token.to_owned()),
            None => break,
        }
    }
    assert_eq!(names, ["s1", "s3", "s5"]);
    assert_eq!(pages, 2);

    let bad = Query {
        continue_token: Some("garbage".into()),
        ..Query::default()
    };
    assert_eq!(
        objects
            .list(svc(), None, &bad, |_| true)
            .await
            .expect_err("bad")
            .code,
        400
    );
}

#[tokio::test]
async fn an_expired_continue_token_is_410() {
    let (_dir, objects) = objects();
    for i in 0..3 {
        objects
            .create(
                svc(),
                Some("default"),
                service(&format!("s{i}")),
                |_| Ok(()),
            )
            .await
            .expect("create");
    }
    let query = Query {
        limit: Some(1),
        ..Query::default()
    };
    let first = objects
        .list(svc(), None, &query, |_| true)
        .await
        .expect("page");
    let token = first["metadata"]["continue"]
        .as_str()
        .expect("more")
        .to_owned();
    objects
        .delete(svc(), Some("default"), "s2", None)
        .await
        .expect("delete");
    objects.store().compact(4).await.expect("compact");
    let query = Query {
        continue_token: Some(token),
        ..query
    };
    let err = objects
        .list(svc(), None, &query, |_| true)
        .await
        .expect_err("expired");
    assert_eq!((err.code, err.reason), (410, "Expired"));
}

#[test]
fn continue_tokens_round_trip() {
    let token = Continue {
        rv: 12,
        start: "/registry/core/services/default/a".into(),
    };
    assert_eq!(
        decode_continue(&encode_continue(&token)).expect("decodes"),
        token
    );
}

#[tokio::test]
async fn an_encoded_list_is_the_list_as_json() {
    let (_dir, objects) = objects();
    for name in ["a", "b", "c"] {
        objects
            .create(svc(), Some("default"), service(name), |_| Ok(()))
            .await
            .expect("create");
    }
    for query in [
        Query::default(),
        Query {
            limit: Some(2),
            ..Query::default()
        },
    ] {
        let keep = |o: &Value| meta::name(o) != Some("b");
        let list = objects
            .list(svc(), Some("default"), &query, keep)
            .await
            .expect("list");
        let bytes = objects
            .list_encoded(svc(), Some("default"), &query, keep)
            .await
            .expect("encoded");
        let decoded: Value = serde_json::from_slice(&bytes).expect("valid JSON");
        assert_eq!(decoded, list);
    }
    let empty = objects
        .list_encoded(svc(), Some("other"), &Query::default(), |_| true)
        .await
        .expect("encoded");
    let empty: Value = serde_json::from_slice(&empty).expect("valid JSON");
    assert_eq!(empty["items"], json!([]));
    assert_eq!(empty["kind"], "ServiceList");
}

#[tokio::test]
async fn a_dry_run_checks_everything_and_writes_nothing() {
    let (_dir, objects) = objects();
    let live = objects
        .create(svc(), Some("default"), service("web"), |_| Ok(()))
        .await
        .expect("create");
    let dry = objects.dry_run();
    let before = objects.store().revision().await.expect("revision");

    let would = dry
        .create(svc(), Some("default"), service("api"), |_| Ok(()))
        .await
        .expect("a dry create");
    assert_eq!(would["metadata"]["name"], "api");
    let taken = dry
        .create(svc(), Some("default"), service("web"), |_| Ok(()))
        .await;
    assert_eq!(taken.expect_err("exists").reason, "AlreadyExists");

    let mut changed = live.clone();
    changed["spec"]["ports"][0]["port"] = json!(8080);
    let updated = dry
        .update(svc(), Some("default"), "web", changed, false, |_, _| Ok(()))
        .await
        .expect("a dry update");
    assert_eq!(updated["spec"]["ports"][0]["port"], 8080);
    let stale = dry
        .update(
            svc(),
            Some("default"),
            "web",
            live.clone(),
            false,
            |_, _| Ok(()),
        )
        .await;
    assert_eq!(stale.map(|_| ()), Ok(()), "same version: not a conflict");

    dry.delete(svc(), Some("default"), "web", None)
        .await
        .expect("a dry delete");
    assert_eq!(objects.store().revision().await.expect("revision"), before);
    let stored = objects
        .get(svc(), Some("default"), "web")
        .await
        .expect("still there");
    assert_eq!(stored["spec"]["ports"][0]["port"], 80);
    assert!(objects.get(svc(), Some("default"), "api").await.is_err());
}

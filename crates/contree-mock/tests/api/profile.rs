//! The realistic latency profile: seeded per-state delays, 425s while PENDING and the
//! server-side timeline of each run (`/_mock/timings`).

use contree_mock::{MockServer, Profile};
use serde_json::Value;

use crate::common::Client;

async fn realistic(seed: u64) -> (MockServer, Client) {
    let s = MockServer::builder()
        .profile(Profile::Realistic)
        .seed(seed)
        .start()
        .await;
    let c = Client::new(&s);
    (s, c)
}

fn us(v: &Value) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| panic!("not a number of µs: {v}"))
}

#[tokio::test]
async fn a_realistic_run_pends_with_425s_then_walks_every_state_on_record() {
    // Seed 4 draws a PENDING delay over 200 ms for the first operation (asserted
    // below), so the events request sent right after the 201 finds it still PENDING.
    let (s, c) = realistic(4).await;
    let op = c.run("echo hi").await;
    let early = c.get(&format!("/operations/{op}/events")).await;
    let pending = c.get(&format!("/operations/{op}")).await.json();
    let done = c.wait(&op).await;
    assert_eq!(done["status"], "SUCCESS");

    let all = c.get("/_mock/timings").await;
    assert_eq!(all.status, 200);
    let all = all.json();
    let t = &all.as_array().expect("an array")[0];
    assert_eq!(t["operation"], op.as_str());
    assert_eq!(t["kind"], "instance");
    let planned = us(&t["planned_pending_us"]);
    assert!(planned >= 200_000, "seed 4 should pend long: {t}");
    early.expect_error(425);
    assert_eq!(early.header("retry-after").as_deref(), Some("1"));
    assert_eq!(pending["status"], "PENDING");

    let states: Vec<&str> = t["states"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["PENDING", "ASSIGNED", "EXECUTING", "SUCCESS"]);
    let at: Vec<u64> = t["states"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| us(&s["at_unix_us"]))
        .collect();
    assert!(at.windows(2).all(|w| w[0] <= w[1]), "ordered: {at:?}");
    let first = us(&t["first_output_unix_us"]);
    let completed = us(&t["completed_unix_us"]);
    assert!(at[2] <= first && first <= completed, "{t}");
    assert_eq!(completed, at[3]);
    assert_eq!(us(&t["service_us"]), completed - at[0]);
    // The same record through the API and per operation.
    assert_eq!(
        serde_json::to_value(&s.timings()[0]).unwrap(),
        c.get(&format!("/_mock/timings/{op}")).await.json()
    );
    c.get("/_mock/timings/not-a-uuid").await.expect_error(404);
}

#[tokio::test]
async fn realistic_delays_are_drawn_in_range_and_repeat_with_the_seed() {
    let planned = |seed| async move {
        let (s, c) = realistic(seed).await;
        let mut ops = Vec::new();
        for _ in 0..4 {
            ops.push(c.run("true").await);
        }
        let got: Vec<(u64, u64)> = s
            .timings()
            .iter()
            .map(|t| (t.planned_pending_us, t.planned_boot_us))
            .collect();
        assert_eq!(
            s.timings()
                .iter()
                .map(|t| t.operation.to_string())
                .collect::<Vec<_>>(),
            ops
        );
        got
    };
    let a = planned(11).await;
    assert_eq!(a, planned(11).await);
    assert_ne!(a, planned(12).await);
    for (pending, boot) in a {
        assert!((50_000..=400_000).contains(&pending), "{pending}");
        assert!((20_000..=200_000).contains(&boot), "{boot}");
    }
}

#[tokio::test]
async fn an_import_under_the_realistic_profile_is_recorded_too() {
    let (s, c) = realistic(5).await;
    let r = c
        .post_json(
            "/images/import",
            serde_json::json!({"registry": {"url": "docker://busybox:latest"}}),
        )
        .await;
    let op = r.json()["uuid"].as_str().unwrap().to_string();
    c.wait(&op).await;
    let t = &s.timings()[0];
    assert_eq!(t.kind, "image_import");
    let states: Vec<&str> = t.states.iter().map(|s| s.status.as_str()).collect();
    assert_eq!(states, ["PENDING", "ASSIGNED", "EXECUTING", "SUCCESS"]);
    assert!(t.first_output_unix_us.is_none());
    assert!(t.completed_unix_us.is_some());
}

#[tokio::test]
async fn the_fixed_profile_at_zero_latency_never_pends() {
    let s = MockServer::builder()
        .latency(std::time::Duration::ZERO)
        .start()
        .await;
    let c = Client::new(&s);
    let op = c.run("echo hi").await;
    let r = c.get(&format!("/operations/{op}/events")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    c.wait(&op).await;
    let t = &s.timings()[0];
    assert_eq!((t.planned_pending_us, t.planned_boot_us), (0, 0));
    assert_eq!(t.states[1].status, "ASSIGNED");
    let conns = c.get("/_mock/connections").await.json();
    assert_eq!(conns["accepted"].as_u64(), Some(s.connections_accepted()));
    assert!(
        conns["open"].as_u64().unwrap() >= 1,
        "this request's own: {conns}"
    );
    assert!(s.connections_accepted() >= 1);
}

//! The scenarios through the SDK (`contree::Contree`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use futures_util::StreamExt as _;
use serde_json::json;

use crate::{Args, cpu_us, micros, rss_kib};

pub(crate) fn client(args: &Args) -> Result<contree::Contree, String> {
    let mut b = contree::Contree::builder()
        .base_url(args.str("base")?)
        .token(args.str("token")?)
        .project(args.str("project")?);
    // `--ca PEM-FILE`: trust the TLS mock's self-signed certificate.
    if let Some(ca) = args.opt("ca") {
        let pem = std::fs::read(ca).map_err(|e| format!("reading --ca {ca}: {e}"))?;
        b = b.add_root_certificates_pem(pem);
    }
    if let Some(n) = args.opt("streams-per-conn") {
        b = b.http2_streams_per_connection(n.parse().map_err(|_| "bad --streams-per-conn")?);
    }
    b.build().map_err(|e| format!("building the client: {e}"))
}

/// One run of the scenario's script; checks its output and returns its operation id.
pub(crate) async fn one_run(
    img: &contree::Image,
    script: &str,
    expect: &str,
) -> Result<String, String> {
    let out = img
        .shell(script)
        .await
        .map_err(|e| format!("run failed: {e}"))?;
    if out.exit_code() != 0 || out.stdout().as_ref() != expect.as_bytes() {
        return Err(format!(
            "unexpected run result: exit {} stdout {:?}",
            out.exit_code(),
            out.stdout_lossy()
        ));
    }
    Ok(out.operation_id().to_string())
}

fn script(args: &Args) -> (String, String) {
    let s = args.str_or("script", "echo hello").to_string();
    let expect = args.str_or("expect", "hello\n").to_string();
    (s, expect)
}

/// Resolves a tag to an image UUID.
pub(crate) async fn resolve(args: &Args) -> Result<String, String> {
    let c = client(args)?;
    let img = c
        .images()
        .get(args.str("tag")?)
        .await
        .map_err(|e| format!("resolving the tag: {e}"))?;
    let uuid = img.id().ok_or("the image has no UUID")?.to_string();
    Ok(json!({ "image": uuid }).to_string())
}

/// Scenario 1: sequential runs.
pub(crate) async fn seq(args: &Args) -> Result<String, String> {
    let c = client(args)?;
    let img = c.images().use_uuid(args.str("image")?);
    let (script, expect) = script(args);
    for _ in 0..args.num("warmup", 5)? {
        one_run(&img, &script, &expect).await?;
    }
    let n = args.num("n", 100)?;
    let mut lat = Vec::with_capacity(n as usize);
    let mut ops = Vec::with_capacity(n as usize);
    let cpu_before = cpu_us();
    let started = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        let op = one_run(&img, &script, &expect).await?;
        lat.push(micros(t.elapsed()));
        ops.push(json!({"op": op, "at": crate::unix_us()}));
    }
    let total = micros(started.elapsed());
    let (hwm, rss) = rss_kib();
    Ok(json!({
        "latencies_us": lat,
        "ops": ops,
        "total_us": total,
        "hwm_kib": hwm,
        "rss_kib": rss,
        "cpu_us": cpu_us().saturating_sub(cpu_before),
    })
    .to_string())
}

/// Scenario 2: concurrent fan-out from one image.
pub(crate) async fn fanout(args: &Args) -> Result<String, String> {
    let c = client(args)?;
    let img = c.images().use_uuid(args.str("image")?);
    let (script, expect) = script(args);
    let n = args.num("n", 1000)?;
    let conc = args.num("concurrency", 64)? as usize;
    for _ in 0..args.num("warmup", 5)? {
        one_run(&img, &script, &expect).await?;
    }
    let (_, baseline_rss) = rss_kib();
    let script = Arc::new(script);
    let expect = Arc::new(expect);
    let started = Instant::now();
    let results: Vec<Result<u64, String>> = futures_util::stream::iter(0..n)
        .map(|_| {
            let img = img.clone();
            let script = script.clone();
            let expect = expect.clone();
            tokio::spawn(async move {
                let t = Instant::now();
                one_run(&img, &script, &expect).await?;
                Ok(micros(t.elapsed()))
            })
        })
        .buffer_unordered(conc)
        .map(|j| j.unwrap_or_else(|e| Err(format!("task failed: {e}"))))
        .collect()
        .await;
    let wall = micros(started.elapsed());
    let (hwm, rss) = rss_kib();
    let mut lat = Vec::with_capacity(results.len());
    let mut errors = 0u64;
    let mut first_error = None;
    for r in results {
        match r {
            Ok(l) => lat.push(l),
            Err(e) => {
                errors += 1;
                first_error.get_or_insert(e);
            }
        }
    }
    Ok(json!({
        "latencies_us": lat,
        "wall_us": wall,
        "errors": errors,
        "first_error": first_error,
        "hwm_kib": hwm,
        "rss_kib": rss,
        "baseline_rss_kib": baseline_rss,
    })
    .to_string())
}

/// Scenario 3: upload a file (hash + dedup check + upload), then again (dedup hit); then
/// places it in an image (for scenario 4) after the peak RSS was read.
pub(crate) async fn upload(args: &Args) -> Result<String, String> {
    let c = client(args)?;
    let file = PathBuf::from(args.str("file")?);
    let (_, baseline_rss) = rss_kib();
    let t = Instant::now();
    let first = c
        .files()
        .upload(file.clone())
        .await
        .map_err(|e| format!("first upload: {e}"))?;
    let first_us = micros(t.elapsed());
    let (hwm_first, _) = rss_kib();
    let t = Instant::now();
    let second = c
        .files()
        .upload(file.clone())
        .await
        .map_err(|e| format!("second upload: {e}"))?;
    let second_us = micros(t.elapsed());
    let (hwm, _) = rss_kib();
    if first.uuid() != second.uuid() {
        return Err(format!(
            "the dedup hit returned another file: {} vs {}",
            first.uuid(),
            second.uuid()
        ));
    }
    // Not measured: a run placing the file, so that scenario 4 can download it.
    let dest = args.str("dest")?;
    let out = c
        .images()
        .use_uuid(args.str("image")?)
        .shell("true")
        .file(dest, first.clone())
        .await
        .map_err(|e| format!("placing the file in an image: {e}"))?;
    let placed = out
        .image()
        .and_then(|i| i.id())
        .ok_or("the placing run returned no image")?
        .to_string();
    Ok(json!({
        "first_us": first_us,
        "second_us": second_us,
        "sha256": first.sha256(),
        "file_uuid": first.uuid(),
        "hwm_first_kib": hwm_first,
        "hwm_kib": hwm,
        "baseline_rss_kib": baseline_rss,
        "image": placed,
    })
    .to_string())
}

/// Scenario 4: download a file from an image to disk.
pub(crate) async fn download(args: &Args) -> Result<String, String> {
    let c = client(args)?;
    let img = c.images().use_uuid(args.str("image")?);
    let out = PathBuf::from(args.str("out")?);
    let (_, baseline_rss) = rss_kib();
    let t = Instant::now();
    let written = img
        .download(args.str("path")?, &out)
        .await
        .map_err(|e| format!("download: {e}"))?;
    let us = micros(t.elapsed());
    let (hwm, _) = rss_kib();
    let size = std::fs::metadata(&written)
        .map_err(|e| format!("stat {}: {e}", written.display()))?
        .len();
    Ok(
        json!({ "us": us, "bytes": size, "hwm_kib": hwm, "baseline_rss_kib": baseline_rss })
            .to_string(),
    )
}

//! Branching: prepare one version, fan out N variants from it in parallel, compare.
//!
//! ```sh
//! cargo run --example branching
//! ```

#[path = "common/mod.rs"]
mod common;

use common::short;
use futures_util::StreamExt as _;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (contree, _target) = common::connect().await?;
    let ubuntu = contree.images().oci("ubuntu:latest").await?;

    // One prepared version every variant starts from.
    let base = ubuntu
        .shell("mkdir -p /app && printf '3\\n1\\n2\\n' > /app/input.txt")
        .await?
        .check()?
        .into_image()
        .expect("kept");
    println!("base version {}", short(base.id()));

    // Four variants of one step, at most two at a time; results arrive as they finish.
    let variants = ["sort", "sort -r", "head -n 1", "wc -l"];
    let runs =
        variants.map(|cmd| base.shell(format!("{cmd} /app/input.txt | tee /app/result.txt")));
    let mut results = contree.fan_out(runs).concurrency(2).stream();
    let mut outputs = vec![String::new(); variants.len()];
    while let Some(r) = results.next().await {
        let out = r.output?.check()?;
        let image = out.image().expect("kept");
        println!(
            "variant {:<10} -> {} (version {}, parent {})",
            variants[r.index],
            out.stdout_lossy().trim_end().replace('\n', ","),
            short(image.id()),
            short(image.parent())
        );
        assert_eq!(
            image.parent().map(contree::ImageId::from),
            base.id(),
            "every variant branches from the base"
        );
        outputs[r.index] = out.stdout_lossy().into_owned();
    }
    assert_eq!(outputs[0], "1\n2\n3\n");
    assert_eq!(outputs[1], "3\n2\n1\n");
    let distinct: std::collections::BTreeSet<_> = outputs.iter().collect();
    println!(
        "{} variants, {} distinct outputs; the base is unchanged:",
        variants.len(),
        distinct.len()
    );
    println!(
        "{}",
        base.read_to_string("/app/input.txt")
            .await?
            .replace('\n', " ")
    );
    Ok(())
}

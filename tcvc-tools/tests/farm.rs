// SPDX-License-Identifier: MIT
//! The render-farm recipe on a real scheduler: a single-node Slurm of the test's own on localhost
//! (munged, slurmctld, slurmd; config written by tests/farm/slurm-cluster.sh into a scratch
//! folder) runs examples/farm/slurm-episode.sh — a plan job, a 3-task array of colorize shards
//! and a dependent join — on a short clip with cuts, and the joined episode decodes to the
//! frames of one tcvc-episode process.
#[path = "../../tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Stops the cluster on every exit path.
struct Cluster(PathBuf);

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(common::root().join("tests/farm/slurm-cluster.sh"))
            .arg("stop")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn a_slurm_job_array_colours_an_episode_like_one_process() {
    common::init();
    let dir = common::scratch_dir("farm");
    let clip = common::clip_with_cuts(&dir);
    let cluster_dir = dir.join("slurm");
    let out = Command::new(common::root().join("tests/farm/slurm-cluster.sh"))
        .arg("start")
        .arg(&cluster_dir)
        .output()
        .expect("tests/farm/slurm-cluster.sh runs");
    let _cluster = Cluster(cluster_dir.clone());
    assert!(
        out.status.success(),
        "the single-node Slurm did not start (make setup installs slurmctld slurmd slurm-client munge): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let conf = String::from_utf8_lossy(&out.stdout).trim().to_string();

    let enc = "x264enc pass=quant quantizer=0 speed-preset=ultrafast";
    let bin = Path::new(env!("CARGO_BIN_EXE_tcvc-episode"))
        .parent()
        .unwrap()
        .to_path_buf();
    let result = dir.join("episode-colour.mkv");
    let submit = Command::new(common::root().join("examples/farm/slurm-episode.sh"))
        .arg(&clip)
        .arg(&result)
        .arg("3")
        .env("SLURM_CONF", &conf)
        .env("TCVC_BIN", &bin)
        .env("DEVICE", "cpu")
        .env("THREADS", "1")
        .env("BATCH", "2")
        .env("ENCODER", enc)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&submit.stdout);
    assert!(
        submit.status.success(),
        "sbatch failed: {said} {}",
        String::from_utf8_lossy(&submit.stderr)
    );
    assert!(said.contains("colorize array"), "{said}");

    // Wait for the join (at most 5 minutes), then check every job ended well.
    let t = Instant::now();
    let work = dir.join("episode-colour.mkv.work");
    while !result.exists() {
        let join_log = std::fs::read_to_string(work.join("logs/join.out")).unwrap_or_default();
        assert!(
            t.elapsed() < Duration::from_secs(300),
            "no result after 5 minutes; join log: {join_log}; slurm logs in {}",
            cluster_dir.join("log").display()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    for i in 0..3 {
        let log = std::fs::read_to_string(work.join(format!("logs/shard-{i}.out"))).unwrap();
        assert!(log.contains(&format!("shard {i}/3")), "shard {i}: {log}");
        assert!(work.join(format!("part-{i}.ts")).is_file());
    }

    // One process, same model, encoder and libtorch thread count (CPU fp32 frames are
    // bit-identical at equal thread counts; see docs/farm.md).
    let whole = dir.join("whole.ts");
    let st = Command::new(env!("CARGO_BIN_EXE_tcvc-episode"))
        .args([
            "colorize",
            "--device",
            "cpu",
            "--threads",
            "1",
            "--encoder",
            enc,
        ])
        .arg(&clip)
        .arg("-o")
        .arg(&whole)
        .env("OMP_WAIT_POLICY", "passive")
        .status()
        .unwrap();
    assert!(st.success());
    let a = common::decoded_rgb(&whole);
    let b = common::decoded_rgb(&result);
    assert_eq!(a.len(), common::CUTS_CLIP_FRAMES);
    assert_eq!(b.len(), a.len(), "frame counts");
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!(x == y, "frame {i} differs");
    }
}

//! A full disk is one clean error wherever it strikes: a tiny translation run trained into
//! tmpfs file systems too small for it (mounted in a user namespace with `unshare`, so no root
//! is needed), each either finishing or failing with one `error:` line naming the disk, never
//! a panic, and `resume` continuing it once there is space. Where user namespaces are off it says SKIP on one line (`RNNLAB_REQUIRE_ALL=1`: fails).

mod common;

use std::process::Command;

use common::*;

#[test]
fn a_full_disk_is_one_clean_error_wherever_it_strikes() {
    let tmp = tempfile::tempdir().unwrap();
    // A small disk is a tmpfs mounted in a user namespace; without them, one SKIP line.
    let probe = tmp.path().join("probe");
    std::fs::create_dir_all(&probe).unwrap();
    let mounts = Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount", "sh", "-c"])
        .arg("mount -t tmpfs -o size=4k none \"$1\"")
        .args(["sh", &probe.display().to_string()])
        .output();
    let mounts = match mounts {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!(
            "cannot mount a tmpfs in a user namespace ({})",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Err(format!("no `unshare` ({e})")),
    };
    if !rnnlab_models::testing::run_or_skip(
        "a_full_disk_is_one_clean_error_wherever_it_strikes",
        mounts,
        "apt-get install util-linux, and allow user namespaces (sysctl \
         kernel.unprivileged_userns_clone=1)",
    ) {
        return;
    }
    let mut pairs = String::new();
    for (s, f) in [
        ("I am", "Je suis"),
        ("He is", "Il est"),
        ("We are", "Nous sommes"),
    ] {
        for (a, b) in [
            ("cold", "froid"),
            ("tall", "grand"),
            ("sad", "triste"),
            ("calm", "calme"),
        ] {
            for n in 0..4 {
                pairs.push_str(&format!("{s} {a} {n}.\t{f} {b} {n}.\n"));
            }
        }
    }
    let data = write(tmp.path(), "pairs.tsv", &pairs);
    let exp = write(
        tmp.path(),
        "t.toml",
        &format!(
            "task = \"translate\"\nname = \"disk\"\n[data]\npath = {data:?}\nbatch_size = 8\n\
             [data.vocab]\nmin_freq = 1\n[model]\nd_embed = 8\nd_hidden = 8\n\
             [train]\nepochs = 6\nlog_every = 1\n"
        ),
    );
    let (mut outcomes, mut resumed_any) = (Vec::new(), false);
    for size in ["4k", "12k", "24k", "48k", "96k", "4m"] {
        let mnt = tmp.path().join(format!("mnt-{size}"));
        std::fs::create_dir_all(&mnt).unwrap();
        // What the run left on the full disk, copied out before the namespace (and its
        // tmpfs) goes.
        let kept = tmp.path().join(format!("kept-{size}"));
        let out = Command::new("unshare")
            .args(["--user", "--map-root-user", "--mount", "sh", "-c"])
            .arg(format!(
                "mount -t tmpfs -o size={size} none \"$1\" || exit 99; \"$2\" train \"$3\" --runs \"$1/runs\"; \
                 status=$?; cp -r \"$1/runs\" \"$4\" 2>/dev/null; exit $status"
            ))
            .args(["sh", &mnt.display().to_string(), env!("CARGO_BIN_EXE_rnnlab"), &exp])
            .arg(&kept)
            .env("BURN_DEVICE", "flex")
            .output()
            .expect("unshare (util-linux) runs");
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert_ne!(
            out.status.code(),
            Some(99),
            "cannot mount a tmpfs in a user namespace here ({stderr})"
        );
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        if out.status.success() {
            outcomes.push(true);
            continue;
        }
        assert!(
            lines.len() == 1 && lines[0].starts_with("error: ") && !stderr.contains("panicked"),
            "tmpfs of {size}: one clean error line, got:\n{stderr}"
        );
        assert!(
            lines[0].contains("No space left on device"),
            "tmpfs of {size}: the error names the full disk: {}",
            lines[0]
        );
        outcomes.push(false);
        // With space again, `resume` continues from the last complete checkpoint.
        let Some(run) = std::fs::read_dir(kept.join("disk"))
            .ok()
            .and_then(|mut d| d.next())
            .map(|e| e.unwrap().path())
        else {
            continue;
        };
        let resumed = rnnlab(&["resume", &run.display().to_string()]);
        if resumed.ok {
            resumed_any = true;
        } else {
            assert!(
                resumed.stderr.contains("no complete checkpoint"),
                "tmpfs of {size}: {}",
                resumed.stderr
            );
        }
    }
    assert!(
        resumed_any,
        "a run stopped by the full disk resumes once there is space"
    );
    assert!(
        outcomes.contains(&false) && outcomes.last() == Some(&true),
        "the small disks fill up and the large one does not: {outcomes:?}"
    );
}

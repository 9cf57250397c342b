//! Compiles every `ebpf/*.c` into a BPF object in OUT_DIR with clang.
//!
//! Needs (Debian): `clang` (clang -target bpf), `libbpf-dev` (<bpf/bpf_helpers.h>) and
//! `linux-libc-dev` (<linux/bpf.h>, <asm/types.h> under /usr/include/<multiarch>).

use std::{
    env,
    path::{Path, PathBuf},
    process::Command,
};

const PROGRAMS: &[&str] = &[
    "keyed",
    "queue_stack",
    "bloom",
    "ringbuf",
    "for_each",
    "percpu_lookup",
    "sockets",
    "xdp_stats",
    "declared",
    "stackid",
    "under_cgroup",
    "user_ringbuf",
    "cgroup_skb",
    "redirect",
    "tail_call",
    "perf_output",
    "fd_progs",
];

fn fail(msg: &str) -> ! {
    // A panic in build.rs is shown by cargo with this message.
    panic!(
        "\n\nmapconform: cannot build the BPF programs in ebpf/: {msg}\n\
         Install the Debian packages: clang libbpf-dev linux-libc-dev\n\
         (apt-get install --no-install-recommends clang libbpf-dev linux-libc-dev)\n\
         or point $CLANG at a clang that can target bpf.\n"
    );
}

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let ebpf_dir = manifest.join("..").join("ebpf");
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    let clang = env::var("CLANG").unwrap_or_else(|_| "clang".to_string());
    println!("cargo:rerun-if-env-changed=CLANG");
    println!("cargo:rerun-if-changed={}", ebpf_dir.join("request.h").display());

    // clang must exist and know the bpf target.
    match Command::new(&clang).arg("--version").output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => fail(&format!(
            "`{clang} --version` failed: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => fail(&format!("`{clang}` not found ({e}); Debian package: clang")),
    }

    // The multiarch include dir holds <asm/types.h>, needed by <linux/types.h>.
    let multiarch = Command::new(&clang)
        .arg("-print-multiarch")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| format!("{}-linux-gnu", env::var("CARGO_CFG_TARGET_ARCH").unwrap()));
    let multiarch_inc = Path::new("/usr/include").join(&multiarch);

    for (header, package) in [
        ("/usr/include/bpf/bpf_helpers.h", "libbpf-dev"),
        ("/usr/include/linux/bpf.h", "linux-libc-dev"),
    ] {
        if !Path::new(header).exists() {
            fail(&format!("{header} is missing (Debian package: {package})"));
        }
    }
    if !multiarch_inc.join("asm/types.h").exists() {
        fail(&format!(
            "{}/asm/types.h is missing (Debian package: linux-libc-dev)",
            multiarch_inc.display()
        ));
    }

    for name in PROGRAMS {
        let src = ebpf_dir.join(format!("{name}.c"));
        let obj = out_dir.join(format!("{name}.o"));
        println!("cargo:rerun-if-changed={}", src.display());
        let output = Command::new(&clang)
            .args(["-O2", "-g", "-target", "bpf", "-fno-builtin", "-Wall", "-Werror"])
            .arg("-I")
            .arg(&ebpf_dir)
            .arg("-I")
            .arg(&multiarch_inc)
            .arg("-c")
            .arg(&src)
            .arg("-o")
            .arg(&obj)
            .output()
            .unwrap_or_else(|e| fail(&format!("running {clang}: {e}")));
        if !output.status.success() {
            fail(&format!(
                "{clang} failed on {}:\n{}",
                src.display(),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
    }
}

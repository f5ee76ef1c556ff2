//! The mesh's resident memory: each `foodmesh serve <process>` found in
//! `/proc`, its `VmRSS`. Read when the mesh is idle — before the first
//! scenario, and again after the last once the machine is quiet — since
//! a service's footprint at rest is what a small deployment pays for each
//! replica, and the second reading shows what the load left behind.

use std::collections::BTreeMap;
use std::path::Path;

/// Process name (`gateway`, `order-svc`, …) → resident KiB. Empty where
/// there is no `/proc` or no mesh process is found.
pub fn mesh_rss_kib() -> BTreeMap<String, u64> {
    let mut found = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let dir = entry.path();
        if let Some((name, kib)) = serving(&dir) {
            // Replicas of one process add up under its name.
            *found.entry(name).or_insert(0) += kib;
        }
    }
    found
}

/// The process `dir` describes, if it is `foodmesh serve <name>`, with
/// its resident KiB.
fn serving(dir: &Path) -> Option<(String, u64)> {
    let cmdline = std::fs::read(dir.join("cmdline")).ok()?;
    let mut args = cmdline.split(|b| *b == 0).filter(|a| !a.is_empty());
    let exe = args.next()?;
    if !exe.ends_with(b"foodmesh") || args.next()? != b"serve" {
        return None;
    }
    let name = String::from_utf8_lossy(args.next()?).into_owned();
    let status = std::fs::read_to_string(dir.join("status")).ok()?;
    Some((name, vm_rss_kib(&status)?))
}

/// `VmRSS` of a `/proc/<pid>/status` text, in KiB.
fn vm_rss_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .and_then(|n| n.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vm_rss_from_a_status_text() {
        let status = "Name:\tfoodmesh\nVmPeak:\t  90000 kB\nVmRSS:\t   12345 kB\nThreads:\t4\n";
        assert_eq!(vm_rss_kib(status), Some(12345));
        assert_eq!(vm_rss_kib("Name:\tx\n"), None);
    }

    #[test]
    fn finds_this_process_only_when_it_is_a_mesh_process() {
        // The test binary is not `foodmesh serve …`.
        let own = Path::new("/proc/self");
        assert_eq!(serving(own), None);
    }
}

//! The mesh's resident memory: each `foodmesh serve <process>` found in
//! `/proc`, its resident set (`VmRSS`) and its proportional share of it
//! (`Pss`). Read when the mesh is idle — before the first scenario, and
//! again after the last once the machine is quiet — since a service's
//! footprint at rest is what a small deployment pays for each replica,
//! and the second reading shows what the load left behind.
//!
//! The two differ because every mesh process runs the one `foodmesh`
//! binary: the code pages each has touched count whole in its RSS but are
//! in memory once, and PSS divides them among the processes sharing them.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

/// One process's memory, in KiB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Resident {
    /// `VmRSS`: every page it has in memory, shared ones included.
    pub rss_kib: u64,
    /// `Pss`: its own pages plus its share of the shared ones (0 where
    /// `smaps_rollup` is not readable).
    pub pss_kib: u64,
}

/// Process name (`gateway`, `order-svc`, …) → its memory. Empty where
/// there is no `/proc` or no mesh process is found.
pub fn mesh_memory() -> BTreeMap<String, Resident> {
    let mut found = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let dir = entry.path();
        if let Some((name, rss_kib)) = serving(&dir) {
            let pss_kib = std::fs::read_to_string(dir.join("smaps_rollup"))
                .ok()
                .and_then(|rollup| field_kib(&rollup, "Pss:"))
                .unwrap_or(0);
            // Replicas of one process add up under its name.
            let total: &mut Resident = found.entry(name).or_default();
            total.rss_kib += rss_kib;
            total.pss_kib += pss_kib;
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
    Some((name, field_kib(&status, "VmRSS:")?))
}

/// The KiB of `field` (`"VmRSS:"`, `"Pss:"`) in a `/proc` text.
fn field_kib(text: &str, field: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .and_then(|n| n.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kib_fields_from_proc_texts() {
        let status = "Name:\tfoodmesh\nVmPeak:\t  90000 kB\nVmRSS:\t   12345 kB\nThreads:\t4\n";
        assert_eq!(field_kib(status, "VmRSS:"), Some(12345));
        assert_eq!(field_kib("Name:\tx\n", "VmRSS:"), None);
        assert_eq!(
            field_kib("Rss:   200 kB\nPss:    80 kB\n", "Pss:"),
            Some(80)
        );
    }

    #[test]
    fn finds_this_process_only_when_it_is_a_mesh_process() {
        // The test binary is not `foodmesh serve …`.
        let own = Path::new("/proc/self");
        assert_eq!(serving(own), None);
    }
}

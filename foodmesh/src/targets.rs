//! The scrape targets of a local mesh, for Prometheus' file-based
//! discovery: where Consul tells a deployed Prometheus what to scrape,
//! `foodmesh up` writes the list to a file that `prometheus-local.yml`
//! reads, and removes it when the mesh stops.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use foodmesh_shared::ServiceName;

/// Where the list goes unless `--prometheus-targets` says otherwise:
/// `/tmp/foodmesh/prometheus-targets.json` on most systems.
pub fn default_path() -> PathBuf {
    std::env::temp_dir()
        .join("foodmesh")
        .join("prometheus-targets.json")
}

/// The list in Prometheus' `file_sd_configs` format: one group per
/// process, labelled `service` as Consul discovery labels them (each
/// serves `/metrics` on its own port).
pub fn list(host: &str, gateway_port: u16, services: &HashMap<ServiceName, u16>) -> String {
    let mut groups: Vec<(&str, u16)> = ServiceName::ALL
        .into_iter()
        .filter_map(|s| services.get(&s).map(|port| (s.service_id(), *port)))
        .collect();
    groups.push(("gateway", gateway_port));
    let groups: Vec<serde_json::Value> = groups
        .into_iter()
        .map(|(service, port)| {
            serde_json::json!({
                "targets": [format!("{host}:{port}")],
                "labels": {"service": service},
            })
        })
        .collect();
    serde_json::Value::Array(groups).to_string()
}

/// Writes `list` to `path` whole: Prometheus rereads the file when it
/// changes, so it never sees half of one.
///
/// # Errors
/// The folder cannot be made or the file written.
pub fn write(path: &Path, list: &str) -> anyhow::Result<()> {
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder)
            .with_context(|| format!("cannot make {}", folder.display()))?;
    }
    let partial = path.with_extension("json.partial");
    std::fs::write(&partial, list)
        .with_context(|| format!("cannot write {}", partial.display()))?;
    std::fs::rename(&partial, path).with_context(|| format!("cannot write {}", path.display()))
}

/// Removes the list, so Prometheus stops scraping a mesh that is gone.
pub fn remove(path: &Path) {
    if let Err(e) = std::fs::remove_file(path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        eprintln!("foodmesh: {} not removed: {e}", path.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_process_is_a_target_labelled_with_its_service() {
        let services: HashMap<ServiceName, u16> =
            ServiceName::ALL.into_iter().zip(8001..).collect();
        let list: serde_json::Value =
            serde_json::from_str(&list("127.0.0.1", 8000, &services)).expect("json");
        let groups = list.as_array().expect("a list of groups");
        assert_eq!(groups.len(), 7);
        let gateway = groups
            .iter()
            .find(|g| g["labels"]["service"] == "gateway")
            .expect("the gateway");
        assert_eq!(gateway["targets"], serde_json::json!(["127.0.0.1:8000"]));
        let order = groups
            .iter()
            .find(|g| g["labels"]["service"] == ServiceName::Order.service_id())
            .expect("order-svc");
        assert_eq!(
            order["targets"],
            serde_json::json!([format!("127.0.0.1:{}", services[&ServiceName::Order])])
        );
    }

    #[test]
    fn the_list_is_written_whole_and_removed() {
        let folder = std::env::temp_dir().join(format!("foodmesh-targets-{}", std::process::id()));
        let path = folder.join("targets.json");
        write(&path, "[]").expect("written");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "[]");
        remove(&path);
        assert!(!path.exists());
        let _ = std::fs::remove_dir(&folder);
    }
}

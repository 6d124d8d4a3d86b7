//! A real Redis Cluster of three masters, no replicas: three redis-server processes in
//! cluster mode, joined by `redis-cli --cluster create` (each master gets a third of the
//! 16,384 slots). ElastiCache Serverless is always a cluster: this is what shows that every
//! script's keys share a slot (a stray key is CROSSSLOT) and that a slot moving (MOVED) is
//! followed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::deps;
use crate::server::Server;
use crate::store::Redis;

pub struct RedisCluster {
    /// The masters, in port order.
    pub nodes: Vec<Server>,
    ports: Vec<u16>,
}

impl RedisCluster {
    /// Three masters on `base`, `base + 1` and `base + 2`, each with its folder (and its
    /// `nodes.conf`) under `dir`, logs there too. Returns once the cluster says `cluster_state:ok`.
    pub fn start(base: u16, dir: &Path) -> anyhow::Result<Self> {
        let ports: Vec<u16> = (base..base + 3).collect();
        let mut nodes = Vec::new();
        for &port in &ports {
            let node_dir = dir.join(port.to_string());
            // A cluster config from an earlier run names other node IDs: start afresh.
            let _ = std::fs::remove_dir_all(&node_dir);
            std::fs::create_dir_all(&node_dir)
                .with_context(|| format!("creating {}", node_dir.display()))?;
            let mut server = Redis::new(port)
                .dir(&node_dir)
                .arg("--cluster-enabled")
                .arg("yes")
                .arg("--cluster-config-file")
                .arg("nodes.conf")
                .arg("--cluster-node-timeout")
                .arg("5000")
                .spawn(node_dir.join("redis.log"))?;
            server.wait_ready(Duration::from_secs(10))?;
            nodes.push(server);
        }
        let cluster = RedisCluster { nodes, ports };
        cluster.create()?;
        cluster.wait_ok(Duration::from_secs(30))?;
        Ok(cluster)
    }

    fn create(&self) -> anyhow::Result<()> {
        let mut args: Vec<String> = vec!["--cluster".into(), "create".into()];
        args.extend(self.ports.iter().map(|p| format!("127.0.0.1:{p}")));
        args.extend([
            "--cluster-replicas".into(),
            "0".into(),
            "--cluster-yes".into(),
        ]);
        let out = Command::new(deps::find_program("redis-cli")?)
            .args(&args)
            .output()
            .context("running redis-cli --cluster create")?;
        if !out.status.success() {
            bail!(
                "redis-cli --cluster create failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }

    /// Until every master reports `cluster_state:ok` (the slots are assigned and every node
    /// knows every other).
    fn wait_ok(&self, timeout: Duration) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            let ok = self.ports.iter().all(|&p| {
                cli(p, &["CLUSTER", "INFO"]).is_ok_and(|info| info.contains("cluster_state:ok"))
            });
            if ok {
                return Ok(());
            }
            if started.elapsed() > timeout {
                bail!(
                    "the cluster on {:?} is not ok after {timeout:?}",
                    self.ports
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn ports(&self) -> &[u16] {
        &self.ports
    }

    /// The slot of `key` (by its hash tag, if it has one).
    pub fn slot(&self, key: &str) -> anyhow::Result<u16> {
        let out = cli(self.ports[0], &["CLUSTER", "KEYSLOT", key])?;
        out.trim()
            .parse()
            .context("CLUSTER KEYSLOT answers a number")
    }

    /// The port of the master that serves `slot`, as the first node sees it.
    pub fn owner(&self, slot: u16) -> anyhow::Result<u16> {
        Ok(self
            .masters()?
            .into_iter()
            .find(|m| m.serves(slot))
            .context("no master serves the slot")?
            .port)
    }

    /// The masters and the slot ranges each serves, from `CLUSTER NODES` on the first node.
    pub fn masters(&self) -> anyhow::Result<Vec<Master>> {
        let out = cli(self.ports[0], &["CLUSTER", "NODES"])?;
        Ok(out.lines().filter_map(Master::parse).collect())
    }

    /// Moves `slot`, with its keys, to the master on `to`, as `redis-cli --cluster reshard`
    /// does for one slot: IMPORTING on the target, MIGRATING on the source, MIGRATE of its
    /// keys, then the slot assigned to the target on every node. A client that still sends
    /// the slot's keys to the old master is answered MOVED.
    pub fn move_slot(&self, slot: u16, to: u16) -> anyhow::Result<()> {
        let masters = self.masters()?;
        let from = masters
            .iter()
            .find(|m| m.serves(slot))
            .context("no master serves the slot")?;
        let target = masters
            .iter()
            .find(|m| m.port == to)
            .context("no master on that port")?;
        if from.port == to {
            return Ok(());
        }
        let slot_text = slot.to_string();
        cli(
            to,
            &["CLUSTER", "SETSLOT", &slot_text, "IMPORTING", &from.id],
        )?;
        cli(
            from.port,
            &["CLUSTER", "SETSLOT", &slot_text, "MIGRATING", &target.id],
        )?;
        loop {
            let keys = cli(from.port, &["CLUSTER", "GETKEYSINSLOT", &slot_text, "100"])?;
            let keys: Vec<&str> = keys.lines().filter(|k| !k.is_empty()).collect();
            if keys.is_empty() {
                break;
            }
            let to_text = to.to_string();
            let mut args = vec!["MIGRATE", "127.0.0.1", &to_text, "", "0", "5000", "KEYS"];
            args.extend(keys);
            cli(from.port, &args)?;
        }
        for &port in &self.ports {
            cli(
                port,
                &["CLUSTER", "SETSLOT", &slot_text, "NODE", &target.id],
            )?;
        }
        Ok(())
    }

    /// One node's URL: a cluster client finds the others from it.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.ports[0])
    }

    /// Stops every master (TERM, then KILL).
    pub fn stop(&mut self) -> anyhow::Result<()> {
        for node in &mut self.nodes {
            node.stop()?;
        }
        Ok(())
    }
}

/// A master as `CLUSTER NODES` lists it.
#[derive(Debug, Clone)]
pub struct Master {
    pub id: String,
    pub port: u16,
    /// Inclusive ranges.
    pub slots: Vec<(u16, u16)>,
}

impl Master {
    /// `<id> <ip:port@bus> <flags> <master> <ping> <pong> <epoch> <link> <slot>...`; None for a
    /// replica or a line it cannot read. Slots being imported or migrated (`[...]`) are skipped.
    fn parse(line: &str) -> Option<Master> {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 8 || !fields[2].split(',').any(|f| f == "master") {
            return None;
        }
        let port = fields[1]
            .split('@')
            .next()?
            .rsplit(':')
            .next()?
            .parse()
            .ok()?;
        let slots = fields[8..]
            .iter()
            .filter(|s| !s.starts_with('['))
            .filter_map(|s| match s.split_once('-') {
                Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
                None => s.parse().ok().map(|n| (n, n)),
            })
            .collect();
        Some(Master {
            id: fields[0].to_owned(),
            port,
            slots,
        })
    }

    pub fn serves(&self, slot: u16) -> bool {
        self.slots.iter().any(|&(a, b)| (a..=b).contains(&slot))
    }
}

/// `redis-cli -p PORT ARGS...`, its output as text.
pub fn cli(port: u16, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(deps::find_program("redis-cli")?)
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .output()
        .context("running redis-cli")?;
    if !out.status.success() {
        bail!(
            "redis-cli {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The folder the `stack` command keeps a named cluster's nodes in.
pub fn folder(name: &str) -> PathBuf {
    crate::run_dir().join(format!("{name}-cluster"))
}

#[cfg(test)]
mod live {
    use super::*;
    use crate::probe::free_port;

    /// A real cluster, where redis-server is installed: three masters, every slot served.
    #[test]
    fn three_masters_serve_every_slot() {
        if deps::find_program("redis-server").is_err() {
            eprintln!("skipped: no redis-server");
            return;
        }
        let dir = std::env::temp_dir().join(format!("stack-cluster-{}", std::process::id()));
        let base = (21200..21290)
            .step_by(3)
            .find(|&b| (b..b + 3).all(|p| free_port(p..p + 1).is_ok()))
            .expect("three free ports");
        let cluster = RedisCluster::start(base, &dir).unwrap();
        let info = cli(base, &["CLUSTER", "INFO"]).unwrap();
        assert!(info.contains("cluster_slots_assigned:16384"), "{info}");
        assert!(info.contains("cluster_size:3"), "{info}");
        let slot = cluster.slot("{t:demo}:wait").unwrap();
        assert_eq!(
            cluster.slot("{t:demo}:seen").unwrap(),
            slot,
            "one tag, one slot"
        );
        let from = cluster.owner(slot).unwrap();
        let to = *cluster.ports().iter().find(|&&p| p != from).unwrap();
        cli(from, &["SET", "{t:demo}:wait", "x"]).unwrap();
        cluster.move_slot(slot, to).unwrap();
        assert_eq!(cluster.owner(slot).unwrap(), to);
        assert_eq!(
            cli(to, &["GET", "{t:demo}:wait"]).unwrap().trim(),
            "x",
            "the key moved with its slot"
        );
        drop(cluster);
        let _ = std::fs::remove_dir_all(dir);
    }
}

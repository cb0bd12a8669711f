//! `slotway demo`: a local Redis Cluster from the installed redis-server, the
//! proxy in front of it, and clean-up of everything on Ctrl-C.

use anyhow::{Context, Result};
use slotway_core::Config;
use slotway_fixture::Cluster;

/// Starts the cluster, serves until a signal, then stops the cluster (the
/// fixture kills its processes by PID and removes its directory on drop).
pub fn run(mut config: Config, masters: usize, replicas: usize) -> Result<()> {
    slotway_fixture::check_binaries(&["redis-server", "redis-cli"])
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    eprintln!("starting a local Redis Cluster: {masters} masters, {replicas} replica(s) each…");
    let cluster = Cluster::builder()
        .masters(masters)
        .replicas(replicas)
        .start()
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("starting the demo cluster")?;
    config.cluster.seeds = cluster.seeds();
    let settings = config.validate()?;
    let listen = settings.listen;
    eprintln!(
        "cluster nodes: {}\n\nSlotway is serving on {listen}. Try:\n\n    redis-cli -p {} set hello world\n    redis-cli -p {} get hello\n    redis-benchmark -p {} -t set,get -q\n\nPress Ctrl-C to stop the proxy and remove the cluster.\n",
        cluster.seeds().join(" "),
        listen.port(),
        listen.port(),
        listen.port(),
    );
    let result = crate::serve(settings, None);
    drop(cluster);
    eprintln!("demo cluster stopped and removed");
    result
}

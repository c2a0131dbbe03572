//! Looking objects up by key: `find_path(s)` by address pair and `find_tcp(s)` by 4-tuple,
//! the keys a host keeps one object per (`host/keys.rs`). Batches answer 0 where nothing
//! matches: no valid handle is 0, since tree id 0 is never used.

use super::{check_batch, check_length, Engine};
use crate::host::TcpKey;
use crate::model::{check_port, Error, Result, Value};

impl Engine {
    /// The path from `source` to `destination`, if the tree has one.
    pub fn find_path(&self, source: &Value, destination: &Value) -> Result<Option<u64>> {
        let key = (source.to_ip("source")?, destination.to_ip("destination")?);
        Ok(self.host.find_path(&key).map(|h| h.raw()))
    }

    /// `find_path` for each (source, destination) pair; 0 where the tree has none.
    pub fn find_paths(&self, sources: &[Value], destinations: &[Value]) -> Result<Vec<u64>> {
        check_batch(sources.len())?;
        check_length("destinations", sources.len(), destinations.len(), "sources")?;
        let mut out = self.budget.vec(sources.len())?;
        for (i, (source, destination)) in sources.iter().zip(destinations).enumerate() {
            self.interrupts.poll(i)?;
            let found = self.find_path(source, destination).map_err(|e| e.at(i))?;
            out.push(found.unwrap_or(0));
        }
        Ok(out)
    }

    /// The connection with this 4-tuple, if the tree has one.
    pub fn find_tcp(
        &self,
        source: &Value,
        destination: &Value,
        local_port: &Value,
        remote_port: &Value,
    ) -> Result<Option<u64>> {
        let key = (source.to_ip("source")?, destination.to_ip("destination")?);
        let port = |name: &str, value: &Value| check_port(name, value.to_int(name)?);
        let (local, remote) = (
            port("local_port", local_port)?,
            port("remote_port", remote_port)?,
        );
        Ok(self.find_tcp_on(&key, local, remote))
    }

    /// `find_tcp` for each item; 0 where the tree has none.
    pub fn find_tcps(
        &self,
        sources: &[Value],
        destinations: &[Value],
        local_ports: &[i64],
        remote_ports: &[i64],
    ) -> Result<Vec<u64>> {
        let n = sources.len();
        check_batch(n)?;
        check_length("destinations", n, destinations.len(), "sources")?;
        check_length("local_ports", n, local_ports.len(), "sources")?;
        check_length("remote_ports", n, remote_ports.len(), "sources")?;
        let mut out = self.budget.vec(n)?;
        for i in 0..n {
            self.interrupts.poll(i)?;
            let at = |e: Error| e.at(i);
            let key = (
                sources[i].to_ip("source").map_err(at)?,
                destinations[i].to_ip("destination").map_err(at)?,
            );
            let local = check_port("local_port", i128::from(local_ports[i])).map_err(at)?;
            let remote = check_port("remote_port", i128::from(remote_ports[i])).map_err(at)?;
            out.push(self.find_tcp_on(&key, local, remote).unwrap_or(0));
        }
        Ok(out)
    }

    fn find_tcp_on(&self, path_key: &crate::host::PathKey, local: u16, remote: u16) -> Option<u64> {
        let path = self.host.find_path(path_key)?;
        let tcp = self
            .host
            .find_tcp(TcpKey::new(path.slot(), local, remote))?;
        Some(tcp.raw())
    }
}

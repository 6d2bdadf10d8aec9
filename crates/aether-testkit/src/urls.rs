//! [`ClientUrls`]: the client URLs of a cluster, usable directly with `async_nats::connect`.

use std::fmt;

use async_nats::{ServerAddr, ToServerAddrs};

/// The client URLs of all nodes of a [`crate::NatsCluster`].
///
/// async-nats 0.51 does not split a comma-joined string into several servers, so this type
/// implements [`ToServerAddrs`]: `async_nats::connect(cluster.client_url())` connects to any
/// node and fails over between them. It also implements [`aether_nats::ToServerAddrs`], so
/// every Aether `connect` door takes it too. [`Display`](fmt::Display) (and `to_string()`) gives the
/// comma-joined form `nats://127.0.0.1:P1,nats://127.0.0.1:P2,nats://127.0.0.1:P3`, for
/// configs and tools that split on commas themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientUrls(Vec<String>);

impl ClientUrls {
    pub(crate) fn new(urls: Vec<String>) -> Self {
        ClientUrls(urls)
    }

    /// The URLs, one per node, in node order.
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    /// The comma-joined form.
    pub fn joined(&self) -> String {
        self.0.join(",")
    }
}

impl fmt::Display for ClientUrls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.joined())
    }
}

impl ToServerAddrs for ClientUrls {
    type Iter = std::vec::IntoIter<ServerAddr>;

    fn to_server_addrs(&self) -> std::io::Result<Self::Iter> {
        self.0.to_server_addrs()
    }
}

impl aether_nats::ToServerAddrs for ClientUrls {
    fn to_server_addrs(&self) -> Result<Vec<ServerAddr>, String> {
        aether_nats::ToServerAddrs::to_server_addrs(&self.0)
    }
}

impl From<ClientUrls> for String {
    fn from(urls: ClientUrls) -> String {
        urls.joined()
    }
}

impl From<ClientUrls> for Vec<String> {
    fn from(urls: ClientUrls) -> Vec<String> {
        urls.0
    }
}

impl PartialEq<String> for ClientUrls {
    fn eq(&self, other: &String) -> bool {
        self.joined() == *other
    }
}

impl PartialEq<str> for ClientUrls {
    fn eq(&self, other: &str) -> bool {
        self.joined() == other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_and_parses_each_url() {
        let urls = ClientUrls::new(vec![
            "nats://127.0.0.1:1".to_string(),
            "nats://127.0.0.1:2".to_string(),
        ]);
        assert_eq!(urls.to_string(), "nats://127.0.0.1:1,nats://127.0.0.1:2");
        assert_eq!(urls, "nats://127.0.0.1:1,nats://127.0.0.1:2".to_string());
        let addrs: Vec<ServerAddr> = urls.to_server_addrs().unwrap().collect();
        assert_eq!(addrs.len(), 2);
        assert_eq!(addrs[1].port(), 2);
    }
}

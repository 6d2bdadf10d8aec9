//! [`ToServerAddrs`]: the server addresses every `connect` door accepts.

use async_nats::ServerAddr;

/// Server addresses, as every Aether `connect` takes them: a URL
/// (`nats://host:4222`, `tls://host`, `host:4222`), several URLs in one
/// string separated by commas (as the `nats` CLI's `--server` and `NATS_URL`
/// take them), a slice, array or `Vec` of such strings, or async-nats's
/// [`ServerAddr`].
///
/// ```
/// use aether_nats::ToServerAddrs;
/// assert_eq!("nats://a:4222, nats://b:4223".to_server_addrs().unwrap().len(), 2);
/// assert_eq!(["nats://a:1", "nats://b:2"].to_server_addrs().unwrap().len(), 2);
/// assert!("".to_server_addrs().is_err());
/// assert!("nats://a:notaport".to_server_addrs().is_err());
/// ```
pub trait ToServerAddrs {
    /// The addresses, or why they are not addresses.
    fn to_server_addrs(&self) -> Result<Vec<ServerAddr>, String>;
}

fn parse_list(s: &str) -> Result<Vec<ServerAddr>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let addr = part
            .parse::<ServerAddr>()
            .map_err(|e| format!("invalid NATS server address {part:?}: {e}"))?;
        out.push(addr);
    }
    if out.is_empty() {
        return Err(format!("no NATS server address in {s:?}"));
    }
    Ok(out)
}

impl ToServerAddrs for str {
    fn to_server_addrs(&self) -> Result<Vec<ServerAddr>, String> {
        parse_list(self)
    }
}

impl ToServerAddrs for String {
    fn to_server_addrs(&self) -> Result<Vec<ServerAddr>, String> {
        parse_list(self)
    }
}

impl<T: AsRef<str>> ToServerAddrs for [T] {
    fn to_server_addrs(&self) -> Result<Vec<ServerAddr>, String> {
        let mut out = Vec::new();
        for s in self {
            out.extend(parse_list(s.as_ref())?);
        }
        if out.is_empty() {
            return Err("no NATS server address given".to_owned());
        }
        Ok(out)
    }
}

impl<T: AsRef<str>, const N: usize> ToServerAddrs for [T; N] {
    fn to_server_addrs(&self) -> Result<Vec<ServerAddr>, String> {
        self.as_slice().to_server_addrs()
    }
}

impl<T: AsRef<str>> ToServerAddrs for Vec<T> {
    fn to_server_addrs(&self) -> Result<Vec<ServerAddr>, String> {
        self.as_slice().to_server_addrs()
    }
}

impl ToServerAddrs for ServerAddr {
    fn to_server_addrs(&self) -> Result<Vec<ServerAddr>, String> {
        Ok(vec![self.clone()])
    }
}

impl<T: ToServerAddrs + ?Sized> ToServerAddrs for &T {
    fn to_server_addrs(&self) -> Result<Vec<ServerAddr>, String> {
        (**self).to_server_addrs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_list_syntax_everywhere() {
        let one = "nats://127.0.0.1:4222".to_server_addrs().unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].port(), 4222);
        let many = "nats://127.0.0.1:1,nats://127.0.0.1:2,"
            .to_server_addrs()
            .unwrap();
        assert_eq!(many.iter().map(|a| a.port()).collect::<Vec<_>>(), [1, 2]);
        let owned = String::from("127.0.0.1:5").to_server_addrs().unwrap();
        assert_eq!(owned[0].port(), 5);
        let list = vec!["nats://a:1".to_owned(), "nats://b:2,nats://c:3".to_owned()];
        assert_eq!(list.to_server_addrs().unwrap().len(), 3);
        let addr: ServerAddr = "nats://a:9".parse().unwrap();
        assert_eq!(addr.to_server_addrs().unwrap().len(), 1);
    }

    #[test]
    fn bad_addresses_name_the_bad_part() {
        let err = "nats://a:1,nats://b:xx".to_server_addrs().unwrap_err();
        assert!(err.contains("nats://b:xx"), "{err}");
        assert!(" , ".to_server_addrs().is_err());
        assert!(Vec::<String>::new().to_server_addrs().is_err());
    }
}

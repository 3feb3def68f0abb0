//! Netlink handles bound to a network namespace, and the few link,
//! address and route operations pod wiring and the overlay need, over
//! `rtnetlink`. No policy lives here: callers say what to create.

use std::{
    fs::File,
    net::{IpAddr, Ipv4Addr},
    os::fd::AsFd as _,
    path::{Path, PathBuf},
};

use futures::TryStreamExt as _;
use nix::sched::{CloneFlags, setns};
use rtnetlink::{
    Handle, LinkUnspec, RouteMessageBuilder,
    packet_route::{
        address::AddressAttribute,
        link::{LinkAttribute, LinkMessage},
        route::{RouteAddress, RouteAttribute, RouteMessage, RouteScope},
    },
};

/// A netlink failure, with what was being done.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The network namespace could not be opened or entered.
    #[error("network namespace {path}: {source}")]
    Netns {
        /// The namespace's path.
        path: PathBuf,
        /// The OS's reason.
        #[source]
        source: std::io::Error,
    },
    /// A netlink socket could not be opened.
    #[error("opening a netlink socket: {0}")]
    Socket(#[source] std::io::Error),
    /// The kernel refused a request.
    #[error("{what}: {source}")]
    Request {
        /// What was asked.
        what: String,
        /// The kernel's answer.
        #[source]
        source: rtnetlink::Error,
    },
    /// Something expected is not there.
    #[error("{0}")]
    Missing(String),
    /// A /proc/sys file could not be read or written.
    #[error("{path}: {source}")]
    Sysctl {
        /// The file.
        path: PathBuf,
        /// The OS's reason.
        #[source]
        source: std::io::Error,
    },
}

impl NetError {
    /// The errno of a refused request (`libc::EEXIST`, ...), if any.
    pub fn errno(&self) -> Option<i32> {
        match self {
            NetError::Request { source, .. } => errno(source),
            _ => None,
        }
    }
}

/// The errno the kernel refused a netlink request with, if it did.
pub fn errno(error: &rtnetlink::Error) -> Option<i32> {
    match error {
        rtnetlink::Error::NetlinkError(message) => message.code.map(|c| -c.get()),
        _ => None,
    }
}

fn request(what: impl Into<String>) -> impl FnOnce(rtnetlink::Error) -> NetError {
    let what = what.into();
    move |source| NetError::Request { what, source }
}

/// An open network namespace file (kept open while its fd is in use).
pub struct Netns {
    file: File,
    path: PathBuf,
}

impl Netns {
    /// Opens the namespace at `path` (`/var/run/netns/x`, `/proc/<pid>/ns/net`).
    pub fn open(path: &Path) -> Result<Netns, NetError> {
        let file = File::open(path).map_err(|source| NetError::Netns {
            path: path.to_owned(),
            source,
        })?;
        Ok(Netns {
            file,
            path: path.to_owned(),
        })
    }

    /// The namespace's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The raw fd, for `IFLA_NET_NS_FD`.
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd as _;
        self.file.as_raw_fd()
    }

    /// A netlink handle whose socket lives in this namespace (a socket
    /// keeps the namespace it was opened in). The calling thread enters the
    /// namespace only to open it, with nothing else in between, and goes
    /// back; should it be unable to go back, the process aborts rather than
    /// go on in the wrong namespace. That costs two setns(2) calls, against
    /// a thread's creation and join. Needs a Tokio runtime.
    pub fn handle(&self) -> Result<Handle, NetError> {
        const OWN: &str = "/proc/thread-self/ns/net";
        let own = File::open(OWN).map_err(|source| NetError::Netns {
            path: PathBuf::from(OWN),
            source,
        })?;
        setns(self.file.as_fd(), CloneFlags::CLONE_NEWNET).map_err(|e| NetError::Netns {
            path: self.path.clone(),
            source: e.into(),
        })?;
        let opened = rtnetlink::new_connection();
        if let Err(e) = setns(own.as_fd(), CloneFlags::CLONE_NEWNET) {
            eprintln!("strait-cni: cannot return to the original network namespace: {e}");
            std::process::abort();
        }
        let (connection, handle, _) = opened.map_err(NetError::Socket)?;
        tokio::spawn(connection);
        Ok(handle)
    }
}

/// A netlink handle in the caller's own namespace. Needs a Tokio runtime.
pub fn own_handle() -> Result<Handle, NetError> {
    let (connection, handle, _) = rtnetlink::new_connection().map_err(NetError::Socket)?;
    tokio::spawn(connection);
    Ok(handle)
}

/// The link named `name`, if there is one.
pub async fn link_by_name(handle: &Handle, name: &str) -> Result<Option<LinkMessage>, NetError> {
    let mut links = handle.link().get().match_name(name.to_owned()).execute();
    match links.try_next().await {
        Ok(link) => Ok(link),
        // The kernel answers a lookup of a missing name with ENODEV.
        Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(None),
        Err(source) => Err(NetError::Request {
            what: format!("looking up link {name}"),
            source,
        }),
    }
}

/// The link with index `index`, if there is one.
pub async fn link_by_index(handle: &Handle, index: u32) -> Result<Option<LinkMessage>, NetError> {
    let mut links = handle.link().get().match_index(index).execute();
    match links.try_next().await {
        Ok(link) => Ok(link),
        Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(None),
        Err(source) => Err(NetError::Request {
            what: format!("looking up link {index}"),
            source,
        }),
    }
}

/// Every link in the namespace.
pub async fn links(handle: &Handle) -> Result<Vec<LinkMessage>, NetError> {
    handle
        .link()
        .get()
        .execute()
        .try_collect()
        .await
        .map_err(request("listing links"))
}

/// A link's name.
pub fn link_name(link: &LinkMessage) -> Option<&str> {
    link.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(name) => Some(name.as_str()),
        _ => None,
    })
}

/// A link's MTU.
pub fn link_mtu(link: &LinkMessage) -> Option<u32> {
    link.attributes.iter().find_map(|a| match a {
        LinkAttribute::Mtu(mtu) => Some(*mtu),
        _ => None,
    })
}

/// A link's hardware address.
pub fn link_mac(link: &LinkMessage) -> Option<[u8; 6]> {
    link.attributes.iter().find_map(|a| match a {
        LinkAttribute::Address(mac) => mac.as_slice().try_into().ok(),
        _ => None,
    })
}

/// A MAC address in the usual `aa:bb:...` form.
pub fn format_mac(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Deletes link `name`; a missing link is fine (returns false).
pub async fn delete_link(handle: &Handle, name: &str) -> Result<bool, NetError> {
    let Some(link) = link_by_name(handle, name).await? else {
        return Ok(false);
    };
    match handle.link().del(link.header.index).execute().await {
        Ok(()) => Ok(true),
        Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(false),
        Err(source) => Err(NetError::Request {
            what: format!("deleting link {name}"),
            source,
        }),
    }
}

/// Deletes link `index`; a missing link is fine (returns false).
pub async fn delete_link_index(handle: &Handle, index: u32) -> Result<bool, NetError> {
    match handle.link().del(index).execute().await {
        Ok(()) => Ok(true),
        Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(false),
        Err(source) => Err(NetError::Request {
            what: format!("deleting link {index}"),
            source,
        }),
    }
}

/// Sets link `index` down; a missing link is fine (returns false).
pub async fn set_down(handle: &Handle, index: u32) -> Result<bool, NetError> {
    match handle
        .link()
        .set(LinkUnspec::new_with_index(index).down().build())
        .execute()
        .await
    {
        Ok(()) => Ok(true),
        Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(false),
        Err(source) => Err(NetError::Request {
            what: format!("setting link {index} down"),
            source,
        }),
    }
}

/// Sets link `index` up.
pub async fn set_up(handle: &Handle, index: u32) -> Result<(), NetError> {
    handle
        .link()
        .set(LinkUnspec::new_with_index(index).up().build())
        .execute()
        .await
        .map_err(request(format!("setting link {index} up")))
}

/// The addresses on link `index`, with prefix lengths.
pub async fn addresses(handle: &Handle, index: u32) -> Result<Vec<(IpAddr, u8)>, NetError> {
    let messages: Vec<_> = handle
        .address()
        .get()
        .set_link_index_filter(index)
        .execute()
        .try_collect()
        .await
        .map_err(request(format!("listing addresses of link {index}")))?;
    Ok(messages
        .iter()
        .filter(|m| m.header.index == index)
        .flat_map(|m| {
            m.attributes.iter().filter_map(move |a| match a {
                AddressAttribute::Address(ip) => Some((*ip, m.header.prefix_len)),
                _ => None,
            })
        })
        .collect())
}

/// Adds `ip/prefix` to link `index`; already present is fine. Returns
/// whether it was added.
pub async fn ensure_address(
    handle: &Handle,
    index: u32,
    ip: IpAddr,
    prefix: u8,
) -> Result<bool, NetError> {
    match handle.address().add(index, ip, prefix).execute().await {
        Ok(()) => Ok(true),
        Err(e) if errno(&e) == Some(libc::EEXIST) => Ok(false),
        Err(source) => Err(NetError::Request {
            what: format!("adding {ip}/{prefix} to link {index}"),
            source,
        }),
    }
}

/// A main-table IPv4 route: `dst/prefix [via gw] dev oif`, link-scoped
/// when there is no gateway. `onlink` lets the gateway sit outside every
/// subnet of the device (the overlay's scheme).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Route4 {
    /// Destination network address.
    pub dst: Ipv4Addr,
    /// Destination prefix length.
    pub prefix: u8,
    /// Next hop, if any.
    pub gateway: Option<Ipv4Addr>,
    /// Output interface index.
    pub oif: u32,
    /// Whether the gateway is on-link regardless of addresses.
    pub onlink: bool,
}

impl Route4 {
    fn message(&self) -> RouteMessage {
        let mut builder = RouteMessageBuilder::<Ipv4Addr>::new()
            .destination_prefix(self.dst, self.prefix)
            .output_interface(self.oif);
        builder = match self.gateway {
            Some(gw) => builder.gateway(gw),
            None => builder.scope(RouteScope::Link),
        };
        if self.onlink {
            builder = builder.onlink();
        }
        builder.build()
    }

    /// Parses a route message (main-table IPv4 unicast routes only).
    pub fn from_message(message: &RouteMessage) -> Option<Route4> {
        let mut route = Route4 {
            dst: Ipv4Addr::UNSPECIFIED,
            prefix: message.header.destination_prefix_length,
            gateway: None,
            oif: 0,
            onlink: message
                .header
                .flags
                .contains(rtnetlink::packet_route::route::RouteFlags::Onlink),
        };
        for attribute in &message.attributes {
            match attribute {
                RouteAttribute::Destination(RouteAddress::Inet(ip)) => route.dst = *ip,
                RouteAttribute::Gateway(RouteAddress::Inet(ip)) => route.gateway = Some(*ip),
                RouteAttribute::Oif(oif) => route.oif = *oif,
                _ => {}
            }
        }
        Some(route)
    }
}

/// Adds `route`, replacing one to the same destination.
pub async fn replace_route(handle: &Handle, route: &Route4) -> Result<(), NetError> {
    handle
        .route()
        .add(route.message())
        .replace()
        .execute()
        .await
        .map_err(request(format!("adding route {route:?}")))
}

/// Deletes `route` whoever installed it (any protocol, any scope, as
/// `ip route del` does); a missing one is fine.
pub async fn delete_route(handle: &Handle, route: &Route4) -> Result<(), NetError> {
    let mut message = route.message();
    message.header.protocol = rtnetlink::packet_route::route::RouteProtocol::Unspec;
    message.header.scope = RouteScope::NoWhere;
    match handle.route().del(message).execute().await {
        Ok(()) => Ok(()),
        Err(e) if errno(&e) == Some(libc::ESRCH) => Ok(()),
        Err(source) => Err(NetError::Request {
            what: format!("deleting route {route:?}"),
            source,
        }),
    }
}

/// The main table's IPv4 routes.
pub async fn routes4(handle: &Handle) -> Result<Vec<Route4>, NetError> {
    let filter = RouteMessageBuilder::<Ipv4Addr>::new().build();
    let messages: Vec<RouteMessage> = handle
        .route()
        .get(filter)
        .execute()
        .try_collect()
        .await
        .map_err(request("listing routes"))?;
    Ok(messages
        .iter()
        .filter(|m| m.header.table == 254) // RT_TABLE_MAIN
        .filter_map(Route4::from_message)
        .collect())
}

/// Writes a per-namespace sysctl of the caller's namespace
/// (`net/ipv4/ip_forward`), skipping the write when it already holds `value`.
pub fn sysctl(key: &str, value: &str) -> Result<(), NetError> {
    let path = Path::new("/proc/sys").join(key);
    let io = |source| NetError::Sysctl {
        path: path.clone(),
        source,
    };
    if std::fs::read_to_string(&path).map_err(io)?.trim() == value {
        return Ok(());
    }
    std::fs::write(&path, value).map_err(io)
}

/// The MTU of the link holding address `ip` in the caller's namespace.
pub async fn mtu_of_address(ip: IpAddr) -> Result<Option<u32>, NetError> {
    let handle = own_handle()?;
    Ok(link_of_address(&handle, ip)
        .await?
        .and_then(|link| link_mtu(&link)))
}

/// The link holding address `ip`, if any.
pub async fn link_of_address(handle: &Handle, ip: IpAddr) -> Result<Option<LinkMessage>, NetError> {
    for link in links(handle).await? {
        let index = link.header.index;
        if addresses(handle, index)
            .await?
            .iter()
            .any(|(a, _)| *a == ip)
        {
            return Ok(Some(link));
        }
    }
    Ok(None)
}

//! Finishing a veth's removal after DEL has answered the runtime. Deleting
//! a veth makes the kernel wait for an RCU barrier (15-20 ms on the
//! machines measured, more than all the rest of a DEL), so DEL sets the
//! host end down and [`delete_detached`] forks a child that sends the
//! delete and exits, while the plugin answers at once.
//!
//! The crate's one FFI module: fork(2) and _exit(2). It must not fork
//! while other threads run (checked), nor while a file lock is held (the
//! child keeps every descriptor until it exits, and with it any flock).

use std::fs::File;

use nix::unistd::{ForkResult, fork};
use rtnetlink::{
    packet_core::{NLM_F_REQUEST, NetlinkMessage},
    packet_route::{RouteNetlinkMessage, link::LinkMessage},
    sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE},
};

/// Why a deletion could not be handed to a child.
#[derive(Debug, thiserror::Error)]
pub enum ReapError {
    /// More than one thread runs, so forking is unsafe.
    #[error("{0} threads run, and fork is only safe with one")]
    Threads(usize),
    /// /proc or /dev/null could not be read.
    #[error("preparing the child: {0}")]
    Prepare(#[source] std::io::Error),
    /// fork(2) failed.
    #[error("fork: {0}")]
    Fork(#[source] nix::Error),
}

/// Deletes link `index` of the caller's network namespace from a forked
/// child and returns as soon as the child exists. The child drops the
/// caller's stdio first, so a runtime reading the plugin's output to EOF
/// waits only for the plugin; nothing reports the child's outcome (a link
/// already gone is fine, and GC removes one the child failed to).
pub fn delete_detached(index: u32) -> Result<(), ReapError> {
    let threads = std::fs::read_dir("/proc/self/task")
        .map_err(ReapError::Prepare)?
        .count();
    if threads != 1 {
        return Err(ReapError::Threads(threads));
    }
    // Everything the child needs is made before the fork.
    let request = delete_request(index);
    let devnull = File::options()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(ReapError::Prepare)?;
    // SAFETY: the process has one thread (counted above; nothing in between
    // starts one), so the child is a consistent copy that may allocate. It
    // never returns into the caller's code (the Tokio runtime, whose epoll
    // instance it shares): it swaps its stdio, sends one netlink message
    // and leaves through _exit(2).
    match unsafe { fork() }.map_err(ReapError::Fork)? {
        ForkResult::Parent { .. } => Ok(()),
        ForkResult::Child => {
            let code = child(&devnull, &request);
            // SAFETY: _exit(2) ends the child without running exit handlers
            // or flushing stdio buffers it shares with the parent.
            unsafe { libc::_exit(code) }
        }
    }
}

/// The child's whole life: let go of the runtime's pipes, send the delete
/// (the kernel handles it inside sendto, so returning means done).
fn child(devnull: &File, request: &[u8]) -> i32 {
    let stdio = nix::unistd::dup2_stdin(devnull)
        .and_then(|()| nix::unistd::dup2_stdout(devnull))
        .and_then(|()| nix::unistd::dup2_stderr(devnull));
    let sent = Socket::new(NETLINK_ROUTE)
        .and_then(|socket| socket.send_to(request, &SocketAddr::new(0, 0), 0));
    i32::from(stdio.is_err() || sent.is_err())
}

/// RTM_DELLINK for `index`, without asking for an acknowledgement.
fn delete_request(index: u32) -> Vec<u8> {
    let mut link = LinkMessage::default();
    link.header.index = index;
    let mut message = NetlinkMessage::from(RouteNetlinkMessage::DelLink(link));
    message.header.flags = NLM_F_REQUEST;
    message.finalize();
    let mut buffer = vec![0; message.buffer_len()];
    message.serialize(&mut buffer);
    buffer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_is_a_dellink_for_the_index() {
        let bytes = delete_request(42);
        let parsed = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&bytes).unwrap();
        assert_eq!(parsed.header.flags, NLM_F_REQUEST);
        match parsed.payload {
            rtnetlink::packet_core::NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelLink(
                link,
            )) => assert_eq!(link.header.index, 42),
            other => panic!("{other:?}"),
        }
    }
}

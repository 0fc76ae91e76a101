//! The EnvDetector agent's messages.

use crate::codec::Wire;
use crate::host::HostProfile;
use ractor::RpcReplyPort;
use ractor_cluster_derive::RactorClusterMessage;

/// The EnvDetector's message enum. Variants are wire tags: never rename one.
#[derive(RactorClusterMessage)]
pub enum EnvDetectorMessage {
    /// Returns the host profile. With `true`, detects again instead of using the cached one.
    #[rpc]
    GetHostProfile(Wire<bool>, RpcReplyPort<Wire<HostProfile>>),
}

impl std::fmt::Debug for EnvDetectorMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EnvDetectorMessage::GetHostProfile(refresh, _) => {
                write!(f, "GetHostProfile({refresh:?})")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ractor::Message;

    #[tokio::test]
    async fn get_host_profile_round_trips() {
        let (tx, _rx) = ractor::concurrency::oneshot();
        let msg = EnvDetectorMessage::GetHostProfile(Wire::new(true), RpcReplyPort::from(tx));
        match EnvDetectorMessage::deserialize(msg.serialize().unwrap()).unwrap() {
            EnvDetectorMessage::GetHostProfile(w, _) => assert_eq!(w, Wire::Value(true)),
        }
    }
}

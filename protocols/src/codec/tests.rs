use super::*;
use crate::admin::{ActorStatus, ActorTree, AdminError, AgentInfo, SpawnAgentRequest};
use crate::host::HostProfile;
use crate::ids::{AgentId, NodeId};
use proptest::prelude::*;

#[test]
fn round_trips_a_value() {
    let req = SpawnAgentRequest {
        kind: "echo".into(),
        name: AgentId::new("echo-1"),
        config: r#"{"greeting":"hi"}"#.into(),
    };
    let bytes = encode(&req).unwrap();
    assert_eq!(&bytes[..2], b"RR");
    assert_eq!(bytes[2], WIRE_VERSION);
    assert_eq!(decode::<SpawnAgentRequest>(&bytes).unwrap(), req);
}

#[test]
fn names_what_was_wrong() {
    assert!(matches!(
        decode::<u64>(b"R"),
        Err(WireError::Truncated { len: 1 })
    ));
    assert!(matches!(
        decode::<u64>(b"XX\x01\x00"),
        Err(WireError::BadMagic { .. })
    ));
    assert!(matches!(
        decode::<u64>(b"RR\x09\x00"),
        Err(WireError::UnsupportedVersion { found: 9 })
    ));
    let mut bytes = encode(&7u64).unwrap();
    bytes.push(0);
    assert!(matches!(
        decode::<u64>(&bytes),
        Err(WireError::TrailingBytes { extra: 1, .. })
    ));
    // A string whose length prefix claims far more bytes than the limit allows.
    let forged = [
        b'R',
        b'R',
        WIRE_VERSION,
        0xfd,
        0xff,
        0xff,
        0xff,
        0xff,
        0xff,
        0xff,
        0x00,
        0x01,
    ];
    assert!(matches!(
        decode::<String>(&forged),
        Err(WireError::MalformedBody { .. })
    ));
}

#[test]
fn wire_turns_garbage_into_an_error_value() {
    let w = <Wire<AgentInfo> as BytesConvertable>::from_bytes(vec![1, 2, 3, 4, 5]);
    assert!(matches!(w, Wire::Malformed(WireError::BadMagic { .. })));
    let info = AgentInfo {
        name: AgentId::new("a"),
        kind: "k".into(),
        node: NodeId::new("n"),
        actor_id: "0.1".into(),
    };
    let back =
        <Wire<AgentInfo> as BytesConvertable>::from_bytes(Wire::new(info.clone()).into_bytes());
    assert_eq!(back, Wire::Value(info));
}

#[test]
fn nested_results_round_trip() {
    let tree = ActorTree {
        name: "admin".into(),
        kind: "admin".into(),
        node: NodeId::new("local"),
        status: ActorStatus::Running,
        restarts: 2,
        uptime_ms: 5,
        children: vec![],
    };
    let ok: Result<ActorTree, AdminError> = Ok(tree);
    let err: Result<ActorTree, AdminError> = Err(AdminError::UnknownKind {
        kind: "nope".into(),
        known: vec!["echo".into()],
    });
    for v in [ok, err] {
        assert_eq!(
            decode::<Result<ActorTree, AdminError>>(&encode(&v).unwrap()).unwrap(),
            v
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode::<SpawnAgentRequest>(&bytes);
        let _ = decode::<Result<ActorTree, AdminError>>(&bytes);
        let _ = decode::<HostProfile>(&bytes);
        let _ = decode::<String>(&bytes);
        let _ = <Wire<Vec<AgentInfo>> as BytesConvertable>::from_bytes(bytes);
    }

    #[test]
    fn arbitrary_bodies_behind_a_valid_header_never_panic(
        body in proptest::collection::vec(any::<u8>(), 0..512)
    ) {
        let mut bytes = vec![b'R', b'R', WIRE_VERSION];
        bytes.extend(body);
        let _ = decode::<SpawnAgentRequest>(&bytes);
        let _ = decode::<Result<ActorTree, AdminError>>(&bytes);
        let _ = decode::<HostProfile>(&bytes);
    }

    #[test]
    fn every_flip_of_a_valid_frame_is_caught_or_decodes(
        idx in 0usize..64, bit in 0u8..8, name in "[a-z]{1,12}", kind in "[a-z]{1,12}"
    ) {
        let req = SpawnAgentRequest { kind, name: AgentId::new(name), config: "{}".into() };
        let mut bytes = encode(&req).unwrap();
        let i = idx % bytes.len();
        bytes[i] ^= 1 << bit;
        // Either an error, or some value: never a panic.
        let _ = decode::<SpawnAgentRequest>(&bytes);
    }

    #[test]
    fn requests_round_trip(name in "\\PC{0,40}", kind in "\\PC{0,20}", config in "\\PC{0,80}") {
        let req = SpawnAgentRequest { kind, name: AgentId::new(name), config };
        prop_assert_eq!(decode::<SpawnAgentRequest>(&encode(&req).unwrap()).unwrap(), req);
    }
}

use super::*;
use ractor::RpcReplyPort;
use ractor_cluster_derive::RactorMessage;
use reporunner_runtime::testsuite::wait_until;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

async fn lease(
    pm: &ActorRef<PortManagerMessage>,
    purpose: &str,
    preferred: Option<u16>,
    holder_pid: Option<u64>,
) -> Result<PortLease, PortError> {
    let req = LeaseRequest {
        purpose: purpose.into(),
        preferred,
        holder_pid,
    };
    ractor::call!(pm, PortManagerMessage::Lease, Wire::new(req))
        .unwrap()
        .open()
        .unwrap()
}

async fn leases(pm: &ActorRef<PortManagerMessage>) -> Vec<PortLease> {
    ractor::call!(pm, PortManagerMessage::GetLeases)
        .unwrap()
        .open()
        .unwrap()
}

/// A free range of `n` ports found by asking the OS, so parallel tests do not collide.
fn free_range(n: u16) -> PortRange {
    loop {
        let probe = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let start = probe.local_addr().unwrap().port();
        drop(probe);
        if let Some(end) = start.checked_add(n - 1) {
            return PortRange { start, end };
        }
    }
}

async fn spawn(range: PortRange) -> ActorRef<PortManagerMessage> {
    Actor::spawn(
        None,
        PortManager,
        PortManagerArguments { range, store: None },
    )
    .await
    .unwrap()
    .0
}

#[tokio::test]
async fn never_leases_a_port_twice_and_skips_ports_in_use() {
    let range = free_range(8);
    let pm = spawn(range).await;
    // Something else listens on the second port of the range.
    let busy = TcpListener::bind((Ipv4Addr::LOCALHOST, range.start + 1));
    let mut seen = HashSet::new();
    let mut got = Vec::new();
    for i in 0..6 {
        match lease(&pm, &format!("svc-{i}"), None, None).await {
            Ok(l) => {
                assert!(seen.insert(l.port), "port {} leased twice", l.port);
                assert!(l.port >= range.start && l.port <= range.end);
                if busy.is_ok() {
                    assert_ne!(l.port, range.start + 1, "a port in use was leased");
                }
                got.push(l);
            }
            // Another process on this machine may have taken a port of the range.
            Err(PortError::Exhausted { .. }) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(got.len() >= 4);
    assert_eq!(leases(&pm).await.len(), got.len());

    // A released port can be leased again, but only once.
    let first = got[0].clone();
    ractor::call!(pm, PortManagerMessage::Release, Wire::new(first.id))
        .unwrap()
        .open()
        .unwrap()
        .unwrap();
    assert_eq!(
        ractor::call!(pm, PortManagerMessage::Release, Wire::new(first.id))
            .unwrap()
            .open()
            .unwrap(),
        Err(PortError::UnknownLease { id: first.id })
    );
    let again = lease(&pm, "again", Some(first.port), None).await.unwrap();
    assert_eq!(again.port, first.port);
    let other = lease(&pm, "other", Some(first.port), None).await.unwrap();
    assert_ne!(other.port, first.port);
}

#[tokio::test]
async fn a_preferred_port_in_use_is_replaced() {
    let pm = spawn(free_range(4)).await;
    let taken = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap();
    let port = taken.local_addr().unwrap().port();
    let l = lease(&pm, "web", Some(port), None).await.unwrap();
    assert_ne!(l.port, port);
}

#[tokio::test]
async fn an_exhausted_range_is_reported() {
    let range = free_range(2);
    let pm = spawn(range).await;
    let mut n = 0;
    let err = loop {
        match lease(&pm, "x", None, None).await {
            Ok(_) => n += 1,
            Err(e) => break e,
        }
        assert!(n <= 2);
    };
    assert!(matches!(err, PortError::Exhausted { .. }), "{err}");
    assert!(err.to_string().contains("no free port"));
}

struct Holder;
#[derive(RactorMessage)]
enum HolderMessage {
    Panic,
    #[allow(dead_code)]
    Noop(RpcReplyPort<()>),
}
impl Actor for Holder {
    type Msg = HolderMessage;
    type State = ();
    type Arguments = ();
    async fn pre_start(&self, _: ActorRef<Self::Msg>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }
    async fn handle(
        &self,
        _: ActorRef<Self::Msg>,
        msg: HolderMessage,
        _: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            HolderMessage::Panic => panic!("holder panics"),
            HolderMessage::Noop(r) => {
                let _ = r.send(());
            }
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_lease_is_released_when_its_holder_stops() {
    reporunner_runtime::panics::install_quiet_hook();
    let pm = spawn(free_range(8)).await;
    let (stopper, h1) = Actor::spawn(None, Holder, ()).await.unwrap();
    let (crasher, h2) = Actor::spawn(None, Holder, ()).await.unwrap();
    let a = lease(&pm, "a", None, Some(stopper.get_id().pid()))
        .await
        .unwrap();
    lease(&pm, "b", None, Some(stopper.get_id().pid()))
        .await
        .unwrap();
    lease(&pm, "c", None, Some(crasher.get_id().pid()))
        .await
        .unwrap();
    let kept = lease(&pm, "kept", None, None).await.unwrap();
    assert_eq!(leases(&pm).await.len(), 4);

    stopper.stop(None);
    h1.await.unwrap();
    crasher.cast(HolderMessage::Panic).unwrap();
    let _ = h2.await;

    let pm2 = pm.clone();
    wait_until(
        Duration::from_secs(5),
        "holders' leases to be released",
        || {
            let pm = pm2.clone();
            async move { leases(&pm).await.len() == 1 }
        },
    )
    .await
    .unwrap();
    assert_eq!(leases(&pm).await[0].id, kept.id);
    // The freed port can be leased again.
    let again = lease(&pm, "again", Some(a.port), None).await.unwrap();
    assert_eq!(again.port, a.port);
}

#[tokio::test]
async fn an_unknown_holder_is_refused() {
    let pm = spawn(free_range(2)).await;
    let err = lease(&pm, "x", None, Some(u64::MAX)).await.unwrap_err();
    assert_eq!(err, PortError::UnknownHolder { pid: u64::MAX });
}

#[tokio::test]
async fn a_restarted_port_manager_keeps_the_leases_of_live_holders() {
    use reporunner_runtime::store::SledStore;
    reporunner_runtime::panics::install_quiet_hook();
    let dir = std::env::temp_dir().join(format!("reporunner-pm-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store: Arc<dyn Store> = Arc::new(SledStore::open(&dir).unwrap());
    let range = free_range(8);
    let args = || PortManagerArguments {
        range,
        store: Some(store.clone()),
    };
    let (pm, handle) = Actor::spawn(None, PortManager, args()).await.unwrap();
    let (holder, holder_handle) = Actor::spawn(None, Holder, ()).await.unwrap();
    let (gone, gone_handle) = Actor::spawn(None, Holder, ()).await.unwrap();
    let held = lease(&pm, "held", None, Some(holder.get_id().pid()))
        .await
        .unwrap();
    let free = lease(&pm, "free", None, None).await.unwrap();
    let _lost = lease(&pm, "lost", None, Some(gone.get_id().pid()))
        .await
        .unwrap();

    // The PortManager dies (a kill runs no cleanup), and its holder `gone` too meanwhile.
    pm.kill();
    handle.await.unwrap();
    gone.stop(None);
    gone_handle.await.unwrap();

    let (pm, handle) = Actor::spawn(None, PortManager, args()).await.unwrap();
    let mut ports: Vec<u16> = leases(&pm).await.iter().map(|l| l.port).collect();
    ports.sort();
    let mut want = vec![held.port, free.port];
    want.sort();
    assert_eq!(ports, want, "live holders' and holder-less leases survive");
    // Ports still leased are not handed out again.
    for _ in 0..4 {
        let l = lease(&pm, "new", Some(held.port), None).await.unwrap();
        assert!(l.port != held.port && l.port != free.port);
        assert!(l.id > free.id, "lease ids are never reused");
    }
    // The restored holder is monitored again: its stop releases its lease.
    holder.stop(None);
    holder_handle.await.unwrap();
    let pm2 = pm.clone();
    wait_until(Duration::from_secs(5), "the held lease to go", || {
        let pm = pm2.clone();
        async move { leases(&pm).await.iter().all(|l| l.port != held.port) }
    })
    .await
    .unwrap();
    pm.stop(None);
    handle.await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

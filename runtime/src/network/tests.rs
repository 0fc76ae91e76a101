use super::*;

/// Sends `send` to the host side's socket, as the bridge does, and returns what comes
/// back before the connection closes (or 5 s pass).
async fn talk(side: &HostSide, send: String) -> String {
    let mut c = tokio::net::UnixStream::connect(side.dir.join("host/host.sock"))
        .await
        .unwrap();
    c.write_all(send.as_bytes()).await.unwrap();
    let mut got = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), c.read_to_string(&mut got)).await;
    got
}

fn policy(allow: &[&str]) -> NetPolicy {
    NetPolicy {
        allow_hosts: allow.iter().map(|h| h.to_string()).collect(),
        ..NetPolicy::default()
    }
}

#[test]
fn an_allowed_host_takes_its_subdomains_and_nothing_that_only_ends_like_it() {
    let p = policy(&["pythonhosted.org", "crates.io", ".gradle.org"]);
    assert!(p.allows("files.pythonhosted.org"));
    assert!(p.allows("PythonHosted.org."));
    assert!(p.allows("static.crates.io"));
    assert!(p.allows("plugins.gradle.org"));
    assert!(!p.allows("evilpythonhosted.org"));
    assert!(!p.allows("crates.io.evil.example"));
    assert!(!p.allows("example.com"));
    assert!(!policy(&[]).allows("pypi.org"));
}

#[test]
fn authorities_split_into_host_and_port() {
    assert_eq!(
        split_host_port("pypi.org:443", 80),
        Some(("pypi.org".into(), 443))
    );
    assert_eq!(
        split_host_port("pypi.org", 80),
        Some(("pypi.org".into(), 80))
    );
    assert_eq!(
        split_host_port("[::1]:8080", 80),
        Some(("::1".into(), 8080))
    );
    assert_eq!(split_host_port("[::1]", 443), Some(("::1".into(), 443)));
    assert_eq!(split_host_port("", 80), None);
    assert_eq!(split_host_port(":443", 80), None);
    assert_eq!(split_host_port("host:notaport", 80), None);
}

#[test]
fn the_bridge_refuses_arguments_it_does_not_know() {
    assert!(parse(&["--reach".into()]).is_err());
    assert!(parse(&["--reach".into(), "nowhere".into()]).is_err());
    assert!(parse(&["--bogus".into()]).is_err());
    let p = parse(&[
        "--reach".into(),
        "127.0.0.1:5432".into(),
        "--no-proxy".into(),
        "db".into(),
        "--".into(),
        "true".into(),
        "--reach".into(),
    ])
    .unwrap();
    assert_eq!(p.reach, vec!["127.0.0.1:5432".parse().unwrap()]);
    assert_eq!(p.no_proxy, vec!["db".to_string()]);
    assert_eq!(p.command, vec!["true".to_string(), "--reach".into()]);
    assert_eq!(bridge_main(&["run".into()]), None);
}

/// The host side over its real socket, as the bridge uses it: a listed service is
/// connected, anything else is closed with a notice, and the proxy answers a plain
/// request to an allowed host and refuses another with 403.
#[tokio::test]
async fn the_host_side_serves_only_what_its_policy_lists() {
    let service = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = service.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut c, _)) = service.accept().await {
            let mut buf = [0u8; 1024];
            let n = c.read(&mut buf).await.unwrap_or(0);
            let body = if buf[..n].starts_with(b"GET ") {
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nindex".to_string()
            } else {
                "hello\n".to_string()
            };
            let _ = c.write_all(body.as_bytes()).await;
        }
    });
    let notes = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = notes.clone();
    let notice: Notice = Arc::new(move |l| seen.lock().unwrap().push(l));
    let side = HostSide::start(
        &NetPolicy {
            bridge: PathBuf::from("/bin/true"),
            reach: vec![addr],
            allow_hosts: vec!["127.0.0.1".into()],
            no_proxy: Vec::new(),
            upstream: None,
            proxy_env: true,
        },
        notice,
    )
    .unwrap();
    assert_eq!(talk(&side, format!("tcp {addr}\nhi\n")).await, "hello\n");
    assert_eq!(talk(&side, "tcp 127.0.0.1:1\n".into()).await, "");
    assert_eq!(talk(&side, "\u{0}\u{1} junk\n".into()).await, "");
    let ok = talk(
        &side,
        format!("proxy\nGET http://{addr}/simple HTTP/1.1\r\nHost: {addr}\r\n\r\n"),
    )
    .await;
    assert!(ok.ends_with("index"), "{ok}");
    let refused = talk(
        &side,
        "proxy\nCONNECT example.com:443 HTTP/1.1\r\n\r\n".into(),
    )
    .await;
    assert!(refused.starts_with("HTTP/1.1 403"), "{refused}");
    assert!(
        refused.contains("example.com is not on this run's allow-list"),
        "{refused}"
    );
    let bad = talk(&side, "proxy\nGET /relative HTTP/1.1\r\n\r\n".into()).await;
    assert!(bad.starts_with("HTTP/1.1 400"), "{bad}");
    let notes = notes.lock().unwrap().clone();
    assert!(
        notes
            .iter()
            .any(|n| n.contains("127.0.0.1:1 on the host was refused")),
        "{notes:?}"
    );
    assert!(
        notes.iter().any(|n| n.contains("malformed request")),
        "{notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.contains("refused a connection to example.com:443")),
        "{notes:?}"
    );
    let dir = side.dir.clone();
    drop(side);
    assert!(!dir.exists(), "its folder is removed with it");
}

#[test]
fn a_proxy_url_gives_its_host_and_port() {
    assert_eq!(
        proxy_authority("http://proxy.corp:3128/").as_deref(),
        Some("proxy.corp:3128")
    );
    assert_eq!(
        proxy_authority("http://user:pw@proxy.corp").as_deref(),
        Some("proxy.corp:80")
    );
    assert_eq!(
        proxy_authority("proxy.corp:8080").as_deref(),
        Some("proxy.corp:8080")
    );
    assert_eq!(
        proxy_authority("http://[::1]:3128").as_deref(),
        Some("[::1]:3128")
    );
    assert_eq!(proxy_authority("socks5://proxy.corp:1080"), None);
}

/// With a proxy of the host's own, an allowed CONNECT goes on through it (and one it
/// refuses is a 502 that says so); a host off the list never reaches it.
#[tokio::test]
async fn allowed_tunnels_go_through_the_hosts_own_proxy() {
    let upstream = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream_addr = upstream.local_addr().unwrap();
    let asked = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let log = asked.clone();
    tokio::spawn(async move {
        while let Ok((c, _)) = upstream.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut c = tokio::io::BufReader::new(c);
                let mut first = String::new();
                let _ = c.read_line(&mut first).await;
                loop {
                    let mut l = String::new();
                    if c.read_line(&mut l).await.unwrap_or(0) == 0 || l == "\r\n" {
                        break;
                    }
                }
                log.lock().unwrap().push(first.trim().to_string());
                let answer = if first.contains("refused.example:443") {
                    "HTTP/1.1 407 Proxy Authentication Required\r\n\r\n".to_string()
                } else {
                    "HTTP/1.1 200 OK\r\n\r\ntunnelled".to_string()
                };
                let _ = c.get_mut().write_all(answer.as_bytes()).await;
            });
        }
    });
    let notice: Notice = Arc::new(|_| {});
    let side = HostSide::start(
        &NetPolicy {
            bridge: PathBuf::from("/bin/true"),
            allow_hosts: vec!["registry.example".into(), "refused.example".into()],
            upstream: Some(upstream_addr.to_string()),
            ..NetPolicy::default()
        },
        notice,
    )
    .unwrap();
    let ok = talk(
        &side,
        "proxy\nCONNECT registry.example:443 HTTP/1.1\r\n\r\n".into(),
    )
    .await;
    assert!(
        ok.starts_with("HTTP/1.1 200 Connection Established"),
        "{ok}"
    );
    assert!(ok.ends_with("tunnelled"), "{ok}");
    let refused = talk(
        &side,
        "proxy\nCONNECT refused.example:443 HTTP/1.1\r\n\r\n".into(),
    )
    .await;
    assert!(refused.starts_with("HTTP/1.1 502"), "{refused}");
    assert!(
        refused.contains("407 Proxy Authentication Required"),
        "{refused}"
    );
    let denied = talk(
        &side,
        "proxy\nCONNECT elsewhere.example:443 HTTP/1.1\r\n\r\n".into(),
    )
    .await;
    assert!(denied.starts_with("HTTP/1.1 403"), "{denied}");
    assert_eq!(
        asked.lock().unwrap().clone(),
        vec![
            "CONNECT registry.example:443 HTTP/1.1".to_string(),
            "CONNECT refused.example:443 HTTP/1.1".to_string()
        ]
    );
}

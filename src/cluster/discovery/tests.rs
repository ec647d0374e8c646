use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::cluster::objects::cluster_info;
use crate::config::KeyAlgorithm;
use crate::pki::{AltNames, CertConfig, generate_ca_cert, generate_key};

fn ca_pem() -> String {
    let key = generate_key(KeyAlgorithm::EcdsaP256).unwrap();
    let cfg = CertConfig {
        common_name: "kubernetes".into(),
        organization: None,
        alt_names: AltNames::default(),
        usages: vec![],
        validity: Duration::from_secs(3600),
    };
    generate_ca_cert(&cfg, &key, time::OffsetDateTime::now_utc())
        .unwrap()
        .pem
}

fn token() -> BootstrapToken {
    BootstrapToken::parse("abcdef.0123456789abcdef").unwrap()
}

/// cluster-info's data as plinth uploads it, signed for `token` as the bootstrap signer does.
fn signed(ca: &str, token: &BootstrapToken) -> BTreeMap<String, String> {
    let cm = &cluster_info("https://10.0.0.5:6443", ca.as_bytes())[0];
    let kc = cm["data"]["kubeconfig"].as_str().unwrap().to_string();
    let sig = jws::detached_signature(&kc, &token.id, token.secret());
    BTreeMap::from([
        (KUBECONFIG_KEY.to_string(), kc),
        (format!("{JWS_KEY_PREFIX}{}", token.id), sig),
    ])
}

fn pin_of_pem(pem: &str) -> String {
    let (_, p) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap();
    pin_of(&p.parse_x509().unwrap())
}

#[test]
fn a_signed_cluster_info_with_the_pinned_ca_is_trusted() {
    let ca = ca_pem();
    let pins = Pins::parse(&[pin_of_pem(&ca)]).unwrap();
    let info = validate_cluster_info(&signed(&ca, &token()), &token(), &pins).unwrap();
    assert_eq!(info.server, "https://10.0.0.5:6443");
    assert_eq!(info.ca_pem, ca.as_bytes());
}

#[test]
fn the_pin_agrees_with_the_hash_init_prints() {
    let ca = ca_pem();
    assert_eq!(
        pin_of_pem(&ca),
        crate::cluster::ca_cert_hash(ca.as_bytes()).unwrap()
    );
}

#[test]
fn another_ca_is_refused_showing_expected_and_got() {
    let ca = ca_pem();
    let other = pin_of_pem(&ca_pem());
    let pins = Pins::parse(std::slice::from_ref(&other)).unwrap();
    let err = validate_cluster_info(&signed(&ca, &token()), &token(), &pins).unwrap_err();
    assert_eq!(
        err,
        DiscoveryError::CaNotPinned {
            expected: other.clone(),
            got: pin_of_pem(&ca)
        }
    );
    let msg = err.to_string();
    assert!(
        msg.contains(&other) && msg.contains(&pin_of_pem(&ca)),
        "{msg}"
    );
}

#[test]
fn a_tampered_kubeconfig_fails_the_signature() {
    let ca = ca_pem();
    let mut data = signed(&ca, &token());
    let kc = data[KUBECONFIG_KEY].replace("10.0.0.5", "10.0.0.66");
    data.insert(KUBECONFIG_KEY.into(), kc);
    let err = validate_cluster_info(&data, &token(), &Pins::default()).unwrap_err();
    assert_eq!(err, DiscoveryError::BadSignature("abcdef".into()));
}

#[test]
fn a_wrong_secret_fails_the_signature_and_an_unknown_id_says_create_a_token() {
    let ca = ca_pem();
    let data = signed(&ca, &token());
    let wrong = BootstrapToken::parse("abcdef.0123456789abcdee").unwrap();
    assert_eq!(
        validate_cluster_info(&data, &wrong, &Pins::default()).unwrap_err(),
        DiscoveryError::BadSignature("abcdef".into())
    );
    let unknown = BootstrapToken::parse("zzzzzz.0123456789abcdef").unwrap();
    let err = validate_cluster_info(&data, &unknown, &Pins::default()).unwrap_err();
    assert_eq!(err, DiscoveryError::UnknownToken("zzzzzz".into()));
    assert!(err.to_string().contains("plinth token create"));
}

#[test]
fn no_kubeconfig_key_is_refused() {
    let err = validate_cluster_info(&BTreeMap::new(), &token(), &Pins::default()).unwrap_err();
    assert_eq!(err, DiscoveryError::NoKubeconfig);
}

#[test]
fn pins_parse_like_kubeadm() {
    let hex = "A".repeat(64);
    let p = Pins::parse(&[format!("SHA256:{hex}")]).unwrap();
    assert!(p.allows(&format!("sha256:{}", "a".repeat(64))));
    for (bad, why) in [
        ("abc", "format:hex-value"),
        ("md5:00", "unknown hash format"),
        ("sha256:00", "found 2 hex digits"),
        (&*format!("sha256:{}", "g".repeat(64)), "not hexadecimal"),
        (&*format!("sha256:{hex}:x"), "format:hex-value"),
    ] {
        let err = Pins::parse(&[bad]).unwrap_err().to_string();
        assert!(err.contains(why) && err.contains(bad), "{bad}: {err}");
    }
    assert!(Pins::parse::<&str>(&[]).unwrap().is_empty());
}

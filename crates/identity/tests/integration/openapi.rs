//! The OpenAPI document against the running router: every operation it
//! describes is served (the unit tests check the other direction).

use super::*;

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let cloud = TestCloud::start().await.unwrap();
    let c = Client::new(&cloud.identity_url());
    let doc = serde_json::to_value(identity::api::openapi()).unwrap();
    let param = regex_lite::Regex::new(r"\{[a-z_]+\}").unwrap();
    let mut probed = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let concrete = param.replace_all(path, "x").into_owned();
        for method in item.as_object().unwrap().keys() {
            let r = c
                .send(&method.to_uppercase(), &concrete, None, &[])
                .await
                .unwrap();
            // Unrouted: 405 for a method the path lacks, or the fallback's
            // 404 for a path the router lacks. Without a token a routed
            // operation answers 401 (or 4xx from its own input checks).
            assert_ne!(r.status, 405, "{method} {path}: {}", r.text);
            assert!(
                !(r.status == 404
                    && (r.text.contains("The resource could not be found.") || r.text.is_empty())),
                "{method} {path} not routed: {}",
                r.text
            );
            assert!(r.status < 500, "{method} {path}: {} {}", r.status, r.text);
            probed += 1;
        }
    }
    assert!(probed > 190, "{probed}");
    cloud.stop().await;
}

//! Roles, implied roles, grants and `/v3/role_assignments`.

use super::*;

#[tokio::test]
async fn roles_and_implications() {
    let cloud = TestCloud::start().await.unwrap();
    let admin = cloud.admin().await.unwrap();
    let roles = names(&admin.get("/v3/roles").await.unwrap().body, "roles");
    for r in ["admin", "manager", "member", "reader", "service"] {
        assert!(
            roles.contains(&r.to_string()),
            "bootstrap role {r} missing: {roles:?}"
        );
    }
    let r = admin
        .post(
            "/v3/roles",
            json!({"role": {"name": "auditor", "description": "reads logs"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let auditor = r.body["role"]["id"].as_str().unwrap().to_string();
    assert_error(
        &admin
            .post("/v3/roles", json!({"role": {"name": "auditor"}}))
            .await
            .unwrap(),
        409,
    );
    let reader = role_id(&admin, "reader").await;
    let admin_role = role_id(&admin, "admin").await;
    let member = role_id(&admin, "member").await;
    let manager = role_id(&admin, "manager").await;
    let r = admin
        .put(&format!("/v3/roles/{auditor}/implies/{reader}"), None)
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["role_inference"]["implies"]["id"], reader.as_str());
    assert_eq!(
        admin
            .head(&format!("/v3/roles/{auditor}/implies/{reader}"))
            .await
            .unwrap()
            .status,
        204
    );
    assert_eq!(
        admin
            .get(&format!("/v3/roles/{auditor}/implies/{reader}"))
            .await
            .unwrap()
            .status,
        200
    );
    let r = admin
        .get(&format!("/v3/roles/{admin_role}/implies"))
        .await
        .unwrap();
    assert_eq!(
        r.body["role_inference"]["implies"][0]["id"],
        manager.as_str()
    );
    let r = admin
        .get(&format!("/v3/roles/{manager}/implies"))
        .await
        .unwrap();
    assert_eq!(
        r.body["role_inference"]["implies"][0]["id"],
        member.as_str()
    );
    // One entry per prior role: admin, manager, member and the auditor.
    let r = admin.get("/v3/role_inferences").await.unwrap();
    assert_eq!(r.body["role_inferences"].as_array().unwrap().len(), 4);
    // Cycles and implying admin are refused.
    assert_error(
        &admin
            .put(&format!("/v3/roles/{reader}/implies/{admin_role}"), None)
            .await
            .unwrap(),
        403,
    );
    assert_error(
        &admin
            .put(&format!("/v3/roles/{reader}/implies/{auditor}"), None)
            .await
            .unwrap(),
        400,
    );
    assert_eq!(
        admin
            .delete(&format!("/v3/roles/{auditor}/implies/{reader}"))
            .await
            .unwrap()
            .status,
        204
    );

    // Domain-specific roles (tempest's implied domain roles): one may
    // imply another, in any domain, or a global role; a global role may
    // not imply a domain-specific one, which is a 403 before any cycle
    // is looked for.
    let d2 = admin
        .post("/v3/domains", json!({"domain": {"name": "dsr-2"}}))
        .await
        .unwrap()
        .body["domain"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let dsr = |name: &'static str, domain: String| {
        let admin = admin.clone();
        async move {
            let r = admin
                .post(
                    "/v3/roles",
                    json!({"role": {"name": name, "domain_id": domain}}),
                )
                .await
                .unwrap();
            assert_eq!(r.status, 201, "{}", r.text);
            r.body["role"]["id"].as_str().unwrap().to_string()
        }
    };
    let dr1 = dsr("dr1", "default".into()).await;
    let dr2 = dsr("dr2", "default".into()).await;
    let dr3 = dsr("dr3", d2).await;
    for implied in [&dr2, &dr3, &auditor] {
        let r = admin
            .put(&format!("/v3/roles/{dr1}/implies/{implied}"), None)
            .await
            .unwrap();
        assert_eq!(r.status, 201, "{}", r.text);
    }
    assert_error(
        &admin
            .put(&format!("/v3/roles/{auditor}/implies/{dr1}"), None)
            .await
            .unwrap(),
        403,
    );
    for role in [&dr1, &dr2, &dr3] {
        assert_eq!(
            admin
                .delete(&format!("/v3/roles/{role}"))
                .await
                .unwrap()
                .status,
            204
        );
    }
    assert_eq!(
        admin
            .head(&format!("/v3/roles/{auditor}/implies/{reader}"))
            .await
            .unwrap()
            .status,
        404
    );
    let r = admin
        .patch(
            &format!("/v3/roles/{auditor}"),
            json!({"role": {"description": "x"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.body["role"]["description"], "x");
    assert_eq!(
        admin
            .delete(&format!("/v3/roles/{auditor}"))
            .await
            .unwrap()
            .status,
        204
    );
    assert_error(
        &admin.get(&format!("/v3/roles/{auditor}")).await.unwrap(),
        404,
    );
    cloud.stop().await;
}

#[tokio::test]
async fn grants_on_projects_domains_and_system() {
    let cloud = TestCloud::start().await.unwrap();
    let admin = cloud.admin().await.unwrap();
    let pid = project(&admin, "gr").await;
    let uid = user(&admin, "gu", "pw").await;
    let member = role_id(&admin, "member").await;
    for base in [
        format!("/v3/projects/{pid}"),
        "/v3/domains/default".to_string(),
        "/v3/system".to_string(),
    ] {
        let g = format!("{base}/users/{uid}/roles/{member}");
        assert_eq!(admin.head(&g).await.unwrap().status, 404);
        assert_eq!(admin.put(&g, None).await.unwrap().status, 204, "{g}");
        assert_eq!(admin.head(&g).await.unwrap().status, 204);
        assert_eq!(admin.get(&g).await.unwrap().status, 204);
        let list = admin
            .get(&format!("{base}/users/{uid}/roles"))
            .await
            .unwrap();
        assert_eq!(names(&list.body, "roles"), vec!["member"], "{g}");
        assert_eq!(admin.delete(&g).await.unwrap().status, 204);
        assert_error(&admin.delete(&g).await.unwrap(), 404);
    }
    assert_error(
        &admin
            .put(
                &format!("/v3/projects/{pid}/users/nope/roles/{member}"),
                None,
            )
            .await
            .unwrap(),
        404,
    );
    assert_error(
        &admin
            .put(
                &format!("/v3/projects/nope/users/{uid}/roles/{member}"),
                None,
            )
            .await
            .unwrap(),
        404,
    );
    assert_error(
        &admin
            .put(&format!("/v3/projects/{pid}/users/{uid}/roles/nope"), None)
            .await
            .unwrap(),
        404,
    );
    cloud.stop().await;
}

#[tokio::test]
async fn role_assignments_report() {
    let cloud = TestCloud::start().await.unwrap();
    let admin = cloud.admin().await.unwrap();
    let pid = project(&admin, "ra").await;
    let uid = user_with_role(&admin, "rau", "pw", &pid, "member").await;
    let gid = admin
        .post("/v3/groups", json!({"group": {"name": "rag"}}))
        .await
        .unwrap()
        .body["group"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        admin
            .put(&format!("/v3/groups/{gid}/users/{uid}"), None)
            .await
            .unwrap()
            .status,
        204
    );
    let reader = role_id(&admin, "reader").await;
    let member = role_id(&admin, "member").await;
    assert_eq!(
        admin
            .put(
                &format!("/v3/domains/default/groups/{gid}/roles/{reader}"),
                None
            )
            .await
            .unwrap()
            .status,
        204
    );

    let r = admin
        .get(&format!("/v3/role_assignments?user.id={uid}"))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let ra = r.body["role_assignments"].as_array().unwrap();
    assert_eq!(ra.len(), 1);
    assert_eq!(ra[0]["scope"]["project"]["id"], pid.as_str());
    assert_eq!(ra[0]["role"]["id"], member.as_str());
    assert!(ra[0]["links"]["assignment"]
        .as_str()
        .unwrap()
        .contains(&format!("/v3/projects/{pid}/users/{uid}/roles/")));

    // Names.
    let r = admin
        .get(&format!(
            "/v3/role_assignments?user.id={uid}&include_names=true"
        ))
        .await
        .unwrap();
    let a = &r.body["role_assignments"][0];
    assert_eq!(a["role"]["name"], "member");
    assert_eq!(a["user"]["name"], "rau");
    assert_eq!(a["user"]["domain"]["name"], "Default");
    assert_eq!(a["scope"]["project"]["name"], "ra");
    // A group's name and domain as for a user (`role assignment list
    // --names` reads both and fails without them).
    let r = admin
        .get(&format!(
            "/v3/role_assignments?group.id={gid}&include_names=true"
        ))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let a = &r.body["role_assignments"][0];
    assert_eq!(a["group"]["id"], gid.as_str());
    assert_eq!(a["group"]["name"], "rag");
    assert_eq!(a["group"]["domain"]["id"], "default");
    assert_eq!(a["group"]["domain"]["name"], "Default");
    assert_eq!(a["scope"]["domain"]["name"], "Default");

    // Effective: implied reader on the project, the group's domain grant
    // credited to the member through the group.
    let r = admin
        .get(&format!("/v3/role_assignments?user.id={uid}&effective"))
        .await
        .unwrap();
    let ra = r.body["role_assignments"].as_array().unwrap();
    let summary: Vec<(String, String)> = ra
        .iter()
        .map(|a| {
            let scope = if a["scope"]["project"].is_object() {
                "project"
            } else {
                "domain"
            };
            (
                scope.to_string(),
                a["role"]["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        summary.contains(&("project".into(), member.clone())),
        "{summary:?}"
    );
    assert!(
        summary.contains(&("project".into(), reader.clone())),
        "{summary:?}"
    );
    assert!(
        summary.contains(&("domain".into(), reader.clone())),
        "{summary:?}"
    );
    assert!(ra.iter().any(|a| a["links"]["membership"].is_string()));
    assert!(ra.iter().any(|a| a["links"]["prior_role"].is_string()));

    // Scope filters.
    let r = admin
        .get(&format!("/v3/role_assignments?scope.project.id={pid}"))
        .await
        .unwrap();
    assert_eq!(r.body["role_assignments"].as_array().unwrap().len(), 1);
    let r = admin
        .get("/v3/role_assignments?scope.domain.id=default")
        .await
        .unwrap();
    assert_eq!(r.body["role_assignments"].as_array().unwrap().len(), 1);
    let r = admin
        .get("/v3/role_assignments?scope.system=all")
        .await
        .unwrap();
    assert_eq!(
        r.body["role_assignments"][0]["scope"]["system"]["all"],
        true
    );
    let r = admin
        .get(&format!("/v3/role_assignments?role.id={member}"))
        .await
        .unwrap();
    assert!(r.body["role_assignments"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["role"]["id"] == member.as_str()));
    assert_error(
        &admin
            .get(&format!("/v3/role_assignments?group.id={gid}&effective"))
            .await
            .unwrap(),
        400,
    );
    cloud.stop().await;
}

/// OS-INHERIT as tempest's `test_inherits` drives it: assign, list,
/// check and revoke inherited grants on domains and projects for users
/// and groups, and the effective assignments they give the projects
/// below (`?scope.project.id=…&user.id=…&effective`).
#[tokio::test]
async fn inherited_grants_as_tempest_uses_them() {
    let cloud = TestCloud::start().await.unwrap();
    let admin = cloud.admin().await.unwrap();
    let did = admin
        .post("/v3/domains", json!({"domain": {"name": "inh"}}))
        .await
        .unwrap()
        .body["domain"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mk_project = |name: &'static str, parent: Option<String>| {
        let admin = admin.clone();
        let did = did.clone();
        async move {
            let r = admin
                .post(
                    "/v3/projects",
                    json!({"project": {"name": name, "domain_id": did, "parent_id": parent}}),
                )
                .await
                .unwrap();
            assert_eq!(r.status, 201, "{}", r.text);
            r.body["project"]["id"].as_str().unwrap().to_string()
        }
    };
    let parent = mk_project("inh-parent", None).await;
    let leaf = mk_project("inh-leaf", Some(parent.clone())).await;
    let r = admin
        .post(
            "/v3/users",
            json!({"user": {"name": "inh-u", "domain_id": did}}),
        )
        .await
        .unwrap();
    let uid = r.body["user"]["id"].as_str().unwrap().to_string();
    let r = admin
        .post(
            "/v3/groups",
            json!({"group": {"name": "inh-g", "domain_id": did}}),
        )
        .await
        .unwrap();
    let gid = r.body["group"]["id"].as_str().unwrap().to_string();
    let r = admin
        .post("/v3/roles", json!({"role": {"name": "inh-role"}}))
        .await
        .unwrap();
    let rid = r.body["role"]["id"].as_str().unwrap().to_string();

    // On the domain, for the user and the group: list, check, revoke.
    for (who, actor) in [("users", &uid), ("groups", &gid)] {
        let one =
            format!("/v3/OS-INHERIT/domains/{did}/{who}/{actor}/roles/{rid}/inherited_to_projects");
        let all = format!("/v3/OS-INHERIT/domains/{did}/{who}/{actor}/roles/inherited_to_projects");
        assert_eq!(admin.put(&one, None).await.unwrap().status, 204);
        let r = admin.get(&all).await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(ids(&r.body, "roles"), vec![rid.clone()]);
        assert_eq!(admin.head(&one).await.unwrap().status, 204);
        assert_eq!(admin.delete(&one).await.unwrap().status, 204);
        assert_eq!(admin.head(&one).await.unwrap().status, 404);
    }
    // On a project, for the user and the group: check, revoke.
    for (who, actor) in [("users", &uid), ("groups", &gid)] {
        let one = format!(
            "/v3/OS-INHERIT/projects/{parent}/{who}/{actor}/roles/{rid}/inherited_to_projects"
        );
        assert_eq!(admin.put(&one, None).await.unwrap().status, 204);
        assert_eq!(admin.head(&one).await.unwrap().status, 204);
        assert_eq!(admin.delete(&one).await.unwrap().status, 204);
    }

    let effective = |project: &str| {
        format!("/v3/role_assignments?scope.project.id={project}&user.id={uid}&effective")
    };
    // Inherited on the domain: effective on the parent and the leaf.
    let on_domain =
        format!("/v3/OS-INHERIT/domains/{did}/users/{uid}/roles/{rid}/inherited_to_projects");
    assert_eq!(admin.put(&on_domain, None).await.unwrap().status, 204);
    for p in [&parent, &leaf] {
        let r = admin.get(&effective(p)).await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text);
        let a = r.body["role_assignments"].as_array().unwrap();
        assert_eq!(a.len(), 1, "{}", r.text);
        assert_eq!(a[0]["role"]["id"], rid.as_str());
        assert_eq!(a[0]["scope"]["project"]["id"], p.as_str());
    }
    assert_eq!(admin.delete(&on_domain).await.unwrap().status, 204);
    for p in [&parent, &leaf] {
        let r = admin.get(&effective(p)).await.unwrap();
        assert!(
            r.body["role_assignments"].as_array().unwrap().is_empty(),
            "{}",
            r.text
        );
    }
    // Inherited on the parent project: effective on the leaf only.
    let on_parent =
        format!("/v3/OS-INHERIT/projects/{parent}/users/{uid}/roles/{rid}/inherited_to_projects");
    assert_eq!(admin.put(&on_parent, None).await.unwrap().status, 204);
    let r = admin.get(&effective(&leaf)).await.unwrap();
    assert_eq!(
        r.body["role_assignments"].as_array().unwrap().len(),
        1,
        "{}",
        r.text
    );
    let r = admin.get(&effective(&parent)).await.unwrap();
    assert!(
        r.body["role_assignments"].as_array().unwrap().is_empty(),
        "{}",
        r.text
    );
    assert_eq!(admin.delete(&on_parent).await.unwrap().status, 204);
    let r = admin.get(&effective(&leaf)).await.unwrap();
    assert!(
        r.body["role_assignments"].as_array().unwrap().is_empty(),
        "{}",
        r.text
    );
    cloud.stop().await;
}

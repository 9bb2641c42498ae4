"""Identity API extension checks (issue #6) with the upstream clients:
credentials, EC2 credentials, OS-INHERIT, OS-EP-FILTER endpoint groups,
policies and OS-TRUST trusts, including a trust-scoped token."""

from __future__ import annotations

import json
import os
from typing import Any

from run import Cloud, check, expect

PASSWORD = "Compat-Ext-1x!"


def _norm(obj: dict[str, Any]) -> dict[str, Any]:
    return {str(k).lower().replace(" ", "_"): v for k, v in obj.items()}


def _ext_user(cloud: Cloud) -> tuple[str, str]:
    """A project and a member user in it, made once for these checks."""
    if "ext_user_id" not in cloud.state:
        project = cloud.unique("compat-ext-proj")
        user = cloud.unique("compat-ext-user")
        p = cloud.openstack_json("project", "create", "--domain", "default", project)
        u = cloud.openstack_json("user", "create", "--domain", "default", "--password", PASSWORD, user)
        cloud.openstack_ok("role", "add", "--user", u["id"], "--project", p["id"], "member")
        cloud.state.update(ext_user_id=u["id"], ext_user=user, ext_project_id=p["id"], ext_project=project)
    return cloud.state["ext_user_id"], cloud.state["ext_project_id"]


@check("identity-ext: openstack credential create / list / delete")
def credentials(cloud: Cloud) -> None:
    user_id, project_id = _ext_user(cloud)
    created = _norm(cloud.openstack_json("credential", "create", "--type", "totp", user_id, "JBSWY3DPEHPK3PXP"))
    expect(created.get("user_id") == user_id and created.get("blob") == "JBSWY3DPEHPK3PXP", f"created {created}")
    listed = cloud.openstack_json("credential", "list")
    expect(any(_norm(r).get("id") == created["id"] for r in listed), f"credential list lacks {created['id']}")
    cloud.openstack_ok("credential", "delete", created["id"])
    listed = cloud.openstack_json("credential", "list")
    expect(all(_norm(r).get("id") != created["id"] for r in listed), "deleted credential still listed")


@check("identity-ext: openstack ec2 credentials create / list / delete")
def ec2_credentials(cloud: Cloud) -> None:
    created = _norm(cloud.openstack_json("ec2", "credentials", "create"))
    expect(created.get("access") and created.get("secret"), f"ec2 credentials create: {created}")
    listed = [_norm(r) for r in cloud.openstack_json("ec2", "credentials", "list")]
    expect(any(r.get("access") == created["access"] for r in listed), f"ec2 list lacks {created['access']}: {listed}")
    cloud.openstack_ok("ec2", "credentials", "delete", created["access"])
    listed = [_norm(r) for r in cloud.openstack_json("ec2", "credentials", "list")]
    expect(all(r.get("access") != created["access"] for r in listed), "deleted ec2 credential still listed")


@check("identity-ext: openstack role add --inherited reaches the projects below")
def inherited_roles(cloud: Cloud) -> None:
    user_id, project_id = _ext_user(cloud)
    child = cloud.unique("compat-ext-child")
    c = cloud.openstack_json("project", "create", "--parent", project_id, child)
    cloud.openstack_ok("role", "add", "--user", user_id, "--project", project_id, "--inherited", "reader")
    rows = [_norm(r) for r in cloud.openstack_json("role", "assignment", "list", "--user", user_id, "--inherited")]
    expect(any(r.get("project") == project_id and r.get("inherited") in (True, "True") for r in rows),
           f"inherited assignment not listed: {rows}")
    effective = [_norm(r) for r in cloud.openstack_json("role", "assignment", "list", "--user", user_id, "--effective")]
    expect(any(r.get("project") == c["id"] for r in effective), f"child project not in effective assignments: {effective}")
    cloud.openstack_ok("role", "remove", "--user", user_id, "--project", project_id, "--inherited", "reader")
    cloud.openstack_ok("project", "delete", c["id"])


@check("identity-ext: openstack endpoint group create + add project filters the catalog")
def endpoint_groups(cloud: Cloud) -> None:
    user_id, project_id = _ext_user(cloud)
    identity = cloud.openstack_json("service", "show", "identity")
    path = cloud.tmp / "compat-ep-filters.json"
    path.write_text(json.dumps({"interface": "public", "service_id": identity["id"]}))
    name = cloud.unique("compat-epg")
    group = cloud.openstack_json("endpoint", "group", "create", name, str(path))
    expect(group.get("name") == name, f"endpoint group create: {group}")
    cloud.openstack_ok("endpoint", "group", "add", "project", group["id"], project_id)
    shown = cloud.openstack_json("endpoint", "group", "list", "--project", project_id)
    expect(any(_norm(r).get("id") == group["id"] for r in shown), f"group not listed for the project: {shown}")
    # The member's catalog now holds only public identity endpoints.
    config = cloud.write_extra_clouds({"compat-ext-member": {"auth": {
        "auth_url": cloud.admin_cloud()["auth"]["auth_url"], "username": cloud.state["ext_user"],
        "password": PASSWORD, "project_id": project_id, "user_domain_name": "Default"}}})
    catalog = cloud.openstack_json("catalog", "list", cloud="compat-ext-member", config=config)
    cloud.note(f"member catalog: {catalog}")
    expect(all(_norm(row).get("type") == "identity" for row in catalog), f"other services in the filtered catalog: {catalog}")
    interfaces = {ep.get("interface") for row in catalog for ep in (_norm(row).get("endpoints") or [])
                  if isinstance(ep, dict)}
    expect(interfaces == {"public"}, f"the filtered catalog should hold only public endpoints: {catalog}")
    cloud.openstack_ok("endpoint", "group", "remove", "project", group["id"], project_id)
    cloud.openstack_ok("endpoint", "group", "delete", group["id"])


@check("identity-ext: openstack policy create / show / delete")
def policies(cloud: Cloud) -> None:
    path = cloud.tmp / "compat-policy.json"
    path.write_text(json.dumps({"compute:start": "role:member"}))
    created = _norm(cloud.openstack_json("policy", "create", "--type", "application/json", str(path)))
    expect(created.get("id") and "compute:start" in str(created.get("blob") or created.get("rules")), f"policy create: {created}")
    shown = _norm(cloud.openstack_json("policy", "show", created["id"]))
    expect(shown.get("type") == "application/json", f"policy show: {shown}")
    cloud.openstack_ok("policy", "delete", created["id"])


@check("identity-ext: openstack trust create, token issue --os-trust-id as the trustee, trust delete")
def trusts(cloud: Cloud) -> None:
    user_id, project_id = _ext_user(cloud)
    trustee = cloud.unique("compat-trustee")
    t_user = cloud.openstack_json("user", "create", "--domain", "default", "--password", PASSWORD, trustee)
    auth_url = cloud.admin_cloud()["auth"]["auth_url"]
    config = cloud.write_extra_clouds({
        "compat-trustor": {"auth": {"auth_url": auth_url, "username": cloud.state["ext_user"], "password": PASSWORD,
                                     "project_id": project_id, "user_domain_name": "Default"}},
    })
    trust = _norm(cloud.openstack_json(
        "trust", "create", "--project", project_id, "--role", "member", "--impersonate",
        "--trustor-domain", "default", "--trustee-domain", "default", user_id, t_user["id"],
        cloud="compat-trustor", config=config))
    expect(trust.get("id") and trust.get("project_id") == project_id, f"trust create: {trust}")
    # The trustee's cloud config carries the trust id instead of a project.
    config2 = cloud.write_extra_clouds({
        "compat-trustee": {"auth": {"auth_url": auth_url, "username": trustee, "password": PASSWORD,
                                     "user_domain_name": "Default", "trust_id": trust["id"]}},
    })
    token = _norm(cloud.openstack_json("token", "issue", cloud="compat-trustee", config=config2))
    expect(token.get("project_id") == project_id, f"trust token not scoped to the trust's project: {token}")
    expect(token.get("user_id") == user_id, f"impersonating trust token should be the trustor's: {token}")
    # openstacksdk: a trust-scoped connection lists the trust's project.
    code = (
        "import openstack, sys\n"
        "c = openstack.connect(cloud='compat-trustee')\n"
        "print(c.current_project_id)\n"
    )
    env = dict(cloud.env)
    env["OS_CLIENT_CONFIG_FILE"] = str(config2)
    r = cloud.run([str(cloud.bin_dir / "python"), "-c", code], env=env)
    expect(r.returncode == 0 and project_id in r.stdout, f"openstacksdk with the trust: {r.stdout} {r.stderr}")
    cloud.openstack_ok("trust", "delete", trust["id"], cloud="compat-trustor", config=config)
    r = cloud.openstack("token", "issue", cloud="compat-trustee", config=config2)
    expect(r.returncode != 0, "a deleted trust still gives tokens")


@check("identity-ext: application credential create --access-rules; the SDK may call only what the rules allow")
def access_rules(cloud: Cloud) -> None:
    name = cloud.unique("compat-ar")
    rules = json.dumps([{"service": "identity", "method": "GET", "path": "/v3/auth/projects"}])
    created = _norm(cloud.openstack_json("application", "credential", "create", "--access-rules", rules, name))
    shown_rules = created.get("access_rules")
    expect(shown_rules and "/v3/auth/projects" in str(shown_rules), f"access rules not returned: {created}")
    listed = cloud.openstack_json("access", "rule", "list")
    expect(any("/v3/auth/projects" in str(r) for r in listed), f"access rule list: {listed}")
    config = cloud.write_extra_clouds({"compat-ar": {
        "auth_type": "v3applicationcredential",
        "auth": {"auth_url": cloud.admin_cloud()["auth"]["auth_url"],
                 "application_credential_id": created["id"],
                 "application_credential_secret": created["secret"]}}})
    code = (
        "import openstack\n"
        "c = openstack.connect(cloud='compat-ar')\n"
        "r = c.identity.get('/auth/projects')\n"
        "print('allowed', r.status_code)\n"
        "r = c.identity.get('/users')\n"
        "print('denied', r.status_code)\n"
    )
    env = dict(cloud.env)
    env["OS_CLIENT_CONFIG_FILE"] = str(config)
    r = cloud.run([str(cloud.bin_dir / "python"), "-c", code], env=env)
    expect(r.returncode == 0, f"openstacksdk with the restricted credential failed: {r.stderr}")
    expect("allowed 200" in r.stdout, f"the allowed call did not succeed: {r.stdout}")
    expect("denied 401" in r.stdout, f"a call outside the rules was not refused with 401: {r.stdout}")
    cloud.openstack_ok("application", "credential", "delete", created["id"])

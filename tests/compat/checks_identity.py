"""Identity (Keystone v3) compatibility checks.

python-openstackclient (`openstack --os-cloud oxistack ...`) and openstacksdk
against a freshly bootstrapped oxistack. Expectations are upstream Keystone's:
`keystone-manage bootstrap` gives domain `Default` (id `default`), projects
`admin` and `service`, user `admin`, roles `admin`, `member`, `reader` (and
`service`), region `RegionOne` and the identity service in the catalog.
Checks run in order; later ones use what earlier ones created (`cloud.state`).
"""

from __future__ import annotations

import os
import re
import stat
from typing import Any

from run import Cloud, CheckFailed, check, expect

PASSWORD_1 = "Compat-Pass-1x!"
PASSWORD_2 = "Compat-Pass-2y!"


def _names(rows: list[dict[str, Any]], key: str = "Name") -> set[str]:
    return {row.get(key) for row in rows}


def _norm(obj: dict[str, Any]) -> dict[str, Any]:
    """Keys as `id`, `project_id`: OSC prints some resources as `ID`, `Project ID`."""
    return {str(k).lower().replace(" ", "_"): v for k, v in obj.items()}


def _http_status(output: str, status: int) -> bool:
    """Whether a client's error message carries this HTTP status.

    OSC words it `... (HTTP 403)` (keystoneauth/keystoneclient) or
    `ForbiddenException: 403: Client Error for url: ...` (openstacksdk).
    """
    return re.search(rf"\b{status}\b", output) is not None


def _admin_ids(cloud: Cloud) -> tuple[str, str]:
    """The bootstrap admin user's and admin project's ids (looked up once)."""
    if "admin_user_id" not in cloud.state:
        user = cloud.openstack_json("user", "show", "admin", "--domain", "default")
        project = cloud.openstack_json("project", "show", "admin", "--domain", "default")
        cloud.state.update(admin_user_id=user["id"], admin_project_id=project["id"])
    return cloud.state["admin_user_id"], cloud.state["admin_project_id"]


def _need(cloud: Cloud, *keys: str) -> list[Any]:
    missing = [k for k in keys if k not in cloud.state]
    if missing:
        raise CheckFailed(f"an earlier check that creates {', '.join(missing)} failed")
    return [cloud.state[k] for k in keys]


# --- the bootstrap and clouds.yaml ---------------------------------------------


@check("identity: clouds.yaml written mode 0600 with cloud 'oxistack'")
def clouds_yaml(cloud: Cloud) -> None:
    expect(cloud.clouds_yaml.is_file(), f"{cloud.clouds_yaml} does not exist")
    mode = stat.S_IMODE(os.stat(cloud.clouds_yaml).st_mode)
    expect(mode == 0o600, f"clouds.yaml has mode {mode:o}, want 600")
    cfg = cloud.admin_cloud()
    auth = cfg.get("auth", {})
    cloud.note(f"clouds.yaml oxistack cloud keys: {sorted(cfg)}; auth keys: {sorted(auth)}")
    expect(str(auth.get("auth_url", "")).startswith(f"http://{cloud.listen}:5000"),
           f"auth_url {auth.get('auth_url')!r} is not on http://{cloud.listen}:5000")
    expect(auth.get("username") == "admin", "cloud 'oxistack' does not authenticate as admin")
    expect(auth.get("project_name") == "admin" or auth.get("project_id"),
           "cloud 'oxistack' is not project-scoped")


@check("identity: openstack token issue")
def token_issue(cloud: Cloud) -> None:
    token = cloud.openstack_json("token", "issue")
    for key in ("id", "expires", "project_id", "user_id"):
        expect(token.get(key), f"token issue output lacks {key}: {token}")
    admin_user_id, admin_project_id = _admin_ids(cloud)
    expect(token["user_id"] == admin_user_id, "token's user_id is not the admin user's id")
    expect(token["project_id"] == admin_project_id, "token's project_id is not the admin project's id")


@check("identity: openstack catalog list")
def catalog_list(cloud: Cloud) -> None:
    rows = cloud.openstack_json("catalog", "list")
    identity = [row for row in rows if row.get("Type") == "identity"]
    expect(identity, f"no identity service in the catalog: {rows}")
    expect(identity[0].get("Name") == "keystone", f"identity service is not named keystone: {identity}")
    endpoints = str(identity[0].get("Endpoints"))
    expect(f"{cloud.listen}:5000" in endpoints, f"identity endpoints lack {cloud.listen}:5000: {endpoints}")
    expect("RegionOne" in endpoints, f"identity endpoints are not in RegionOne: {endpoints}")
    shown = cloud.openstack_json("catalog", "show", "identity")
    expect(shown.get("type") == "identity", f"catalog show identity: {shown}")


@check("identity: openstack endpoint list")
def endpoint_list(cloud: Cloud) -> None:
    rows = cloud.openstack_json("endpoint", "list")
    public = [r for r in rows if r.get("Service Type") == "identity" and r.get("Interface") == "public"]
    expect(len(public) == 1, f"want one public identity endpoint, got {public} in {rows}")
    expect(public[0].get("Region") == "RegionOne", f"identity endpoint region: {public[0]}")
    expect(f"{cloud.listen}:5000" in str(public[0].get("URL")), f"identity endpoint URL: {public[0]}")
    expect(public[0].get("Enabled") is True, f"identity endpoint not enabled: {public[0]}")
    filtered = cloud.openstack_json("endpoint", "list", "--service", "identity", "--interface", "public")
    expect([r.get("ID") for r in filtered] == [public[0].get("ID")],
           f"endpoint list --service identity --interface public: {filtered}")


@check("identity: openstack service list / region list")
def service_region_list(cloud: Cloud) -> None:
    services = cloud.openstack_json("service", "list")
    expect(any(s.get("Name") == "keystone" and s.get("Type") == "identity" for s in services),
           f"no keystone/identity in service list: {services}")
    regions = cloud.openstack_json("region", "list")
    expect("RegionOne" in _names(regions, "Region"), f"no RegionOne in region list: {regions}")


@check("identity: openstack domain list")
def domain_list(cloud: Cloud) -> None:
    rows = cloud.openstack_json("domain", "list")
    default = [r for r in rows if r.get("ID") == "default"]
    expect(default and default[0].get("Name") == "Default", f"no domain Default (id default): {rows}")
    expect(default[0].get("Enabled") is True, f"domain Default is not enabled: {default}")


@check("identity: openstack project list / project show")
def project_list_show(cloud: Cloud) -> None:
    rows = cloud.openstack_json("project", "list")
    expect({"admin", "service"} <= _names(rows), f"project list lacks admin/service: {rows}")
    shown = cloud.openstack_json("project", "show", "admin")
    expect(shown.get("name") == "admin", f"project show admin: {shown}")
    expect(shown.get("domain_id") == "default", f"admin project not in domain default: {shown}")
    expect(shown.get("enabled") is True, f"admin project not enabled: {shown}")
    expect(shown.get("id") in {r.get("ID") for r in rows}, "project show id not in project list")


@check("identity: openstack role list")
def role_list(cloud: Cloud) -> None:
    rows = cloud.openstack_json("role", "list")
    want = {"admin", "member", "reader", "service"}
    expect(want <= _names(rows), f"role list lacks {sorted(want - _names(rows))}: {rows}")


@check("identity: openstack user list")
def user_list(cloud: Cloud) -> None:
    rows = cloud.openstack_json("user", "list")
    expect("admin" in _names(rows), f"user list lacks admin: {rows}")


# --- projects, users, role assignments -----------------------------------------


@check("identity: openstack project create / list / delete")
def project_create_delete(cloud: Cloud) -> None:
    name = cloud.unique("compat-tmp")
    created = cloud.openstack_json(
        "project", "create", "--domain", "default", "--description", "compat scratch", name
    )
    expect(created.get("name") == name, f"project create returned {created}")
    expect(created.get("domain_id") == "default", f"project created outside default: {created}")
    expect(created.get("description") == "compat scratch", f"description lost: {created}")
    expect(created.get("enabled") is True, f"new project not enabled: {created}")
    listed = cloud.openstack_json("project", "list")
    expect(name in _names(listed), f"new project {name} not in project list")
    cloud.openstack_ok("project", "delete", name)
    listed = cloud.openstack_json("project", "list")
    expect(name not in _names(listed), f"deleted project {name} still in project list")
    gone = cloud.openstack("project", "show", created["id"])
    expect(gone.returncode != 0, "project show of a deleted project succeeded")
    expect(_http_status(gone.output, 404) or "no project" in gone.output.lower(),
           "deleted project: want a 404 / 'No project found'")


@check("identity: openstack project create + user create --password")
def user_create(cloud: Cloud) -> None:
    project = cloud.unique("compat-proj")
    user = cloud.unique("compat-user")
    proj = cloud.openstack_json("project", "create", "--domain", "default", project)
    created = cloud.openstack_json(
        "user", "create", "--domain", "default", "--password", PASSWORD_1,
        "--project", project, "--project-domain", "default", user,
    )
    expect(created.get("name") == user, f"user create returned {created}")
    expect(created.get("domain_id") == "default", f"user created outside default: {created}")
    expect(created.get("enabled") is True, f"new user not enabled: {created}")
    expect("password" not in created, f"user create echoed the password: {created}")
    listed = cloud.openstack_json("user", "list")
    expect(user in _names(listed), f"new user {user} not in user list")
    shown = cloud.openstack_json("user", "show", created["id"])
    expect(shown.get("name") == user, f"user show: {shown}")
    cloud.state.update(project=project, project_id=proj["id"], user=user, user_id=created["id"])


@check("identity: openstack role add --user --project; role assignment list --names")
def role_add(cloud: Cloud) -> None:
    project, user = _need(cloud, "project", "user")
    cloud.openstack_ok(
        "role", "add", "--user", user, "--user-domain", "default",
        "--project", project, "--project-domain", "default", "member",
    )
    rows = cloud.openstack_json(
        "role", "assignment", "list", "--names", "--user", user, "--user-domain", "default",
        "--project", project, "--project-domain", "default",
    )
    expect(
        any(r.get("Role") == "member" and r.get("User") == f"{user}@Default"
            and r.get("Project") == f"{project}@Default" for r in rows),
        f"role assignment list --names lacks member/{user}@Default/{project}@Default: {rows}",
    )
    everything = cloud.openstack_json("role", "assignment", "list", "--names")
    expect(any(r.get("User") == f"{user}@Default" and r.get("Role") == "member" for r in everything),
           "unfiltered role assignment list --names lacks the new assignment")
    expect(any(r.get("User") == "admin@Default" and r.get("Role") == "admin"
               and r.get("Project") == "admin@Default" for r in everything),
           f"role assignment list lacks the bootstrap admin/admin@admin assignment: {everything}")
    cloud.state["role_added"] = True


@check("identity: openstack role add --group; role assignment list --names shows the group")
def role_add_group(cloud: Cloud) -> None:
    project, = _need(cloud, "project")
    group = cloud.unique("compat-group")
    cloud.openstack_ok("group", "create", "--domain", "default", group)
    cloud.openstack_ok(
        "role", "add", "--group", group, "--group-domain", "default",
        "--project", project, "--project-domain", "default", "reader",
    )
    # OSC formats a group as `name@domain` from the assignment's group
    # name and domain name; without them it crashes with a KeyError.
    rows = cloud.openstack_json(
        "role", "assignment", "list", "--names", "--group", group, "--group-domain", "default",
    )
    expect(
        any(r.get("Role") == "reader" and r.get("Group") == f"{group}@Default"
            and r.get("Project") == f"{project}@Default" for r in rows),
        f"role assignment list --names lacks reader/{group}@Default/{project}@Default: {rows}",
    )
    everything = cloud.openstack_json("role", "assignment", "list", "--names")
    expect(any(r.get("Group") == f"{group}@Default" for r in everything),
           f"unfiltered role assignment list --names lacks the group: {everything}")
    cloud.openstack_ok(
        "role", "remove", "--group", group, "--group-domain", "default",
        "--project", project, "--project-domain", "default", "reader",
    )
    cloud.openstack_ok("group", "delete", "--domain", "default", group)


def _user_cloud(cloud: Cloud) -> Any:
    project, user = _need(cloud, "project", "user")
    auth_url = cloud.admin_cloud()["auth"]["auth_url"]
    return cloud.write_extra_clouds({
        "compat-user": {
            "auth_type": "password",
            "auth": {
                "auth_url": auth_url,
                "username": user,
                "password": PASSWORD_1,
                "user_domain_name": "Default",
                "project_name": project,
                "project_domain_name": "Default",
            },
        }
    })


@check("identity: new member user gets a project-scoped token")
def member_token(cloud: Cloud) -> None:
    _need(cloud, "role_added")
    config = _user_cloud(cloud)
    token = cloud.openstack_json("token", "issue", cloud="compat-user", config=config)
    expect(token.get("user_id") == cloud.state["user_id"], f"token for the wrong user: {token}")
    expect(token.get("project_id") == cloud.state["project_id"], f"token for the wrong project: {token}")


@check("identity: wrong password is refused (401, non-zero exit)")
def wrong_password(cloud: Cloud) -> None:
    bad = cloud.openstack("--os-password", "not-the-password", "token", "issue")
    expect(bad.returncode != 0, "token issue with a wrong password exited 0")
    expect(_http_status(bad.output, 401), "wrong password: want HTTP 401 in the client's message")


@check("identity: member user cannot create users (403)")
def member_forbidden(cloud: Cloud) -> None:
    _need(cloud, "role_added")
    config = _user_cloud(cloud)
    name = cloud.unique("compat-denied")
    denied = cloud.openstack(
        "user", "create", "--domain", "default", "--password", "x", name,
        cloud="compat-user", config=config,
    )
    expect(denied.returncode != 0, "member user's user create exited 0")
    expect(_http_status(denied.output, 403), "member user create: want HTTP 403 in the client's message")
    expect("not authorized" in denied.output.lower(),
           "member user create: want Keystone's 'You are not authorized ...' message")
    listed = cloud.openstack_json("user", "list")
    expect(name not in _names(listed), f"forbidden user create still created {name}")


@check("identity: openstack user set --password")
def user_set_password(cloud: Cloud) -> None:
    user, user_id = _need(cloud, "user", "user_id")
    config = _user_cloud(cloud)
    cloud.openstack_ok("user", "set", "--password", PASSWORD_2, user)
    old = cloud.openstack("token", "issue", cloud="compat-user", config=config)
    expect(old.returncode != 0, "the old password still authenticates after user set --password")
    new = cloud.openstack_json(
        "--os-password", PASSWORD_2, "token", "issue", cloud="compat-user", config=config
    )
    expect(new.get("user_id") == user_id, f"new password token for the wrong user: {new}")


# --- application credentials ----------------------------------------------------


@check("identity: application credential create, authenticate with it, delete")
def application_credential(cloud: Cloud) -> None:
    admin_user_id, admin_project_id = _admin_ids(cloud)
    name = cloud.unique("compat-appcred")
    created = _norm(cloud.openstack_json(
        "application", "credential", "create", "--description", "compat", name
    ))
    expect(created.get("name") == name, f"application credential create returned {created}")
    expect(created.get("id") and created.get("secret"), f"no id/secret returned: {created}")
    expect(created.get("project_id") == admin_project_id, f"app cred project_id: {created}")
    listed = cloud.openstack_json("application", "credential", "list")
    expect(name in _names(listed), f"application credential list lacks {name}: {listed}")
    expect(all("secret" not in str(k).lower() or not v for r in listed for k, v in r.items()),
           "application credential list shows secrets")
    auth_url = cloud.admin_cloud()["auth"]["auth_url"]
    config = cloud.write_extra_clouds({
        "compat-appcred": {
            "auth_type": "v3applicationcredential",
            "auth": {
                "auth_url": auth_url,
                "application_credential_id": created["id"],
                "application_credential_secret": created["secret"],
            },
        },
        "compat-appcred-byname": {
            "auth_type": "v3applicationcredential",
            "auth": {
                "auth_url": auth_url,
                "application_credential_name": name,
                "application_credential_secret": created["secret"],
                "username": "admin",
                "user_domain_name": "Default",
            },
        },
        "compat-appcred-badsecret": {
            "auth_type": "v3applicationcredential",
            "auth": {
                "auth_url": auth_url,
                "application_credential_id": created["id"],
                "application_credential_secret": "wrong-secret",
            },
        },
    })
    token = cloud.openstack_json("token", "issue", cloud="compat-appcred", config=config)
    expect(token.get("user_id") == admin_user_id, f"app cred token for the wrong user: {token}")
    expect(token.get("project_id") == admin_project_id, f"app cred token for the wrong project: {token}")
    byname = cloud.openstack_json("token", "issue", cloud="compat-appcred-byname", config=config)
    expect(byname.get("user_id") == admin_user_id, f"app cred (by name) token: {byname}")
    bad = cloud.openstack("token", "issue", cloud="compat-appcred-badsecret", config=config)
    expect(bad.returncode != 0 and _http_status(bad.output, 401), "a wrong app cred secret must get 401")
    projects = cloud.openstack_json("project", "list", cloud="compat-appcred", config=config)
    expect("admin" in _names(projects), "a request with the app cred token failed to list projects")
    cloud.openstack_ok("application", "credential", "delete", name)
    after = cloud.openstack("token", "issue", cloud="compat-appcred", config=config)
    # Upstream Keystone answers 404 "Could not find Application Credential" here.
    expect(after.returncode != 0
           and (_http_status(after.output, 404) or _http_status(after.output, 401)),
           "a deleted application credential still authenticates (want 404 as Keystone, or 401)")


# --- openstacksdk ----------------------------------------------------------------


def _sdk_admin(cloud: Cloud) -> Any:
    import openstack

    os.environ["OS_CLIENT_CONFIG_FILE"] = str(cloud.clouds_yaml)
    return openstack.connect(cloud="oxistack")


@check("identity: openstacksdk connect(cloud='oxistack'), list projects")
def sdk_list_projects(cloud: Cloud) -> None:
    conn = _sdk_admin(cloud)
    names = {p.name for p in conn.identity.projects()}
    cloud.note(f"sdk projects: {sorted(names)}")
    expect({"admin", "service"} <= names, f"sdk project list lacks admin/service: {names}")
    expect(conn.current_project_id == _admin_ids(cloud)[1],
           "sdk connection is not scoped to the admin project")
    role_names = {r.name for r in conn.identity.roles()}
    expect({"admin", "member", "reader"} <= role_names, f"sdk role list: {role_names}")
    domain = conn.identity.get_domain("default")
    expect(domain.name == "Default", f"sdk get_domain(default): {domain}")


@check("identity: openstacksdk create project, user, member role assignment")
def sdk_create(cloud: Cloud) -> None:
    conn = _sdk_admin(cloud)
    pname, uname = cloud.unique("sdk-proj"), cloud.unique("sdk-user")
    project = conn.identity.create_project(name=pname, domain_id="default", description="sdk")
    expect(project.id and project.name == pname, f"create_project: {project}")
    user = conn.identity.create_user(
        name=uname, password=PASSWORD_1, domain_id="default", default_project_id=project.id
    )
    expect(user.id and user.name == uname, f"create_user: {user}")
    cloud.state.update(sdk_project=project, sdk_user=user)
    role = conn.identity.find_role("member")
    expect(role is not None, "find_role('member') found nothing")
    conn.identity.assign_project_role_to_user(project, user, role)
    expect(conn.identity.validate_user_has_project_role(project, user, role),
           "HEAD /v3/projects/{p}/users/{u}/roles/{member} did not confirm the grant")
    assignments = list(conn.identity.role_assignments(user_id=user.id, scope_project_id=project.id))
    cloud.note(f"sdk role assignments: {[a.to_dict() for a in assignments]}")
    expect(
        any((a.role or {}).get("id") == role.id
            and ((a.scope or {}).get("project") or {}).get("id") == project.id for a in assignments),
        "role_assignments(user, project) lacks the member grant",
    )
    expect(conn.identity.find_user(uname, domain_id="default") is not None, "find_user found nothing")


@check("identity: openstacksdk connect as the new user, token, own projects")
def sdk_user_connect(cloud: Cloud) -> None:
    import openstack

    if "sdk_user" not in cloud.state:
        raise CheckFailed("the sdk create check failed")
    project, user = cloud.state["sdk_project"], cloud.state["sdk_user"]
    admin_cfg = cloud.admin_cloud()
    kwargs: dict[str, Any] = {}
    for key in ("region_name", "interface", "identity_api_version", "verify", "cacert"):
        if key in admin_cfg:
            kwargs[key] = admin_cfg[key]
    conn = openstack.connect(
        auth_url=admin_cfg["auth"]["auth_url"],
        username=user.name,
        password=PASSWORD_1,
        project_name=project.name,
        user_domain_name="Default",
        project_domain_name="Default",
        load_yaml_config=False,
        load_envvars=False,
        **kwargs,
    )
    token = conn.session.get_token()
    expect(token, "no token for the new user")
    expect(conn.current_user_id == user.id, f"token user {conn.current_user_id} != {user.id}")
    expect(conn.current_project_id == project.id, f"token project {conn.current_project_id} != {project.id}")

    own = {p.name for p in conn.identity.user_projects(user.id)}
    cloud.note(f"GET /v3/users/{{id}}/projects as the user: {sorted(own)}")
    expect(own == {project.name}, f"user_projects as the user: {own}, want {{{project.name}}}")
    resp = conn.identity.get("/auth/projects")
    expect(resp.status_code == 200, f"GET /v3/auth/projects: {resp.status_code} {resp.text}")
    auth_projects = {p["name"] for p in resp.json().get("projects", [])}
    expect(auth_projects == {project.name}, f"/v3/auth/projects: {auth_projects}")

    # The admin validates the user's token: GET /v3/auth/tokens with X-Subject-Token.
    admin = _sdk_admin(cloud)
    check_resp = admin.identity.get("/auth/tokens", headers={"X-Subject-Token": token})
    expect(check_resp.status_code == 200, f"validate token: {check_resp.status_code} {check_resp.text}")
    body = check_resp.json().get("token", {})
    expect(body.get("user", {}).get("id") == user.id, f"validated token user: {body.get('user')}")
    roles = {r.get("name") for r in body.get("roles", [])}
    expect("member" in roles, f"validated token roles {roles} lack member")
    expect(body.get("project", {}).get("id") == project.id, f"validated token project: {body.get('project')}")


@check("identity: openstacksdk delete user and project")
def sdk_cleanup(cloud: Cloud) -> None:
    if "sdk_user" not in cloud.state:
        raise CheckFailed("the sdk create check failed")
    conn = _sdk_admin(cloud)
    conn.identity.delete_user(cloud.state["sdk_user"], ignore_missing=False)
    conn.identity.delete_project(cloud.state["sdk_project"], ignore_missing=False)
    expect(conn.identity.find_user(cloud.state["sdk_user"].id) is None, "deleted user still found")
    names = {p.name for p in conn.identity.projects()}
    expect(cloud.state["sdk_project"].name not in names, "deleted project still listed")


@check("identity: openstack token revoke; the revoked token no longer validates")
def token_revoke(cloud: Cloud) -> None:
    issued = cloud.openstack_ok("token", "issue", "-f", "value", "-c", "id").stdout.strip()
    expect(issued, "token issue -c id printed nothing")
    admin = _sdk_admin(cloud)
    before = admin.identity.get("/auth/tokens", headers={"X-Subject-Token": issued}, raise_exc=False)
    expect(before.status_code == 200, f"fresh token does not validate: {before.status_code} {before.text}")
    cloud.openstack_ok("token", "revoke", issued)
    after = admin.identity.get("/auth/tokens", headers={"X-Subject-Token": issued}, raise_exc=False)
    expect(after.status_code == 404, f"revoked token: GET /v3/auth/tokens gave {after.status_code}, want 404")

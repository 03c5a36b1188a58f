actor User {}

global {
  roles = ["superadmin"];
}

resource Organization {
  roles = ["member", "admin"];
  permissions = ["read", "add_member"];

  "read" if "member";
  "add_member" if "admin";
  "member" if "admin";
  "admin" if global "superadmin";
}

resource Repository {
  roles = ["reader", "maintainer"];
  permissions = ["read", "push"];
  relations = { parent: Organization };

  "read" if "reader";
  "push" if "maintainer";
  "reader" if "maintainer";
  "reader" if "member" on "parent";
  "maintainer" if "admin" on "parent";
  "read" if is_public(resource);
}

# plain rules: groups, hierarchy, attributes
has_role(user: User, role: String, repo: Repository) if
  group matches Group and
  has_group(user, group) and
  has_role(group, role, repo);

allow(actor, action, resource) if has_permission(actor, action, resource);

test "maintainers of the org can push" {
  setup {
    has_role(User{"alice"}, "admin", Organization{"acme"});
    has_relation(Repository{"anvils"}, "parent", Organization{"acme"});
  }
  assert allow(User{"alice"}, "push", Repository{"anvils"});
  assert_not allow(User{"bob"}, "push", Repository{"anvils"});
}

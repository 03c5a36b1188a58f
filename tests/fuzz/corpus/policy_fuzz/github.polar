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

test fixture acme {
  has_role(User{"alice"}, "admin", Organization{"acme"});
  has_role(User{"carol"}, "member", Organization{"acme"});
  has_relation(Repository{"anvils"}, "parent", Organization{"acme"});
  has_relation(Repository{"tools"}, "parent", Organization{"acme"});
  has_relation(Repository{"secret"}, "parent", Organization{"bigco"});
}

test "org members read the org's repositories but cannot push" {
  setup {
    fixture acme;
  }
  assert allow(User{"carol"}, "read", Repository{"anvils"});
  assert has_role(User{"carol"}, "reader", Repository{"anvils"});
  assert_not allow(User{"carol"}, "push", Repository{"anvils"});
  assert_not allow(User{"carol"}, "read", Repository{"secret"});
  assert allow(User{"carol"}, "read", r: Repository) iff r in [Repository{"anvils"}, Repository{"tools"}];
}

test "org admins maintain every repository of the org" {
  setup {
    fixture acme;
  }
  assert allow(User{"alice"}, "push", Repository{"tools"});
  assert allow(User{"alice"}, "add_member", Organization{"acme"});
  assert allow(User{"alice"}, "read", Organization{"acme"});
  assert_not allow(User{"alice"}, "push", Repository{"secret"});
  assert allow(User{"alice"}, "push", r: Repository) iff r in [Repository{"anvils"}, Repository{"tools"}];
}

test "role implication inside one repository" {
  setup {
    has_role(User{"mia"}, "maintainer", Repository{"anvils"});
  }
  assert allow(User{"mia"}, "read", Repository{"anvils"});
  assert allow(User{"mia"}, "push", Repository{"anvils"});
  assert_not allow(User{"mia"}, "read", Organization{"acme"});
}

test "superadmins administer every organization" {
  setup {
    has_role(User{"root"}, "superadmin");
    has_relation(Repository{"anvils"}, "parent", Organization{"acme"});
  }
  assert allow(User{"root"}, "add_member", Organization{"acme"});
  assert allow(User{"root"}, "push", Repository{"anvils"});
  assert_not allow(User{"root"}, "push", Repository{"orphan"});
}

test "public repositories are readable by anyone" {
  setup {
    is_public(Repository{"docs"});
  }
  assert allow(User{"anyone"}, "read", Repository{"docs"});
  assert_not allow(User{"anyone"}, "push", Repository{"docs"});
  assert_not allow(User{"anyone"}, "read", Repository{"anvils"});
}

test "group members inherit the group's roles" {
  setup {
    has_group(User{"dave"}, Group{"eng"});
    has_role(Group{"eng"}, "maintainer", Repository{"anvils"});
  }
  assert allow(User{"dave"}, "push", Repository{"anvils"});
  assert allow(User{"dave"}, "read", Repository{"anvils"});
  assert_not allow(User{"erin"}, "push", Repository{"anvils"});
}

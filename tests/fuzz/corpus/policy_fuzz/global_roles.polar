# Global roles: a global block with its own roles, permissions and shorthand
# rules (two-argument has_role / has_permission), used from a resource block.
actor User {}

global {
  roles = ["admin", "member"];
  permissions = ["create_tenant", "invite_member"];

  "create_tenant" if "member";
  "member" if "admin";
  "invite_member" if "admin";
}

resource Tenant {
  roles = ["owner", "viewer"];
  permissions = ["view", "delete"];

  "view" if "viewer";
  "delete" if "owner";
  "viewer" if "owner";
  "owner" if global "admin";
  "viewer" if global "member";
}

test "global admins own every tenant" {
  setup {
    has_role(User{"root"}, "admin");
  }
  assert has_permission(User{"root"}, "create_tenant");
  assert has_permission(User{"root"}, "invite_member");
  assert has_role(User{"root"}, "member");
  assert allow(User{"root"}, "delete", Tenant{"t1"});
  assert allow(User{"root"}, "view", Tenant{"t1"});
}

test "global members view every tenant" {
  setup {
    has_role(User{"mo"}, "member");
  }
  assert has_permission(User{"mo"}, "create_tenant");
  assert_not has_permission(User{"mo"}, "invite_member");
  assert allow(User{"mo"}, "view", Tenant{"t1"});
  assert_not allow(User{"mo"}, "delete", Tenant{"t1"});
}

test "tenant roles stay on their tenant" {
  setup {
    has_role(User{"olga"}, "owner", Tenant{"t1"});
  }
  assert allow(User{"olga"}, "delete", Tenant{"t1"});
  assert_not allow(User{"olga"}, "view", Tenant{"t2"});
  assert_not has_permission(User{"olga"}, "create_tenant");
  assert_not allow(User{"nobody"}, "view", Tenant{"t1"});
}

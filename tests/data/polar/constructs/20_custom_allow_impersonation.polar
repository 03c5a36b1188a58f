actor User {
  permissions = ["impersonate"];
  "impersonate" if global "support";
}
global {
  roles = ["support"];
}
resource Organization {
  roles = ["admin", "member"];
  permissions = ["read", "write"];
  "member" if "admin";
  "read" if "member";
  "write" if "admin";
}
allow(user: User, action: String, resource: Resource) if
  other_user matches User and
  has_permission(user, "impersonate", other_user) and
  is_impersonating(user, other_user) and
  has_permission(other_user, action, resource);
allow(user: User, action: String, resource: Resource) if
  has_permission(user, action, resource);
test "global support users can read user organizations via impersonation" {
  setup {
    has_role(User{"alice"}, "support");
    has_role(User{"bob"}, "admin", Organization{"acme"});
    has_role(User{"charlie"}, "member", Organization{"bar"});
    is_impersonating(User{"alice"}, User{"bob"});
  }
  assert allow(User{"bob"}, "read", Organization{"acme"});
  assert allow(User{"alice"}, "impersonate", User{"bob"});
  assert allow(User{"alice"}, "read", Organization{"acme"});
  assert allow(User{"charlie"}, "read", Organization{"bar"});
  assert_not allow(User{"alice"}, "read", Organization{"bar"});
}

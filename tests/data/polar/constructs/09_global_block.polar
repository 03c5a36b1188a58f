actor User {}
global {
  roles = ["admin", "member"];
  permissions = ["invite_member", "create_tenant"];
  "create_tenant" if "member";
  "member" if "admin";
  "invite_member" if "admin";
}
resource Organization {
  roles = ["internal_admin"];
  permissions = ["read"];
  "internal_admin" if global "admin";
  "read" if "internal_admin";
}
test "global roles" {
  setup { has_role(User{"root"}, "admin"); has_role(User{"m"}, "member"); }
  assert has_permission(User{"root"}, "invite_member");
  assert has_permission(User{"m"}, "create_tenant");
  assert_not has_permission(User{"m"}, "invite_member");
  assert allow(User{"root"}, "read", Organization{"o"});
  assert_not allow(User{"m"}, "read", Organization{"o"});
}

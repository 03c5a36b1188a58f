actor User {}
global {
  roles = ["admin"];
  permissions = ["audit"];
  "audit" if "admin";
}
resource Organization {
  permissions = ["read"];
  "read" if global "audit";
}
test "global permission referenced with global keyword" {
  setup { has_role(User{"root"}, "admin"); }
  assert allow(User{"root"}, "read", Organization{"o"});
}

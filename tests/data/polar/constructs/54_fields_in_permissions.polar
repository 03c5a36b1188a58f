actor User {}
resource Account {
  roles = ["member", "admin"];
  permissions = ["read", "username.read", "username.update", "email.read", "email.update"];
  "member" if "admin";
  "read" if "member";
  "username.read" if "member";
  "email.read" if "admin";
  "username.update" if "admin";
  "email.update" if "admin";
}
test "dot-named field permissions" {
  setup { has_role(User{"m"}, "member", Account{"a"}); }
  assert allow(User{"m"}, "username.read", Account{"a"});
  assert_not allow(User{"m"}, "email.read", Account{"a"});
}

actor User {}
resource Repository {
  permissions = ["read", "push"];
  roles = ["contributor", "maintainer"];
  "read" if "contributor";
  "push" if "maintainer";
}
test "permission if role" {
  setup { has_role(User{"a"}, "contributor", Repository{"r"}); }
  assert allow(User{"a"}, "read", Repository{"r"});
  assert_not allow(User{"a"}, "push", Repository{"r"});
  assert has_permission(User{"a"}, "read", Repository{"r"});
}

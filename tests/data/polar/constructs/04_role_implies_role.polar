actor User {}
resource Repository {
  permissions = ["read", "push"];
  roles = ["contributor", "maintainer"];
  "read" if "contributor";
  "push" if "maintainer";
  "contributor" if "maintainer";
}
test "role implication" {
  setup { has_role(User{"m"}, "maintainer", Repository{"r"}); }
  assert allow(User{"m"}, "read", Repository{"r"});
  assert has_role(User{"m"}, "contributor", Repository{"r"});
}

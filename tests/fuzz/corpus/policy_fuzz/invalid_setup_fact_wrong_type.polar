actor User {}
resource Repository {
  permissions = ["read"];
  "read" if is_public(resource);
}
test "bad type" {
  setup {
    is_public(User{"a"});
  }
  assert_not allow(User{"a"}, "read", Repository{"x"});
}

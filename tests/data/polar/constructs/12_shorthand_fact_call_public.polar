actor User { }
resource Repository {
  permissions = ["read"];
  "read" if is_public(resource);
}
test "public repositories" {
  setup { is_public(Repository{"anvil"}); }
  assert allow(User{"alice"}, "read", Repository{"anvil"});
  assert_not allow(User{"alice"}, "read", Repository{"private"});
}

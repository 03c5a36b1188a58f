actor User {}
actor Group {}
resource Repository { roles = ["reader"]; permissions = ["read"]; "read" if "reader"; }
has_role(user: User, role: String, resource: Resource) if
  group matches Group and
  has_group(user, group) and
  has_role(group, role, resource);
is_user(x) if x matches User;
test "group members can read repositories" {
  setup {
    has_role(Group{"anvil-readers"}, "reader", Repository{"anvil"});
    has_group(User{"alice"}, Group{"anvil-readers"});
  }
  assert allow(User{"alice"}, "read", Repository{"anvil"});
  assert is_user(User{"x"});
  assert_not is_user(Group{"x"});
}

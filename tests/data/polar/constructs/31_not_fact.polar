actor User {}
resource Doc { roles = ["reader"]; permissions = ["read"]; "read" if "reader"; }
allow(user, action, resource) if
  not is_banned(user) and
  has_permission(user, action, resource);
test "negated fact" {
  setup {
    has_role(User{"a"}, "reader", Doc{"d"});
    has_role(User{"b"}, "reader", Doc{"d"});
    is_banned(User{"b"});
  }
  assert allow(User{"a"}, "read", Doc{"d"});
  assert_not allow(User{"b"}, "read", Doc{"d"});
}

actor User {}
resource Doc { permissions = ["read"]; roles = ["reader"]; "read" if "reader"; }
allow(user: User, "special", doc: Doc) if vip(user, doc);
test "a custom allow rule replaces the default alias" {
  setup {
    vip(User{"v"}, Doc{"d"});
    has_role(User{"r"}, "reader", Doc{"d"});
  }
  assert allow(User{"v"}, "special", Doc{"d"});
  # Oso docs: once you write your own allow, has_permission is no longer aliased
  assert_not allow(User{"r"}, "read", Doc{"d"});
}

actor User {}
resource Doc { roles = ["reader"]; permissions = ["read"]; "read" if "reader"; }
test "two variables in one assertion" {
  setup { has_role(User{"a"}, "reader", Doc{"d"}); }
  assert allow(u: User, "read", d: Doc);
}

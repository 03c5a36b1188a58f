actor User {}
resource Doc { roles = ["reader"]; permissions = ["read"]; "read" if "reader"; }
test "a variable without iff (exists)" {
  setup { has_role(User{"a"}, "reader", Doc{"d"}); }
  assert allow(User{"a"}, action: String, Doc{"d"});
  assert_not allow(User{"b"}, action: String, Doc{"d"});
}

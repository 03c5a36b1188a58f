actor User {}
resource Item {
  roles = ["viewer"];
  permissions = ["view"];
  "view" if "viewer";
}
resource Document extends Item {}
test "extends: rules on Item apply to Document" {
  setup { has_role(User{"a"}, "viewer", Document{"d"}); }
  assert allow(User{"a"}, "view", Document{"d"});
}

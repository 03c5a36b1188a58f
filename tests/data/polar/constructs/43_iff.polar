actor User {}
resource Repository {
  roles = ["reader", "writer", "admin"];
  permissions = ["read", "write", "delete", "manage"];
  "read" if "reader";
  "write" if "writer";
  "reader" if "writer";
  "writer" if "admin";
  "delete" if "admin";
  "manage" if "admin";
}
test "iff with a typed variable" {
  setup { has_role(User{"w"}, "writer", Repository{"r"}); }
  assert allow(User{"w"}, action: String, Repository{"r"}) iff action in ["read", "write"];
}

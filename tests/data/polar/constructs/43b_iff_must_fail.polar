actor User {}
resource Repository {
  roles = ["writer"];
  permissions = ["read", "write", "delete"];
  "read" if "writer";
  "write" if "writer";
}
test "iff fails when the list is wrong" {
  setup { has_role(User{"w"}, "writer", Repository{"r"}); }
  assert allow(User{"w"}, action: String, Repository{"r"}) iff action in ["read"];
}

actor User {}
resource Folder {
  permissions = ["read", "write"];
  roles = ["writer"];
  "read" if "write";
  "write" if "writer";
}
test "permission implied by another permission" {
  setup { has_role(User{"w"}, "writer", Folder{"f"}); }
  assert allow(User{"w"}, "read", Folder{"f"});
}

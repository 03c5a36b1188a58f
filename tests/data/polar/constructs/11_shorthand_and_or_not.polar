actor User {}
resource Repository {
  roles = ["member", "admin"];
  permissions = ["write", "delete"];
  "write" if ("member" or "admin") and not is_archived(resource);
  "delete" if "admin" and is_owner(actor, resource);
}
test "compound shorthand bodies" {
  setup {
    has_role(User{"a"}, "member", Repository{"r"});
    has_role(User{"a"}, "member", Repository{"old"});
    is_archived(Repository{"old"});
    has_role(User{"b"}, "admin", Repository{"r"});
    is_owner(User{"b"}, Repository{"r"});
  }
  assert allow(User{"a"}, "write", Repository{"r"});
  assert_not allow(User{"a"}, "write", Repository{"old"});
  assert allow(User{"b"}, "delete", Repository{"r"});
}

actor User {}
resource Organization {
  roles = ["admin"];
  permissions = ["repository.read", "repository.delete"];
  "repository.read" if "admin";
}
resource Repository {
  permissions = ["read", "delete"];
  relations = { organization: Organization };
  "read" if "repository.read" on "organization";
  "delete" if "repository.delete" on "organization";
}
test "permission on related resource" {
  setup {
    has_role(User{"a"}, "admin", Organization{"o"});
    has_relation(Repository{"r"}, "organization", Organization{"o"});
  }
  assert allow(User{"a"}, "read", Repository{"r"});
  assert_not allow(User{"a"}, "delete", Repository{"r"});
}

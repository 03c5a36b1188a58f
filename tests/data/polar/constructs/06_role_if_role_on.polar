actor User {}
resource Organization { roles = ["member", "admin"]; }
resource Repository {
  roles = ["member", "admin"];
  permissions = ["read", "delete"];
  relations = { organization: Organization };
  role if role on "organization";
  "member" if "admin";
  "read" if "member";
  "delete" if "admin";
}
test "inherit all roles" {
  setup {
    has_role(User{"a"}, "admin", Organization{"o"});
    has_relation(Repository{"r"}, "organization", Organization{"o"});
  }
  assert allow(User{"a"}, "delete", Repository{"r"});
  assert has_role(User{"a"}, "admin", Repository{"r"});
}

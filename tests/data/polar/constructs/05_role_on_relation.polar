actor User {}
resource Organization { roles = ["internal_admin"]; }
resource Repository {
  permissions = ["push"];
  roles = ["maintainer"];
  relations = { parent: Organization };
  "push" if "maintainer";
  "maintainer" if "internal_admin" on "parent";
}
test "role on relation" {
  setup {
    has_role(User{"a"}, "internal_admin", Organization{"o"});
    has_relation(Repository{"r"}, "parent", Organization{"o"});
  }
  assert allow(User{"a"}, "push", Repository{"r"});
  assert_not allow(User{"a"}, "push", Repository{"other"});
}

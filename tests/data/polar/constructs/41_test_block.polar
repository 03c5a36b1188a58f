actor User {}
resource Organization {
  permissions = ["read"];
  roles = ["owner"];
  "read" if "owner";
}
resource Repository {
  permissions = ["push"];
  roles = ["maintainer"];
  relations = { parent: Organization };
  "maintainer" if "owner" on "parent";
  "push" if "maintainer";
}
test "owners can read organizations" {
  setup {
    has_role(User{"bob"}, "owner", Organization{"acme"});
  }
  assert allow(User{"bob"}, "read", Organization{"acme"});
  assert_not allow(User{"bob"}, "read", Organization{"bigco"});
}

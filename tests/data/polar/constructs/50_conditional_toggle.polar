actor User {}
resource Organization {
  roles = ["member", "admin"];
}
resource Repository {
  roles = ["member", "admin"];
  permissions = ["read", "delete"];
  relations = { organization: Organization };
  "member" if "admin";
  "read" if "member";
  "delete" if "admin";
  role if role on "organization" and not is_protected(resource);
  "admin" if "admin" on "organization";
}
test "toggle: roles inherited only on unprotected repositories" {
  setup {
    has_role(User{"alice"}, "member", Organization{"acme"});
    has_role(User{"ad"}, "admin", Organization{"acme"});
    has_relation(Repository{"open"}, "organization", Organization{"acme"});
    has_relation(Repository{"prot"}, "organization", Organization{"acme"});
    is_protected(Repository{"prot"});
    has_role(User{"inv"}, "member", Repository{"prot"});
  }
  assert allow(User{"alice"}, "read", Repository{"open"});
  assert_not allow(User{"alice"}, "read", Repository{"prot"});
  assert allow(User{"inv"}, "read", Repository{"prot"});
  assert allow(User{"ad"}, "delete", Repository{"prot"});
}

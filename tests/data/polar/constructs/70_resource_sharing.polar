actor User {}
resource Repository {
  roles = ["reader", "admin"];
  permissions = ["read", "invite"];
  "read" if "reader";
  "invite" if "admin";
  "reader" if "admin";
}
test "sharing via resource-specific role facts" {
  setup {
    has_role(User{"owner"}, "admin", Repository{"anvil"});
    has_role(User{"guest"}, "reader", Repository{"anvil"});
  }
  assert allow(User{"owner"}, "invite", Repository{"anvil"});
  assert allow(User{"guest"}, "read", Repository{"anvil"});
  assert_not allow(User{"guest"}, "invite", Repository{"anvil"});
  assert_not allow(User{"guest"}, "read", Repository{"other"});
}

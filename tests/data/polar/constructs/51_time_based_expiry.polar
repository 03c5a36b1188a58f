actor User { }
resource Repository {
  roles = ["member"];
  permissions = ["read"];
  "read" if "member";
}
has_role(actor: Actor, role: String, repo: Repository) if
  expiration matches Integer and
  has_role_with_expiry(actor, role, repo, expiration) and
  expiration > @current_unix_time;
test "access to repositories is conditional on expiry" {
  setup {
    has_role_with_expiry(User{"alice"}, "member", Repository{"anvil"}, 2002913298);
    has_role_with_expiry(User{"bob"}, "member", Repository{"anvil"}, 1655758135);
  }
  assert allow(User{"alice"}, "read", Repository{"anvil"});
  assert_not allow(User{"bob"}, "read", Repository{"anvil"});
}

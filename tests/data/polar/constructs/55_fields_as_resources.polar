actor User {}
resource Account {
  roles = ["member", "admin"];
  permissions = ["read", "update"];
  "read" if "update";
  "update" if "admin";
  "read" if "member";
}
resource Field {}
allow_field(user: User, "read", account: Account, field: Field) if
  field = Field{"username"} and has_permission(user, "read", account);
allow_field(user: User, action: String, account: Account, field: Field) if
  field in [Field{"username"}, Field{"email"}] and
  has_role(user, "admin", account) and action in ["read", "update"];
test "fields as resources" {
  setup {
    has_role(User{"m"}, "member", Account{"a"});
    has_role(User{"ad"}, "admin", Account{"a"});
  }
  assert allow_field(User{"m"}, "read", Account{"a"}, Field{"username"});
  assert_not allow_field(User{"m"}, "read", Account{"a"}, Field{"email"});
  assert allow_field(User{"ad"}, "update", Account{"a"}, Field{"email"});
}

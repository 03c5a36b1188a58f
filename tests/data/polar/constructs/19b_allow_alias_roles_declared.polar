actor User {}
resource Organization { roles = ["member"]; }
has_permission(user: User, "view", organization: Organization) if
  has_role(user, "member", organization);
test "same as 19 but with the role declared in the block" {
  setup { has_role(User{"alice"}, "member", Organization{"acme"}); }
  assert has_permission(User{"alice"}, "view", Organization{"acme"});
  assert allow(User{"alice"}, "view", Organization{"acme"});
  assert_not has_permission(User{"alice"}, "edit", Organization{"acme"});
}

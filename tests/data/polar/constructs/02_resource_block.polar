actor User {}
resource Repository {}
has_permission(u: User, "read", r: Repository) if reads(u, r);
test "resource block declares a type" {
  setup { reads(User{"a"}, Repository{"r"}); }
  assert allow(User{"a"}, "read", Repository{"r"});
}

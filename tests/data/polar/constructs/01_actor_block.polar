actor User {}
has_permission(u: User, "read", d: Doc) if owns(u, d);
resource Doc {}
test "actor block" {
  setup { owns(User{"a"}, Doc{"d"}); }
  assert allow(User{"a"}, "read", Doc{"d"});
}

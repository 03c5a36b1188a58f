actor User {}
resource Doc {}
has_permission(_: Actor, "read", d: Doc) if tagged(d, _);
test "wildcard _ in head and body" {
  setup { tagged(Doc{"d"}, "x"); }
  assert allow(User{"anyone"}, "read", Doc{"d"});
  assert_not allow(User{"anyone"}, "read", Doc{"untagged"});
}

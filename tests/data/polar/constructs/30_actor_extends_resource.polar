actor User {}
resource Doc {}
touch(a: Actor, r: Resource) if t(a, r);
test "an Actor is accepted where Resource is expected" {
  setup { t(User{"a"}, User{"b"}); }
  assert touch(User{"a"}, User{"b"});
}

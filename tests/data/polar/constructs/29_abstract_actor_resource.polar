actor User {}
actor Service {}
resource Doc {}
can(a: Actor, r: Resource) if grant(a, r);
test "Actor and Resource specializers" {
  setup { grant(User{"u"}, Doc{"d"}); grant(Service{"s"}, Doc{"d"}); }
  assert can(User{"u"}, Doc{"d"});
  assert can(Service{"s"}, Doc{"d"});
}

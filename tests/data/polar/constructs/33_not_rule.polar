actor User {}
resource Doc {}
blocked(user: User) if banned(user) or suspended(user);
can_view(user: User, doc: Doc) if viewer(user, doc) and not blocked(user);
test "negation of a rule defined in the policy" {
  setup { viewer(User{"a"}, Doc{"d"}); viewer(User{"b"}, Doc{"d"}); suspended(User{"b"}); }
  assert can_view(User{"a"}, Doc{"d"});
  assert_not can_view(User{"b"}, Doc{"d"});
}

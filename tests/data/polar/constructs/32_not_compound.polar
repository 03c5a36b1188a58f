actor User {}
resource Doc {}
can_view(user: User, doc: Doc) if viewer(user, doc) and not (banned(user) or hidden(doc));
test "negation of a compound expression" {
  setup { viewer(User{"a"}, Doc{"d"}); viewer(User{"a"}, Doc{"h"}); hidden(Doc{"h"}); }
  assert can_view(User{"a"}, Doc{"d"});
  assert_not can_view(User{"a"}, Doc{"h"});
}

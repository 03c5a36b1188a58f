actor User {}
resource Tag {}
resource Doc {}
declare has_tag(User, Tag);
declare has_tag(Doc, Tag);
test "two declares form a union type" {
  setup {
    has_tag(User{"alice"}, Tag{"t"});
    has_tag(Doc{"d"}, Tag{"t"});
  }
  assert has_tag(User{"alice"}, Tag{"t"});
  assert has_tag(Doc{"d"}, Tag{"t"});
}

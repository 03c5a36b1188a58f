actor User {}
resource Tag {}
declare has_tag(User, Tag);
test "declared fact usable in setup" {
  setup { has_tag(User{"alice"}, Tag{"is-cool"}); }
  assert has_tag(User{"alice"}, Tag{"is-cool"});
}

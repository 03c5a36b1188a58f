actor User {}
declare has_tag(User, Tag);
test "declare naming a type with no block" {
  setup { has_tag(User{"alice"}, Tag{"is-cool"}); }
  assert has_tag(User{"alice"}, Tag{"is-cool"});
}

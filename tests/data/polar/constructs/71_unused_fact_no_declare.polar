actor User {}
resource Tag {}
test "setup fact whose predicate is neither used nor declared" {
  setup { ar_frens(User{"alice"}, Tag{"x"}); }
  assert ar_frens(User{"alice"}, Tag{"x"});
}

family(a: String, b: String) if parent(a, b) or parent(b, a);
test "Polar ref family test" {
  setup {
    parent("Bernie", "Pat");
    parent("Bernie", "Morgan");
  }
  assert family("Bernie", "Pat");
  assert family("Morgan", "Bernie");
  assert_not family("Pat", "Morgan");
  assert_not family(true, "Morgan");
}

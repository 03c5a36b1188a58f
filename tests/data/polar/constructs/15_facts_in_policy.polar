parent("Bernie", "Pat");
parent("Bernie", "Morgan");
family(a: String, b: String) if parent(a, b) or parent(b, a);
test "facts written in the policy" {
  assert family("Bernie", "Pat");
  assert family("Morgan", "Bernie");
  assert_not family("Pat", "Morgan");
}

is_a(x) if x = "a";
same(x, y) if x = y;
test "unification" {
  assert is_a("a");
  assert_not is_a("A");
  assert same(1, 1);
  assert_not same("x", "X");
}

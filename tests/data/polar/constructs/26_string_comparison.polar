before(x: String, y: String) if x < y;
test "string ordering" {
  assert before("a", "b");
  assert_not before("b", "a");
}

eq(x, y) if x == y;
differs(x: String, y: String) if x != y;
test "== and !=" {
  assert eq(3, 3);
  assert_not eq(3, 4);
  assert differs("a", "b");
  assert_not differs("a", "a");
}

within(lower: Integer, upper: Integer, x: Integer) if lower < x and x < upper;
test "typed params" {
  assert within(1, 10, 5);
  assert_not within(1, 10, 10);
  assert_not within("a", 10, 5);
}

lt(x: Integer, y: Integer) if x < y;
le(x: Integer, y: Integer) if x <= y;
gt(x: Integer, y: Integer) if x > y;
ge(x: Integer, y: Integer) if x >= y;
test "integer comparisons" {
  assert lt(1, 2); assert_not lt(2, 2);
  assert le(2, 2); assert_not le(3, 2);
  assert gt(3, 2); assert_not gt(2, 2);
  assert ge(2, 2); assert_not ge(1, 2);
  assert lt(-5, 0);
  assert gt(9223372036854775807, 0);
}

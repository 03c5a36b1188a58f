ok(x) if x in ["a", "b", 3];
test "in list" {
  assert ok("a");
  assert ok(3);
  assert_not ok("c");
}

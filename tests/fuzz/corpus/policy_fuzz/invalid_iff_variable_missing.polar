ok(x) if base(x);
test "iff" {
  assert ok(y) iff z in [1, 2];
}

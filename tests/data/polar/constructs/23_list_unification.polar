second_is_b(x) if ["a", "b"] = [x, "b"];
test "list unification" {
  assert second_is_b("a");
  assert_not second_is_b("c");
}

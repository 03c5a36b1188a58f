q(x) if x = "a \"quoted\" word";
test "escaped quote in a string" {
  assert q("a \"quoted\" word");
}

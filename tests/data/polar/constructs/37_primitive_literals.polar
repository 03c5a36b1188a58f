is_string_a(x: String) if x = "a";
flag(x: Boolean) if x = true;
neg(x: Integer) if x = -3;
test "primitive literals and object-literal form" {
  assert is_string_a("a");
  assert is_string_a(String{"a"});
  assert flag(true);
  assert flag(Boolean{true});
  assert_not flag(false);
  assert neg(-3);
  assert neg(Integer{-3});
}

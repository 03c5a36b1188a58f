actor User {}
is_alice(u: User) if u = User{"alice"};
test "String unification is case sensitive" {
  assert is_alice(User{"alice"});
  assert_not is_alice(User{"Alice"});
}

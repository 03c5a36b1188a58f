actor User {}
resource Dog {}
resource Rabbit {}
declare are_friends(User, Dog);
test "type-mismatched fact" {
  setup { are_friends(User{"alice"}, Rabbit{"peter"}); }
  assert are_friends(User{"alice"}, Rabbit{"peter"});
}

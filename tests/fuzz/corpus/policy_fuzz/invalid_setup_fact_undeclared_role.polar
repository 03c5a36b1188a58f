actor User {}
resource Repository {
  roles = ["reader", "maintainer"];
}
test "bad role" {
  setup {
    has_role(User{"bob"}, "owner", Repository{"x"});
  }
  assert_not allow(User{"bob"}, "read", Repository{"x"});
}

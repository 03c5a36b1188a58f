# a leading comment
actor User {} # trailing comment
resource Doc {
  # comment inside a block
  permissions = ["read"]; # after a declaration
  roles = ["reader"];
  "read" if "reader"; # after a shorthand rule
}
test "comments" {
  # comment in a test
  setup {
    # comment in setup
    has_role(User{"a"}, "reader", Doc{"d"});
  }
  assert allow(User{"a"}, "read", Doc{"d"}); # trailing
}

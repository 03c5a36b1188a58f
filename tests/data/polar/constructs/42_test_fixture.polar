actor User {}
resource Doc { roles = ["reader"]; permissions = ["read"]; "read" if "reader"; }
test fixture readers {
  has_role(User{"ann"}, "reader", Doc{"a"});
}
test "fixture in setup" {
  setup {
    fixture readers;
    has_role(User{"bob"}, "reader", Doc{"b"});
  }
  assert allow(User{"ann"}, "read", Doc{"a"});
  assert allow(User{"bob"}, "read", Doc{"b"});
}

actor User {}
resource Repository {
  roles = ["admin"];
  permissions = ["delete"];
  relations = { creator: User };
  "admin" if "creator";
  "delete" if "admin";
}
test "relation used as role (ownership)" {
  setup { has_relation(Repository{"r"}, "creator", User{"a"}); }
  assert allow(User{"a"}, "delete", Repository{"r"});
  assert_not allow(User{"b"}, "delete", Repository{"r"});
}

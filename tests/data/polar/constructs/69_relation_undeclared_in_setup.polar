actor User {}
resource Organization {}
resource Repository { relations = { parent: Organization }; }
test "has_relation with an undeclared relation name" {
  setup { has_relation(Repository{"r"}, "owner", Organization{"o"}); }
  assert has_relation(Repository{"r"}, "owner", Organization{"o"});
}

actor User { }
actor Group { }
resource Repository {
  roles = ["reader"];
  permissions = ["read"];
  "read" if "reader";
}
has_role(user: User, role: String, resource: Resource) if
  group matches Group and
  has_group(user, group) and
  has_role(group, role, resource);
has_group(user: User, group: Group) if
  g matches Group and
  has_group(user, g) and
  has_group(g, group);
test "nested groups" {
  setup {
    has_role(Group{"eng"}, "reader", Repository{"anvil"});
    has_group(Group{"backend"}, Group{"eng"});
    has_group(User{"alice"}, Group{"backend"});
  }
  assert allow(User{"alice"}, "read", Repository{"anvil"});
  assert_not allow(User{"bob"}, "read", Repository{"anvil"});
}

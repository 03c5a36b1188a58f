# Groups: users belong to groups (has_group facts); a group's roles on a
# document hold for its members through a plain has_role rule.
actor User {}
actor Group {}

resource Document {
  roles = ["viewer", "editor"];
  permissions = ["read", "write"];

  "read" if "viewer";
  "write" if "editor";
  "viewer" if "editor";
}

has_role(user: User, role: String, doc: Document) if
  group matches Group and
  has_group(user, group) and
  has_role(group, role, doc);

test "members inherit their group's roles" {
  setup {
    has_group(User{"ann"}, Group{"writers"});
    has_role(Group{"writers"}, "editor", Document{"spec"});
  }
  assert allow(User{"ann"}, "write", Document{"spec"});
  assert allow(User{"ann"}, "read", Document{"spec"});
  assert has_role(User{"ann"}, "editor", Document{"spec"});
  assert allow(Group{"writers"}, "write", Document{"spec"});
  assert_not allow(User{"bob"}, "read", Document{"spec"});
  assert_not allow(User{"ann"}, "read", Document{"other"});
}

test "direct roles and group roles combine" {
  setup {
    has_group(User{"cy"}, Group{"readers"});
    has_role(Group{"readers"}, "viewer", Document{"spec"});
    has_role(User{"cy"}, "editor", Document{"notes"});
  }
  assert allow(User{"cy"}, "read", Document{"spec"});
  assert_not allow(User{"cy"}, "write", Document{"spec"});
  assert allow(User{"cy"}, "write", Document{"notes"});
  assert allow(User{"cy"}, "read", d: Document) iff d in [Document{"notes"}, Document{"spec"}];
}
